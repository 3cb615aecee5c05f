// Checks a JSON request body against the properties a resource or action accepts: unknown names,
// wrong types and missing required ones become the DMTF message that names the property.
import { redfishError } from './messages.js';

export type FieldType = 'string' | 'boolean';

export interface BodySpec {
  fields: Record<string, FieldType>;
  required?: string[];
  /** Set for action parameters: unknown names are ActionParameterUnknown instead of PropertyUnknown. */
  action?: string;
  /** Fields whose values must never be echoed back (passwords). */
  secret?: string[];
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? 'undefined' : JSON.stringify(value);
}

export function checkBody(body: unknown, spec: BodySpec): Record<string, string | boolean | undefined> {
  const obj = body === undefined ? {} : body;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw redfishError(400, 'MalformedJSON', [], { resolution: 'The request body must be a JSON object.' });
  }
  const out: Record<string, string | boolean | undefined> = {};
  for (const [key, value] of Object.entries(obj)) {
    const type = spec.fields[key];
    if (!type) {
      throw spec.action
        ? redfishError(400, 'ActionParameterUnknown', [spec.action, key], { related: [`#/${key}`] })
        : redfishError(400, 'PropertyUnknown', [key], { related: [`#/${key}`] });
    }
    if (typeof value !== type) {
      const shown = spec.secret?.includes(key) ? '<hidden>' : show(value);
      throw redfishError(400, 'PropertyValueTypeError', [shown, key], {
        related: [`#/${key}`],
        resolution: `The property ${key} must be a ${type}.`,
      });
    }
    out[key] = value as string | boolean;
  }
  for (const key of spec.required ?? []) {
    if (out[key] === undefined) throw redfishError(400, 'PropertyMissing', [key], { related: [`#/${key}`] });
  }
  return out;
}
