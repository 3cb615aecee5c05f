// The gateway page's HTTP client: same-origin requests with the bearer token the operator signed
// in with. The token lives in sessionStorage (this tab only, gone when it closes) and travels only
// in the Authorization header, never in a URL. Errors come back as ApiError with the gateway's
// {"error":{"code","message"}} text.
import { ApiError, apiErrorOf } from '../redfish-error.js';

const TOKEN_KEY = 'vmedia-gateway-token';

export interface ImageInfo {
  id: string;
  name: string;
  size: number;
  sha256: string;
  created: string;
  createdBy: string;
}

export interface BmcInfo {
  name: string;
  redfishUrl: string;
  username: string;
  createdAt: string;
  createdBy: string;
}

export interface AttachmentInfo {
  id: string;
  bmc: string;
  device: string;
  /** null: an image this token may not see (docs/gateway.md, per-image ACLs). */
  imageId: string | null;
  state: string;
  bytesServed: number;
  /** Made at the start, removed at the end (RFC 3339). */
  window: { start: string; end: string } | null;
  /** The boot override and reset after the insert, when asked for. */
  boot: 'requested' | 'done' | 'failed' | null;
  error: string | null;
  errorCount: number;
  createdBy: string;
  updatedAt: string;
}

export interface AttachRequest {
  bmc: string;
  device: string;
  image: string;
  window?: { start: string; end: string };
  boot?: boolean;
}

function bodyOf(text: string, type: string): unknown {
  if (!type.includes('json')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export class GatewayApi {
  /** Called when the token stopped working (revoked, gateway restarted with other tokens). */
  onUnauthorized: () => void = () => {};

  get signedIn(): boolean {
    return sessionStorage.getItem(TOKEN_KEY) !== null;
  }

  /** Keeps the token once the gateway has accepted it (a reader's GET is the least any token may do). */
  async signIn(token: string): Promise<void> {
    await this.request('GET', '/api/images', undefined, token);
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  async images(): Promise<ImageInfo[]> {
    return ((await this.request('GET', '/api/images')) as { images: ImageInfo[] }).images;
  }

  async bmcs(): Promise<BmcInfo[]> {
    return ((await this.request('GET', '/api/bmcs')) as { bmcs: BmcInfo[] }).bmcs;
  }

  async attachments(states: readonly string[]): Promise<AttachmentInfo[]> {
    const query = `?state=${states.map(encodeURIComponent).join(',')}`;
    return ((await this.request('GET', `/api/attachments${query}`)) as { attachments: AttachmentInfo[] }).attachments;
  }

  async deleteImage(id: string): Promise<void> {
    await this.request('DELETE', `/api/images/${encodeURIComponent(id)}`);
  }

  async attach(body: AttachRequest): Promise<AttachmentInfo> {
    return (await this.request('POST', '/api/attachments', body)) as AttachmentInfo;
  }

  async detach(id: string): Promise<void> {
    await this.request('DELETE', `/api/attachments/${encodeURIComponent(id)}`);
  }

  /** Opens a resumable upload session (`/api/uploads`) for `size` bytes to become image `name`. */
  async openUpload(name: string, size: number): Promise<string> {
    const query = `?name=${encodeURIComponent(name)}&size=${size}`;
    return ((await this.request('POST', `/api/uploads${query}`)) as { id: string }).id;
  }

  /** Where the session stands: the bytes the gateway has (after a piece was cut off). */
  async uploadOffset(id: string): Promise<number> {
    return ((await this.request('GET', `/api/uploads/${encodeURIComponent(id)}`)) as { offset: number }).offset;
  }

  /** Appends `piece` at `offset`; XMLHttpRequest, as fetch() reports no upload progress. */
  uploadPiece(id: string, offset: number, piece: Blob, onProgress: (sent: number) => void): Promise<void> {
    const xhr = new XMLHttpRequest();
    xhr.open('PATCH', `/api/uploads/${encodeURIComponent(id)}`);
    this.headers(sessionStorage.getItem(TOKEN_KEY), 'application/offset+octet-stream').forEach((v, k) =>
      xhr.setRequestHeader(k, v),
    );
    xhr.setRequestHeader('Upload-Offset', String(offset));
    xhr.responseType = 'text';
    xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    return new Promise((resolve, reject) => {
      xhr.onerror = () => reject(new ApiError(0, 'The gateway did not answer.'));
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        const body = bodyOf(xhr.responseText, xhr.getResponseHeader('Content-Type') ?? '');
        reject(this.failure(xhr.status, xhr.statusText, body));
      };
      xhr.send(piece);
    });
  }

  /** Makes the session an image once the gateway found the bytes have this sha256 (422 otherwise). */
  async finishUpload(id: string, sha256: string): Promise<ImageInfo> {
    const path = `/api/uploads/${encodeURIComponent(id)}?digest=sha256:${sha256}`;
    return (await this.request('PUT', path)) as ImageInfo;
  }

  async cancelUpload(id: string): Promise<void> {
    await this.request('DELETE', `/api/uploads/${encodeURIComponent(id)}`);
  }

  private headers(token: string | null, contentType?: string): Headers {
    const headers = new Headers({ Accept: 'application/json' });
    if (token) headers.set('Authorization', `Bearer ${token}`);
    if (contentType) headers.set('Content-Type', contentType);
    return headers;
  }

  private failure(status: number, statusText: string, body: unknown): ApiError {
    // a token being tried at sign-in is not stored yet: its 401 is the sign-in form's to show
    if (status === 401 && this.signedIn) this.onUnauthorized();
    return apiErrorOf(status, statusText, body);
  }

  private async request(
    method: string,
    path: string,
    body?: object,
    token = sessionStorage.getItem(TOKEN_KEY),
  ): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(token, body === undefined ? undefined : 'application/json'),
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, `The gateway did not answer (${(err as Error).message}).`);
    }
    const parsed = bodyOf(await res.text(), res.headers.get('Content-Type') ?? '');
    if (res.ok) return parsed;
    throw this.failure(res.status, res.statusText, parsed);
  }
}
