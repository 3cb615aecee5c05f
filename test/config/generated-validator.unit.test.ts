// The config's validator is compiled ahead (src/config/validate-raw-config.generated.ts): it must
// be what ajv makes of the schema as it is now, or a schema change would not take effect.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configValidatorSource, GENERATED_VALIDATOR } from '../../scripts/generate-config-validator.js';

test('the generated config validator is the one of the current schema', async () => {
  assert.ok(
    readFileSync(GENERATED_VALIDATOR, 'utf8') === (await configValidatorSource()),
    'src/config/validate-raw-config.generated.ts is stale: run npx tsx scripts/generate-config-validator.ts',
  );
});
