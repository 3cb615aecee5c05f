// Checks the input document before anything is built: its size, its shape (the ajv schema) and
// the rules no schema keyword states. The first problem found becomes a GeneratedMediaError with
// the JSON pointer of the property.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { GeneratedMediaError, jsonPointer } from './errors.js';
import { MAX_GENERATED_MEDIA_INPUT_BYTES } from './input-limit.js';
import { inputSchema, type GeneratedMediaInput } from './schema.js';

/** Compiled on first use: the daemon and the web load this module at start, and most of them
 *  never build a medium (an idle daemon's heap, docs/performance.md). */
let compiled: ValidateFunction<GeneratedMediaInput> | undefined;
const validateSchema = () =>
  (compiled ??= new Ajv({
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  }).compile<GeneratedMediaInput>(inputSchema));

/** The property an ajv error is about: for a missing or unknown property, the property itself. */
function errorPath(e: ErrorObject): string {
  const params = e.params as { missingProperty?: string; additionalProperty?: string };
  if (e.keyword === 'required' && params.missingProperty !== undefined)
    return e.instancePath + jsonPointer(params.missingProperty);
  if (e.keyword === 'additionalProperties' && params.additionalProperty !== undefined)
    return e.instancePath + jsonPointer(params.additionalProperty);
  return e.instancePath;
}

function errorMessage(e: ErrorObject): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'additionalProperties') return 'is not a known property';
  if (e.keyword === 'false schema') return 'is not allowed for this format';
  if (e.keyword === 'enum')
    return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'oneOf') return 'needs exactly one of content and content_base64';
  if (e.keyword === 'pattern' && e.instancePath.endsWith('/path'))
    return 'must be a relative path of names made of A-Z a-z 0-9 . _ + - (not starting or ending with ".", at most 62 characters each, 8 levels)';
  if (e.keyword === 'pattern') return `has a character or form that is not allowed (${e.params.pattern as string})`;
  return e.message ?? 'is not valid';
}

/** The most useful error first: ajv reports an `if` failure beside the errors behind it, and a
 *  `oneOf` failure after the errors of each branch; the `oneOf` says what is wrong. */
function firstProblem(errors: ErrorObject[]): ErrorObject {
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  const meaningful = errors.filter((e) => e.keyword !== 'if' && !oneOfs.some((p) => e.schemaPath.startsWith(p)));
  return meaningful[0] ?? errors[0]!;
}

/** Deeper than any cloud-config or network config goes; it bounds the YAML writer's recursion. */
const MAX_DEPTH = 32;

/** The pointer of the first value nested deeper than MAX_DEPTH, if any. */
function tooDeep(value: unknown, pointer: string, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_DEPTH) return pointer;
  for (const [key, child] of Object.entries(value)) {
    const found = tooDeep(child, pointer + jsonPointer(key), depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function serializedSize(input: unknown): number {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (err) {
    throw new GeneratedMediaError(`is not a JSON document: ${(err as Error).message}`, '');
  }
  if (text === undefined) throw new GeneratedMediaError('is not a JSON document', '');
  return Buffer.byteLength(text);
}

export function validateInput(input: unknown): GeneratedMediaInput {
  const size = serializedSize(input);
  if (size > MAX_GENERATED_MEDIA_INPUT_BYTES)
    throw new GeneratedMediaError(`is ${size} bytes, more than the ${MAX_GENERATED_MEDIA_INPUT_BYTES} allowed`, '');
  const deep = tooDeep(input, '', 0);
  if (deep !== undefined) throw new GeneratedMediaError(`nests deeper than ${MAX_DEPTH} levels`, deep);
  const validate = validateSchema();
  if (!validate(input)) {
    const e = firstProblem(validate.errors ?? []);
    throw new GeneratedMediaError(errorMessage(e), errorPath(e));
  }
  return input;
}
