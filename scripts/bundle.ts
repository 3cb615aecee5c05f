// The production bundle (`npm run bundle`): what goes onto a BMC instead of dist/ plus
// node_modules. One esbuild run over src/cli/main.ts with code splitting: each command's module
// (daemon, web, host, ...) is loaded lazily by main.ts, so it becomes its own chunk and a process
// loads the dispatcher, its command's chunk and the shared chunks they import, nothing else.
//
//   bundle/
//     package.json             name, version, "type": "module", bin; no dependencies
//     dist/cli/main.mjs        the `vmedia` command (+ chunk-*.mjs, daemon-*.mjs, web-*.mjs, ...)
//     dist/cli/pino-*.mjs      pretty logs on a terminal (pino runs them in a worker thread)
//     dist/web/static/         the page (scripts/build.sh --page DIR)
//     node_modules/usocket/    D-Bus fd passing: its JS bundled into index.js, its native addon
//                              uwrap.node beside it, no dependencies
//     config/                  the default /etc/virtual-media.json, dev.json and the private bus
//                              config of `vmedia start`
//
// The layout mirrors the checkout (dist/cli/ two levels below the root), so the paths the code
// derives from import.meta.url (the page, config/) hold in both.
//
//   npx tsx scripts/bundle.ts [--out DIR] [--usocket-addon FILE]
// --usocket-addon takes a uwrap.node built for another architecture (the Yocto recipe cross-builds
// it); the default is the one npm built for this machine.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';

const CHECKOUT = fileURLToPath(new URL('../', import.meta.url));
export const DEFAULT_OUT_DIR = path.join(CHECKOUT, 'bundle');
const DEFAULT_USOCKET_ADDON = path.join(CHECKOUT, 'node_modules/usocket/build/Release/uwrap.node');
/** The chunks' directory inside the bundle, as dist/cli/ in the checkout. */
export const CLI_DIR = 'dist/cli';
/** The name main.mjs gets: the file systemd units and the Yocto recipe start. */
export const CLI_ENTRY = `${CLI_DIR}/main.mjs`;
const ADDON = 'uwrap.node';

export interface BundleOptions {
  outDir?: string;
  /** usocket's compiled addon to ship (default: node_modules' own build). */
  usocketAddon?: string;
  /** Also copy the page and config/ (the VM's daemon bundle needs neither). */
  full?: boolean;
  minify?: boolean;
}

export interface Bundle {
  outDir: string;
  /** Absolute path of main.mjs. */
  entry: string;
  /** esbuild's record of every output file, its size and its imports (bench/bundle reads it). */
  metafile: Metafile;
}

// usocket loads its addon through the `bindings` package, which searches the caller's package
// directory for a build/ folder; the bundled package has the addon beside its index.js instead.
const usocketAddonBeside: Plugin = {
  name: 'usocket-addon',
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'usocket-addon' }));
    b.onLoad({ filter: /.*/, namespace: 'usocket-addon' }, () => ({
      contents: `module.exports = () => require('./${ADDON}');`,
      loader: 'js',
    }));
    b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/** usocket as a package of its own, node_modules/usocket/ (index.js and the addon, no
 *  dependencies): dbus-next requires it by name and src/dbus/connect.ts checks it is there. */
async function bundleUsocket(outDir: string, addon: string, minify: boolean): Promise<Metafile> {
  const dir = path.join(outDir, 'node_modules/usocket');
  const result = await build({
    entryPoints: [path.join(CHECKOUT, 'node_modules/usocket/index.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: path.join(dir, 'index.js'),
    minify,
    metafile: true,
    logLevel: 'warning',
    plugins: [usocketAddonBeside],
  });
  copyFileSync(addon, path.join(dir, ADDON));
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'usocket', main: 'index.js' })}\n`);
  return result.metafile;
}

// CommonJS packages inside ESM chunks need `require` (esbuild's shim calls it). pino starts its
// pretty printer in a worker thread by file name; bundlers tell it the names through this global.
const BANNER = [
  "import { createRequire as __vmediaRequire } from 'node:module';",
  'const require = __vmediaRequire(import.meta.url);',
  'globalThis.__bundlerPathsOverrides ??= {',
  "  'thread-stream-worker': new URL('./pino-thread-stream-worker.mjs', import.meta.url).pathname,",
  "  'pino-worker': new URL('./pino-worker.mjs', import.meta.url).pathname,",
  "  'pino-pretty': new URL('./pino-pretty.mjs', import.meta.url).pathname,",
  '};',
].join('\n');

export async function buildBundle(opts: BundleOptions = {}): Promise<Bundle> {
  const outDir = path.resolve(opts.outDir ?? DEFAULT_OUT_DIR);
  const addon = opts.usocketAddon ?? DEFAULT_USOCKET_ADDON;
  if (!existsSync(addon))
    throw new Error(`${addon} is missing: run npm ci (it builds usocket), or pass --usocket-addon`);
  rmSync(outDir, { recursive: true, force: true });
  const cliDir = path.join(outDir, CLI_DIR);
  const result = await build({
    entryPoints: {
      main: path.join(CHECKOUT, 'src/cli/main.ts'),
      'pino-thread-stream-worker': path.join(CHECKOUT, 'node_modules/thread-stream/lib/worker.js'),
      'pino-worker': path.join(CHECKOUT, 'node_modules/pino/lib/worker.js'),
      'pino-pretty': path.join(CHECKOUT, 'node_modules/pino-pretty/index.js'),
    },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: cliDir,
    outExtension: { '.js': '.mjs' },
    minify: opts.minify ?? true,
    metafile: true,
    logLevel: 'warning',
    banner: { js: BANNER },
    // x11: an optional D-Bus transport of dbus-next (not installed, never used on a BMC).
    // bufferutil, utf-8-validate: optional native speed-ups of ws, left out (ws falls back to JS;
    // docs/packaging.md says why).
    external: ['usocket', 'x11', 'bufferutil', 'utf-8-validate'],
  });
  await bundleUsocket(outDir, addon, opts.minify ?? true);
  const pkg = JSON.parse(readFileSync(path.join(CHECKOUT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    description: string;
    license: string;
  };
  writeFileSync(
    path.join(outDir, 'package.json'),
    `${JSON.stringify(
      {
        name: pkg.name,
        version: pkg.version,
        description: pkg.description,
        license: pkg.license,
        type: 'module',
        private: true,
        bin: { vmedia: CLI_ENTRY },
      },
      null,
      2,
    )}\n`,
  );
  if (opts.full ?? true) {
    // into the bundle directly: dist/web/static is the browser tests', which may be reading it
    execFileSync('bash', [path.join(CHECKOUT, 'scripts/build.sh'), '--page', path.join(outDir, 'dist/web/static')], {
      stdio: 'inherit',
    });
    cpSync(path.join(CHECKOUT, 'config'), path.join(outDir, 'config'), { recursive: true });
  }
  return { outDir, entry: path.join(outDir, CLI_ENTRY), metafile: result.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'usocket-addon': { type: 'string' } },
  });
  const bundle = await buildBundle({
    ...(values.out ? { outDir: values.out } : {}),
    ...(values['usocket-addon'] ? { usocketAddon: values['usocket-addon'] } : {}),
  });
  process.stdout.write(`bundle: ${bundle.entry} (sizes: npx tsx bench/bundle/run.ts)\n`);
}
