// The daemon as one bundled file for the VM: under TCG, node resolving and tsx compiling some
// hundred source and node_modules files over the 9p share takes minutes; one file takes seconds.
// Built once per VM run (esbuild), inside node_modules so its external packages still resolve.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT_DIR = path.join(CHECKOUT, 'node_modules', '.cache', 'vmedia-vm');
/** Bundles older than this belong to VM runs that are over (a run's time limit is far below it). */
const STALE_MS = 3 * 60 * 60 * 1000;

let built: Promise<string> | undefined;

/** Path of the bundled CLI (src/cli/main.ts). The first test file of a VM run builds it and the
 *  later ones reuse it: each test file is its own process, and esbuild under TCG takes ~30 s. */
export function daemonBundle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    // the boot id names this VM run, so concurrent VM runs on one checkout never share a bundle
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const outfile = path.join(OUT_DIR, `main-${bootId}.mjs`);
    if (existsSync(outfile)) return outfile;
    removeStaleBundles();
    const partial = `${outfile}.${process.pid}.tmp`;
    const esbuild = path.join(CHECKOUT, 'node_modules', '.bin', 'esbuild');
    if (!existsSync(esbuild)) throw new Error(`${esbuild} is missing: run npm ci`);
    await run(esbuild, [
      path.join(CHECKOUT, 'src/cli/main.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--outfile=${partial}`,
      '--log-level=warning',
      // a native addon, and an optional X11 transport of dbus-next that is not installed
      '--external:usocket',
      '--external:x11',
      // CommonJS packages inside an ESM bundle need a require
      "--banner:js=import { createRequire as __vmediaRequire } from 'node:module'; const require = __vmediaRequire(import.meta.url);",
    ]);
    renameSync(partial, outfile); // complete or absent, for the next test file
    return outfile;
  })();
  return built;
}

/** Removes the bundles of earlier VM runs (this run's own is not built yet). */
function removeStaleBundles(): void {
  for (const name of readdirSync(OUT_DIR)) {
    const file = path.join(OUT_DIR, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_MS) rmSync(file, { force: true });
    } catch {
      continue; // removed meanwhile by another VM run
    }
  }
}
