// Another `vmedia web` in place of the stack's: the same bus, users, trust store and runtime dir
// (so the same certificate), on a new port. For the tests that restart the web.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { httpsJson, type HttpResponse, type RequestOptions, type Stack } from '../../helpers/stack.js';
import { vmediaArgs } from '../../helpers/daemon.js';
import { webListening } from '../../helpers/web-listening.js';

export interface WebProcess {
  pid: number;
  port: number;
  output(): string;
  request(pathname: string, opts?: RequestOptions): Promise<HttpResponse>;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

export async function startWebLike(stack: Stack): Promise<WebProcess> {
  const child = spawn(
    process.execPath,
    [
      ...vmediaArgs(),
      'web',
      '--bus',
      stack.busAddress,
      '--listen',
      '127.0.0.1:0',
      '--users',
      path.join(stack.dir, 'users.json'),
      '--truststore',
      stack.trustStore,
      '--runtime-dir',
      path.join(stack.dir, 'web'),
    ],
    { env: { ...process.env, VMEDIA_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const web = await webListening(child, 20_000);
  return {
    ...web,
    pid: child.pid!,
    port: Number(new URL(web.baseUrl).port),
    request: (pathname, opts = {}) => httpsJson(web.baseUrl, stack.ca, pathname, opts),
  };
}
