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
//     dist/gateway/page/static/  the gateway's page (scripts/build-gateway-page.sh DIR)
//     node_modules/usocket/    D-Bus fd passing: its JS bundled into index.js, its native addon
//                              uwrap.node beside it, no dependencies
//     node_modules/bufferutil/ the bridge's unmasking in C (bench/bridge/README.md: it pays),
//                              the same way: index.js + bufferutil.node
//     node_modules/sockopt/    setsockopt for the data sockets' send buffers (src/net/send-buffer.ts),
//                              the same way: index.js + sockopt.node
//     node_modules/better-sqlite3/  the gateway's embedded database, the same way (--no-sqlite:
//                              not shipped; the gateway then needs --postgres)
//     config/                  the default /etc/virtual-media.json, dev.json and the private bus
//                              config of `vmedia start`
//
// The layout mirrors the checkout (dist/cli/ two levels below the root), so the paths the code
// derives from import.meta.url (the page, config/) hold in both.
//
//   npx tsx scripts/bundle.ts [--out DIR] [--usocket-addon FILE] [--bufferutil-addon FILE]
//                             [--sockopt-addon FILE] [--better-sqlite3-addon FILE | --no-sqlite]
// The addon options take a uwrap.node / bufferutil.node / sockopt.node built for another
// architecture (the Yocto recipe cross-builds them); the defaults are the ones npm put in
// node_modules for this machine.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';

const CHECKOUT = fileURLToPath(new URL('../', import.meta.url));
export const DEFAULT_OUT_DIR = path.join(CHECKOUT, 'bundle');
/** The chunks' directory inside the bundle, as dist/cli/ in the checkout. */
export const CLI_DIR = 'dist/cli';
/** The name main.mjs gets: the file systemd units and the Yocto recipe start. */
export const CLI_ENTRY = `${CLI_DIR}/main.mjs`;

/** Packages with a native addon, shipped as node_modules/<name>/ (index.js + the addon): the
 *  code requires them by name and falls back or fails clearly when they do not load. */
const ADDON_PACKAGES = {
  // usocket finds its addon with `bindings`, bufferutil with `node-gyp-build`
  usocket: { loader: 'bindings', addon: 'uwrap.node', built: ['build/Release/uwrap.node'], main: 'index.js' },
  bufferutil: {
    loader: 'node-gyp-build',
    addon: 'bufferutil.node',
    built: ['build/Release/bufferutil.node', `prebuilds/${process.platform}-${process.arch}/bufferutil.node`],
    main: 'index.js',
  },
  // setsockopt for the data sockets' send buffers (src/net/send-buffer.ts). Built from source as
  // usocket is: every prebuild in sockopt 2.0.1, the linux ones included, is a macOS (Mach-O) file
  sockopt: { loader: 'node-gyp-build', addon: 'sockopt.node', built: ['build/Release/sockopt.node'], main: 'index.js' },
  // the gateway's embedded database (`vmedia gateway` without --postgres); --no-sqlite leaves it
  // out of a BMC's image, which never runs the gateway
  'better-sqlite3': {
    loader: 'bindings',
    addon: 'better_sqlite3.node',
    built: ['build/Release/better_sqlite3.node'],
    main: 'lib/index.js',
  },
} as const;
export type AddonPackage = keyof typeof ADDON_PACKAGES;

export interface BundleOptions {
  outDir?: string;
  /** Compiled addons to ship (default: node_modules' own build for this machine). */
  addons?: Partial<Record<AddonPackage, string>>;
  /** Ship better-sqlite3 for the gateway (default true); without it the gateway needs PostgreSQL. */
  sqlite?: boolean;
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

// The packages load their addon through a helper that searches the package directory for a
// build/ or prebuilds/ folder; the bundled package has the addon beside its index.js instead.
function addonBeside(loader: string, addon: string): Plugin {
  return {
    name: 'addon-beside',
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${loader}$`) }, () => ({ path: loader, namespace: 'addon-beside' }));
      b.onLoad({ filter: /.*/, namespace: 'addon-beside' }, () => ({
        contents: `module.exports = () => require('./${addon}');`,
        loader: 'js',
      }));
      b.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/** The package's addon built for this machine by npm (install script or prebuilt). */
function defaultAddon(name: AddonPackage): string {
  const dir = path.join(CHECKOUT, 'node_modules', name);
  const built = ADDON_PACKAGES[name].built.map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!built) throw new Error(`${dir} has no compiled addon: run npm ci, or pass --${name}-addon`);
  return built;
}

/** node_modules/<name>/: index.js (the package's JavaScript, bundled) and its addon. */
async function bundleAddonPackage(outDir: string, name: AddonPackage, addon: string, minify: boolean): Promise<void> {
  if (!existsSync(addon)) throw new Error(`${addon} is missing`);
  const { loader, addon: addonName } = ADDON_PACKAGES[name];
  const dir = path.join(outDir, 'node_modules', name);
  await build({
    entryPoints: [path.join(CHECKOUT, 'node_modules', name, ADDON_PACKAGES[name].main)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: path.join(dir, 'index.js'),
    minify,
    logLevel: 'warning',
    plugins: [addonBeside(loader, addonName)],
  });
  copyFileSync(addon, path.join(dir, addonName));
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name, main: 'index.js' })}\n`);
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
  const shipped = (Object.keys(ADDON_PACKAGES) as AddonPackage[]).filter(
    (name) => name !== 'better-sqlite3' || (opts.sqlite ?? true),
  );
  const addons = Object.fromEntries(
    shipped.map((name) => [name, opts.addons?.[name] ?? defaultAddon(name)]),
  ) as Partial<Record<AddonPackage, string>>;
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
    // usocket, bufferutil, sockopt, better-sqlite3: the addon packages, beside the chunks in node_modules/ (below).
    // x11: an optional D-Bus transport of dbus-next, not installed.
    external: [...Object.keys(ADDON_PACKAGES), 'x11'],
  });
  for (const [name, addon] of Object.entries(addons))
    await bundleAddonPackage(outDir, name as AddonPackage, addon, opts.minify ?? true);
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
    // where `vmedia gateway --page` looks by default (PAGE_DIR_IN_CHECKOUT)
    execFileSync(
      'bash',
      [path.join(CHECKOUT, 'scripts/build-gateway-page.sh'), path.join(outDir, 'dist/gateway/page/static')],
      { stdio: 'inherit' },
    );
    cpSync(path.join(CHECKOUT, 'config'), path.join(outDir, 'config'), { recursive: true });
  }
  return { outDir, entry: path.join(outDir, CLI_ENTRY), metafile: result.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'usocket-addon': { type: 'string' },
      'bufferutil-addon': { type: 'string' },
      'sockopt-addon': { type: 'string' },
      'better-sqlite3-addon': { type: 'string' },
      'no-sqlite': { type: 'boolean' },
    },
  });
  const bundle = await buildBundle({
    ...(values.out ? { outDir: values.out } : {}),
    sqlite: !values['no-sqlite'],
    addons: {
      ...(values['usocket-addon'] ? { usocket: values['usocket-addon'] } : {}),
      ...(values['bufferutil-addon'] ? { bufferutil: values['bufferutil-addon'] } : {}),
      ...(values['sockopt-addon'] ? { sockopt: values['sockopt-addon'] } : {}),
      ...(values['better-sqlite3-addon'] ? { 'better-sqlite3': values['better-sqlite3-addon'] } : {}),
    },
  });
  process.stdout.write(`bundle: ${bundle.entry} (sizes: npx tsx bench/bundle/run.ts)\n`);
}
