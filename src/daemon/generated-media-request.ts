// The JSON document of a GeneratedMedia.Mount, as it arrives on the caller's fd: at most 8 MiB
// of UTF-8 JSON, optionally ended by a NUL byte (a sender that keeps its FIFO open ends the
// message that way: JSON text never holds a raw NUL). The generator validates the rest.
// not the generator's index: the daemon loads the generator only when it builds a medium
import { GeneratedMediaError } from '../generated-media/errors.js';
import { MAX_GENERATED_MEDIA_INPUT_BYTES } from '../generated-media/input-limit.js';
import { readFdPayload } from './fd-payload.js';

/** How long a sender may take to write the whole document. */
const READ_WAIT_MS = 10_000;

/** Reads the document on fd (then closes it); rejects with MountError (fd) or GeneratedMediaError. */
export async function readGeneratedMediaDocument(fd: number): Promise<unknown> {
  const bytes = await readFdPayload(fd, {
    what: 'JSON',
    maxBytes: MAX_GENERATED_MEDIA_INPUT_BYTES,
    waitMs: READ_WAIT_MS,
    completes: (chunk) => chunk.includes(0),
  });
  try {
    return parseGeneratedMediaDocument(bytes);
  } finally {
    bytes.fill(0);
  }
}

export function parseGeneratedMediaDocument(bytes: Uint8Array): unknown {
  const nul = bytes.indexOf(0);
  const text = nul === -1 ? bytes : bytes.subarray(0, nul);
  if (text.length > MAX_GENERATED_MEDIA_INPUT_BYTES) {
    throw new GeneratedMediaError(`the document is larger than ${MAX_GENERATED_MEDIA_INPUT_BYTES} bytes`, '');
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (err) {
    // the parser's message quotes the document (secrets): only the kind of fault is told
    throw new GeneratedMediaError(
      `cannot read the document: ${err instanceof SyntaxError ? 'it is not valid JSON' : 'it is not UTF-8'}`,
      '',
    );
  }
}
