// An attachment's time window as the API takes it: {start, end} in RFC 3339 (a date, a time and
// an offset or Z), the end after the start and still to come. A start in the past attaches now.
import { badRequest } from '../errors.js';

export interface AttachmentWindow {
  /** ms since the epoch */
  start: number;
  end: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Date.parse takes 2026-02-30 as March 2nd: the day must exist in its month. */
function dayExists(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function instant(value: unknown, key: string): number {
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  const ms = m && dayExists(Number(m[1]), Number(m[2]), Number(m[3])) ? Date.parse(value as string) : NaN;
  if (Number.isNaN(ms))
    throw badRequest(`window.${key}: an RFC 3339 date and time with an offset, e.g. 2026-01-31T22:00:00Z`);
  return ms;
}

/** The window of a request body, undefined when it has none; a bad one is a 400. */
export function parseWindow(value: unknown, now: number): AttachmentWindow | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('window: an object {start, end}');
  const extra = Object.keys(value).filter((k) => k !== 'start' && k !== 'end');
  if (extra.length > 0) throw badRequest(`window: unknown ${extra.join(', ')} (only start and end)`);
  const { start: startText, end: endText } = value as Record<string, unknown>;
  const start = instant(startText, 'start');
  const end = instant(endText, 'end');
  if (end <= start) throw badRequest('window: the end must be after the start');
  if (end <= now) throw badRequest('window: the end has passed');
  return { start, end };
}
