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

/** The lines of `value` as a block node whose content starts at `indent`; the first line is to be
 *  appended after "key:" or "-" by the caller (it begins with a space or is empty). */
function node(value: unknown, indent: string): string[] {
  if (value === null) return [' null'];
  if (typeof value === 'boolean') return [` ${value}`];
  if (typeof value === 'number') return [` ${numberText(value)}`];
  if (typeof value === 'string') {
    const block = literalBlock(value, indent);
    return block ? [` ${block[0]}`, ...block.slice(1)] : [` ${scalarText(value)}`];
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return [' []'];
    return ['', ...value.flatMap((item) => entry(`${indent}-`, item, `${indent}  `))];
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return [' {}'];
    return ['', ...mapping(value as Record<string, unknown>, indent)];
  }
  throw new TypeError(`a ${typeof value} is not a JSON value`);
}

function entry(head: string, value: unknown, indent: string): string[] {
  const [first, ...rest] = node(value, indent);
  return [head + first, ...rest];
}

function mapping(object: Record<string, unknown>, indent: string): string[] {
  return Object.entries(object).flatMap(([key, value]) => entry(`${indent}${scalarText(key)}:`, value, `${indent}  `));
}

/** `#cloud-config` followed by the object in YAML. */
export function cloudConfigText(config: Record<string, unknown>): string {
  return ['#cloud-config', ...mapping(config, '')].join('\n') + '\n';
}

/** YAML of an object without a header line (NoCloud meta-data). */
export function yamlText(object: Record<string, unknown>): string {
  return mapping(object, '').join('\n') + '\n';
}
