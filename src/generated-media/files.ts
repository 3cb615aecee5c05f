// The files of an image: what a layout writes plus the input's extra files, checked as one set.
// ISO 9660 (Joliet) and FAT both compare names without case, so two paths that differ only in
// case are duplicates here too: the same document must build on either target.
import { GeneratedMediaError, jsonPointer } from './errors.js';
import type { ExtraFile } from './schema.js';
import { MAX_GENERATED_MEDIA_INPUT_BYTES } from './input-limit.js';

export interface MediaFile {
  /** Relative to the image root, '/'-separated. */
  path: string;
  content: Buffer;
  /** JSON pointer of the input property this file comes from, for errors; "" for layout files. */
  source: string;
}

export function layoutFile(path: string, content: string | Buffer): MediaFile {
  return { path, content: typeof content === 'string' ? Buffer.from(content, 'utf8') : content, source: '' };
}

/** The bytes of base64 text (RFC 4648 with padding; line breaks and blanks, as `base64` wraps
 *  its output, are ignored): what decodes and encodes back to the same characters. */
function base64Bytes(text: string, pointer: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact)
    throw new GeneratedMediaError('must be base64 text (RFC 4648, padded)', pointer);
  return bytes;
}

export function extraFiles(files: ExtraFile[] | undefined): MediaFile[] {
  return (files ?? []).map((f, i) => ({
    path: f.path,
    content:
      f.content !== undefined
        ? Buffer.from(f.content, 'utf8')
        : base64Bytes(f.content_base64 ?? '', jsonPointer('files', i, 'content_base64')),
    source: jsonPointer('files', i, 'path'),
  }));
}

/** The files sorted by path, after checking that no two share a path (ignoring case), that no file
 *  stands where another needs a directory, and that the contents fit the size limit. */
export function checkedFileSet(files: MediaFile[]): MediaFile[] {
  const byKey = new Map<string, MediaFile>();
  const dirs = new Map<string, MediaFile>();
  let total = 0;
  for (const f of files) {
    const key = f.path.toLowerCase();
    const clash = byKey.get(key) ?? dirs.get(key);
    if (clash)
      throw new GeneratedMediaError(
        `${f.path} is already ${clash.source ? `given by ${clash.source}` : 'written by the layout'}`,
        f.source || clash.source,
      );
    byKey.set(key, f);
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const file = byKey.get(dir);
      if (file) throw new GeneratedMediaError(`${dir} is a file, so it cannot hold ${f.path}`, f.source || file.source);
      if (!dirs.has(dir)) dirs.set(dir, f);
    }
    total += f.content.length;
  }
  if (total > MAX_GENERATED_MEDIA_INPUT_BYTES)
    throw new GeneratedMediaError(
      `the image's files would hold ${total} bytes, more than the ${MAX_GENERATED_MEDIA_INPUT_BYTES} allowed`,
      '',
    );
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
