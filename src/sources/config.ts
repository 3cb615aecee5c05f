// The `Sources` block of the config: how Legacy images are fetched (filters, redirects, ...).
// The config loader (src/config) embeds this schema and calls normalizeSourcesConfig.

export interface SourcesConfig {}

export const sourcesConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {},
} as const;

export function normalizeSourcesConfig(_raw: Record<string, unknown> | undefined): SourcesConfig {
  return {};
}
