// The text to show for a failed request: the DMTF error body's messages (Redfish spec §9.6),
// falling back to the HTTP status when the body is not a Redfish error.

interface ExtendedInfo {
  Message?: unknown;
  Resolution?: unknown;
}
interface ErrorBody {
  error?: { message?: unknown; '@Message.ExtendedInfo'?: ExtendedInfo[] };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** What the service suggests doing about it ("None." is dropped). */
    readonly resolution?: string,
    /** Seconds to wait before retrying (429), from Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

export function apiErrorOf(status: number, statusText: string, body: unknown, retryAfter?: string): ApiError {
  const error = (body as ErrorBody | null)?.error;
  const infos = Array.isArray(error?.['@Message.ExtendedInfo']) ? error['@Message.ExtendedInfo'] : [];
  const messages = infos.map((i) => text(i?.Message)).filter((m): m is string => m !== undefined);
  const resolutions = infos
    .map((i) => text(i?.Resolution))
    .filter((r): r is string => r !== undefined && r !== 'None.');
  const message = messages.length > 0 ? messages.join(' ') : (text(error?.message) ?? `${status} ${statusText}`.trim());
  const wait = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return new ApiError(status, message, resolutions.length > 0 ? resolutions.join(' ') : undefined, wait);
}
