// Which bus connections a process has: tests address the web by its unique name.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The unique names (":1.N") of the bus connections of the process with this pid. */
export async function uniqueNamesOf(busAddress: string, pid: number): Promise<string[]> {
  const { stdout } = await run('busctl', [`--address=${busAddress}`, 'list', '--json=short']);
  const peers = JSON.parse(stdout) as { name: string; pid: number | null }[];
  return peers.filter((p) => p.pid === pid && p.name.startsWith(':')).map((p) => p.name);
}
