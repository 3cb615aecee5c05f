// A JSON object written as `#cloud-config` YAML in block style, for people who open the file on
// the host. cloud-init reads it with PyYAML (YAML 1.1), so scalars are written the way YAML 1.1
// reads them back unchanged: strings that a plain scalar could turn into something else
// (`on`, `no`, `1e3`, `null`) are quoted, and PEM blocks become literal blocks.

/** Characters PyYAML refuses in a stream or reads as line breaks, which JSON.stringify leaves as
 *  they are (it escapes C0 controls and lone surrogates itself): escaped in quoted scalars. */
const NEEDS_ESCAPE = /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g;
/** Plain scalars that YAML 1.1 reads as text: names, paths and host names. */
const PLAIN_SAFE = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
/** YAML 1.1 booleans and null, which a plain scalar would turn into one. */
const YAML11_WORDS = /^(y|yes|n|no|true|false|on|off|null)$/i;
/** Text a literal block keeps as it is: printable, no carriage return, no trailing blanks, a first
 *  line that does not start with a blank (its indentation would be taken for the block's). */
const LITERAL_SAFE =
  // eslint-disable-next-line no-control-regex
  /^(?![ \t\n])(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff \t]|[ \t](?![ \t]*(\n|$)))*$/;

/** A UTF-16 surrogate without its pair: UTF-8 cannot hold it, so only an escape keeps it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function quoted(text: string): string {
  return JSON.stringify(text).replace(NEEDS_ESCAPE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function scalarText(text: string): string {
  return PLAIN_SAFE.test(text) && !YAML11_WORDS.test(text) ? text : quoted(text);
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`${n} is not a JSON number`);
  const text = String(n);
  // YAML 1.1 floats need a dot before the exponent
  return /e/.test(text) && !text.includes('.') ? text.replace('e', '.0e') : text;
}

/** `|`, `|-` or `|+` and the lines of a literal block, or undefined when the text needs quotes. */
function literalBlock(text: string, indent: string): string[] | undefined {
  if (!text.includes('\n') || !LITERAL_SAFE.test(text) || LONE_SURROGATE.test(text)) return undefined;
  const body = text.replace(/\n+$/, '');
  const trailing = text.length - body.length;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  const lines = body.split('\n').map((l) => (l === '' ? '' : indent + l));
  return [`|${chomp}`, ...lines, ...Array<string>(Math.max(0, trailing - 1)).fill('')];
}

/** Appends the lines of `value` as a block node to `out`: the first goes after `head` ("key:" or
 *  "-"), nested content is indented by `indent`. */
function emit(value: unknown, head: string, indent: string, out: string[]): void {
  if (value === null) out.push(`${head} null`);
  else if (typeof value === 'boolean') out.push(`${head} ${value}`);
  else if (typeof value === 'number') out.push(`${head} ${numberText(value)}`);
  else if (typeof value === 'string') {
    const block = literalBlock(value, indent);
    if (block) out.push(`${head} ${block[0]}`, ...block.slice(1));
    else out.push(`${head} ${scalarText(value)}`);
  } else if (Array.isArray(value)) {
    if (value.length === 0) out.push(`${head} []`);
    else {
      out.push(head);
      for (const item of value) emit(item, `${indent}-`, `${indent}  `, out);
    }
  } else if (typeof value === 'object') {
    if (Object.keys(value).length === 0) out.push(`${head} {}`);
    else {
      out.push(head);
      emitMapping(value as Record<string, unknown>, indent, out);
    }
  } else throw new TypeError(`a ${typeof value} is not a JSON value`);
}

function emitMapping(object: Record<string, unknown>, indent: string, out: string[]): void {
  for (const [key, value] of Object.entries(object)) emit(value, `${indent}${scalarText(key)}:`, `${indent}  `, out);
}

/** `#cloud-config` followed by the object in YAML. */
export function cloudConfigText(config: Record<string, unknown>): string {
  const out = ['#cloud-config'];
  emitMapping(config, '', out);
  return out.join('\n') + '\n';
}

/** YAML of an object without a header line (NoCloud meta-data). */
export function yamlText(object: Record<string, unknown>): string {
  const out: string[] = [];
  emitMapping(object, '', out);
  return out.join('\n') + '\n';
}
