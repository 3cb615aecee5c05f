// The NODE_OPTIONS the systemd units give `vmedia daemon` and `vmedia web` (V8 heap flags): the
// benchmarks run the bundle with them, as a BMC does.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
const UNITS = ['systemd/xyz.openbmc_project.VirtualMedia.service', 'systemd/vmedia-web.service'];

export function unitNodeOptions(): string {
  const values = UNITS.map(
    (unit) => /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(path.join(REPO, unit), 'utf8'))?.[1] ?? '',
  );
  if (values[0] !== values[1]) throw new Error(`the units' NODE_OPTIONS differ: ${values.join(' | ')}`);
  return values[0]!;
}
