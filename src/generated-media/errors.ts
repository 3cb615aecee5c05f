// The one error the generator throws for bad input: the message says what is wrong and `path`
// says where (a JSON pointer into the input document), so the daemon can answer with a named
// D-Bus error and Redfish with a 400 whose RelatedProperties point at the property.

export class GeneratedMediaError extends Error {
  constructor(
    message: string,
    /** JSON pointer of the bad property, e.g. "/meta_data/hostname"; "" for the whole document. */
    readonly path: string,
  ) {
    super(path === '' ? message : `${path}: ${message}`);
    this.name = 'GeneratedMediaError';
  }
}

/** A JSON pointer of the given property names and array indexes (RFC 6901 escaping). */
export function jsonPointer(...tokens: (string | number)[]): string {
  return tokens.map((t) => `/${String(t).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
