// The daemon as one bundled file for the VM: under TCG, node resolving and tsx compiling some
// hundred source and node_modules files over the 9p share takes minutes; one file takes seconds.
// Built once per VM run (esbuild), inside node_modules so its external packages still resolve.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT_DIR = path.join(CHECKOUT, 'node_modules', '.cache', 'vmedia-vm');

let built: Promise<string> | undefined;

/** Path of the bundled CLI (src/cli/main.ts); builds it on the first call of this process. */
export function daemonBundle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    const outfile = path.join(OUT_DIR, `main-${process.pid}.mjs`);
    const esbuild = path.join(CHECKOUT, 'node_modules', '.bin', 'esbuild');
    if (!existsSync(esbuild)) throw new Error(`${esbuild} is missing: run npm ci`);
    await run(esbuild, [
      path.join(CHECKOUT, 'src/cli/main.ts'), '--bundle', '--platform=node', '--format=esm', '--target=node20',
      `--outfile=${outfile}`, '--log-level=warning',
      // a native addon, and an optional X11 transport of dbus-next that is not installed
      '--external:usocket', '--external:x11',
      // CommonJS packages inside an ESM bundle need a require
      "--banner:js=import { createRequire as __vmediaRequire } from 'node:module'; const require = __vmediaRequire(import.meta.url);",
    ]);
    process.once('exit', () => rmSync(outfile, { force: true }));
    return outfile;
  })();
  return built;
}
