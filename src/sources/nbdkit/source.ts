// What every Legacy source shares once it knows its nbdkit command line: start nbdkit on the slot
// socket, open the export once (where network and permission errors show up), turn a failure
// into the errno of its cause, watch the process, and leave nothing behind on any path.
import path from 'node:path';
import type { Logger } from '../../log.js';
import type { ProcessRunner } from '../../process/runner.js';
import type { RunningSource, SourceRequest } from '../types.js';
import type { SourcesConfig } from '../config.js';
import type { SourceUrl } from '../guards/source-url.js';
import { MountError } from '../../errno.js';
import { startNbdkit, lastLine, NbdkitStartError, type NbdkitProcess } from './process.js';
import { probeExport } from './export-probe.js';
import { startReadaheadFront, type ReadaheadFront } from '../readahead/front.js';

export interface SourcesRuntime {
  config: SourcesConfig;
  /** Pid files (0700 directory). */
  stateDir: string;
  /** nbdkit's TMPDIR: cache and copy-on-write overlay files. */
  tempDir: string;
  /** Starts nbdkit and the mount helpers. */
  runner: ProcessRunner;
}

export interface SourceContext {
  sources: SourcesRuntime;
  log: Logger;
  req: SourceRequest;
  url: SourceUrl;
  /** nbdkit filters that load on this machine. */
  filters: ReadonlySet<string>;
  /** With the SSRF guard on: the addresses of the URL's host it allowed at Mount. Every connection
   *  of the source must then go to an address the guard checked (never to a second resolution). */
  checkedAddresses?: readonly string[];
}

export interface NbdkitSourceLaunch {
  /** Filters, plugin and parameters. */
  args: string[];
  readOnly: boolean;
  /** Written to nbdkit's fd 3 (`password=-3`), zeroed afterwards. */
  secret?: Uint8Array;
  /** Added to nbdkit's environment. */
  env?: Record<string, string>;
  /** The cause of a failure, from nbdkit's stderr (undefined: not recognised). */
  classify(stderr: string): MountError | undefined;
  /** A second look at a failed start's cause (e.g. ask the server), when stderr is ambiguous. */
  refine?(cause: MountError): Promise<MountError>;
  /** A network plugin: our read-ahead serves the slot socket, nbdkit a private one behind it. */
  network: boolean;
  /** Undoes what the source set up before nbdkit (a kernel mount); runs after nbdkit exited. */
  cleanup?: () => Promise<void>;
}

export async function serveWithNbdkit(
  ctx: SourceContext,
  launch: NbdkitSourceLaunch,
  onExit: (err: MountError) => void,
): Promise<RunningSource> {
  const { log, req, url } = ctx;
  const redact = (text: string) => redactUrls(text, url);
  const slotLog = log.child({ slot: req.slot.name, url: url.redacted });
  const fail = async (err: MountError, proc?: NbdkitProcess): Promise<never> => {
    await proc?.stop();
    await launch.cleanup?.();
    throw err; // the mount point logs the failure, once
  };
  // before nbdkit serves, its stderr is the failure's cause (logged once, by the mount point);
  // while it serves, it is where a failing read says why (the host only sees EIO)
  let serving = false;
  const logServingError = (line: string) => {
    if (!serving) return;
    const cause = launch.classify(line);
    slotLog.warn({ nbdkit: redact(line), ...(cause ? { errno: cause.errno, cause: cause.message } : {}) }, 'nbdkit');
  };
  const causeOf = (stderr: string, fallback: (line: string) => MountError) =>
    launch.classify(stderr) ?? fallback(redact(lastLine(stderr)) || 'no message from nbdkit');
  const startFailure = async (stderr: string, fallback: (line: string) => MountError) => {
    const cause = causeOf(stderr, fallback);
    return launch.refine ? launch.refine(cause) : cause;
  };

  const readahead = launch.network && ctx.sources.config.readahead.enabled ? ctx.sources.config.readahead : undefined;
  // nbdkit's socket is in the 0700 state dir when the read-ahead serves the slot socket
  const nbdkitSocket = readahead ? path.join(ctx.sources.stateDir, `${req.slot.name}.sock`) : req.socket;
  let proc: NbdkitProcess;
  try {
    proc = await startNbdkit({
      args: launch.args,
      socket: nbdkitSocket,
      pidFile: path.join(ctx.sources.stateDir, `${req.slot.name}.pid`),
      readOnly: launch.readOnly,
      runner: ctx.sources.runner,
      secretOnFd3: launch.secret,
      env: { TMPDIR: ctx.sources.tempDir, ...launch.env },
      onStderrLine: logServingError,
    });
  } catch (err) {
    launch.secret?.fill(0);
    if (!(err instanceof NbdkitStartError)) return fail(MountError.from(err, 'ECANCELED'));
    return fail(await startFailure(err.stderr, (line) => new MountError('EINVAL', `nbdkit did not start: ${line}`)));
  }

  let size: number;
  let front: ReadaheadFront | undefined;
  try {
    size = await probeExport(nbdkitSocket, req.slot.timeout * 1000);
    if (readahead) {
      front = await startReadaheadFront({
        upstreamSocket: nbdkitSocket,
        socket: req.socket,
        connections: readahead.connections,
        chunkBytes: readahead.chunkKiB * 1024,
        aheadChunks: readahead.aheadChunks,
        maxChunks: 2 * readahead.aheadChunks,
      });
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await proc.stop(); // all of stderr is in once nbdkit has exited
    return fail(
      await startFailure(
        proc.stderr(),
        (line) => new MountError('EIO', `the image could not be opened: ${line || reason}`),
      ),
      proc,
    );
  }
  serving = true;
  slotLog.info(
    { pid: proc.pid, size, readOnly: launch.readOnly, readahead: front !== undefined },
    'Legacy source serving',
  );

  // nbdkit stops while the read-ahead closes: a fetch stuck in a retry must not hold up Unmount
  const stop = async () => {
    await Promise.all([
      front?.close().catch((err: Error) => slotLog.debug({ err: err.message }, 'read-ahead close')),
      proc.stop(),
    ]);
    await launch.cleanup?.();
  };
  let stopping: Promise<void> | undefined;
  void proc.exited.then(async (exit) => {
    if (stopping) return;
    stopping = stop();
    await stopping;
    const err = causeOf(
      proc.stderr(),
      (line) => new MountError('ECONNRESET', `nbdkit exited (${exit.signal ?? exit.code}): ${line}`),
    );
    slotLog.error({ errno: err.errno, cause: err.message }, 'Legacy source exited');
    onExit(err);
  });
  return {
    stop() {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** nbdkit prints URLs in full; query strings of presigned URLs carry tokens. */
function redactUrls(text: string, url: SourceUrl): string {
  return text
    .split(url.url.href)
    .join(url.redacted)
    .replace(/(\w+:\/\/[^\s\]?]*)\?[^\s\]]*/g, '$1?[redacted]');
}
