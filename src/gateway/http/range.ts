// Serving bytes (a file's, or a source's) with HTTP Range (RFC 9110 §14): one range per request (a multi-range
// request gets the whole file, which the RFC allows), 416 for a range past the end.
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** The range asked for, 'unsatisfiable', or undefined for the whole file. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return end < start ? undefined : { start, end };
}

/** Bytes served by Range: a file's, or a remote source's fetched per read. */
export interface RangeContent {
  size: number;
  mediaType: string;
  etag: string;
  /** The bytes `start`..`end` (inclusive); it may fail before a byte is sent (the answer is then an error). */
  open(start: number, end: number): Readable | Promise<Readable>;
}

/** A file's bytes as RangeContent. */
export function fileContent(file: { path: string; size: number; mediaType: string; etag: string }): RangeContent {
  return { ...file, open: (start, end) => createReadStream(file.path, { start, end, highWaterMark: 256 * 1024 }) };
}

/**
 * Answers GET or HEAD with the content's bytes (or the asked range) and resolves to the number of
 * body bytes sent, when the response is done or the client went away.
 */
export async function sendRange(req: IncomingMessage, res: ServerResponse, content: RangeContent): Promise<number> {
  const range = parseRange(req.headers.range, content.size);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', `"${content.etag}"`);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${content.size}` }).end();
    return 0;
  }
  const { start, end } = range ?? { start: 0, end: content.size - 1 };
  const length = content.size === 0 ? 0 : end - start + 1;
  // opened before the status line, so that a source that fails answers an error, not a short body
  const body = req.method === 'HEAD' || length === 0 ? undefined : await content.open(start, end);
  res.writeHead(range ? 206 : 200, {
    'Content-Type': content.mediaType,
    'Content-Length': String(length),
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${content.size}` } : {}),
  });
  if (!body) {
    res.end();
    return 0;
  }
  let sent = 0;
  body.on('data', (chunk: Buffer) => (sent += chunk.length));
  try {
    await pipeline(body, res);
  } catch {
    // the client closed the connection (or the source did): what was sent is counted
  }
  return sent;
}
