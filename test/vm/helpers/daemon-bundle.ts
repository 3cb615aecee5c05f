// The CLI as the production bundle (scripts/bundle.ts, the one bundling recipe) for the VM: under
// TCG, node resolving and tsx compiling some hundred source and node_modules files over the 9p
// share takes minutes; a few bundled files take seconds. Built once per VM run, without the page.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, CLI_ENTRY } from '../../../scripts/bundle.js';

const CHECKOUT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT_DIR = path.join(CHECKOUT, 'node_modules', '.cache', 'vmedia-vm');
/** Bundles older than this belong to VM runs that are over (a run's time limit is far below it). */
const STALE_MS = 3 * 60 * 60 * 1000;

let built: Promise<string> | undefined;

/** Path of the bundled CLI (main.mjs). The first test file of a VM run builds it and the later
 *  ones reuse it: each test file is its own process, and esbuild under TCG takes ~30 s. */
export function daemonBundle(): Promise<string> {
  built ??= (async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    // the boot id names this VM run, so concurrent VM runs on one checkout never share a bundle
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const dir = path.join(OUT_DIR, `bundle-${bootId}`);
    if (existsSync(dir)) return path.join(dir, CLI_ENTRY);
    removeStaleBundles();
    const partial = `${dir}.${process.pid}.tmp`;
    await buildBundle({ outDir: partial, full: false });
    renameSync(partial, dir); // complete or absent, for the next test file
    return path.join(dir, CLI_ENTRY);
  })();
  return built;
}

/** Removes the bundles of earlier VM runs (this run's own is not built yet). */
function removeStaleBundles(): void {
  for (const name of readdirSync(OUT_DIR)) {
    const file = path.join(OUT_DIR, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_MS) rmSync(file, { recursive: true, force: true });
    } catch {
      continue; // removed meanwhile by another VM run
    }
  }
}
