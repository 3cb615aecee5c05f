// The process runner with real processes: output logged line by line, exit reported, a program
// that cannot start turns into ECANCELED, no descriptor or environment variable leaks into a
// child but those asked for, a timeout ends it, SIGKILL follows an ignored SIGTERM, and no child
// outlives vmedia.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { MountError } from '../../src/errno.js';
import { connectBus } from '../../src/dbus/connect.js';
import { createProcessRunner, describeExit, ENV_ALLOWLIST } from '../../src/process/runner.js';
import { startTestBus } from '../helpers/private-bus.js';

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

test('each output line is logged with the program and stream; exit code reported', async () => {
  const { log, lines } = capturingLog();
  const exit = await createProcessRunner(log).run('sh', ['-c', 'echo one; echo two >&2; printf three; exit 3']);
  assert.deepEqual(exit, { code: 3, signal: null, stdout: 'one\nthree\n', stderr: 'two\n', timedOut: false });
  const logged = lines
    .filter((l) => l.process === 'sh' && l.stream)
    .map((l) => `${String(l.stream)}:${String(l.msg)}`)
    .sort();
  assert.deepEqual(logged, ['stderr:two', 'stdout:one', 'stdout:three']);
});

test('onLine takes the lines instead of the log; kill ends the process', async () => {
  const { log } = capturingLog();
  const seen: string[] = [];
  const proc = await createProcessRunner(log).start('sh', ['-c', 'echo ready; exec sleep 30'], {
    onLine: (l) => seen.push(l),
  });
  assert.equal(proc.running(), true);
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
  proc.kill();
  const exit = await proc.exited;
  assert.equal(describeExit(exit), 'killed by SIGTERM');
  assert.equal(proc.running(), false);
  assert.deepEqual(seen, ['ready']);
});

test('a program that does not exist: ECANCELED naming it', async () => {
  const { log } = capturingLog();
  await assert.rejects(
    createProcessRunner(log).start('/nonexistent/nbd-client', []),
    (err: MountError) => err.errno === 'ECANCELED' && err.message.includes('/nonexistent/nbd-client'),
  );
});

test('a child inherits no descriptor but stdio, not even the D-Bus socket of usocket (not close-on-exec)', async () => {
  const bus = await startTestBus();
  const connection = await connectBus(bus.address, { fdPassing: true });
  try {
    const { log, lines } = capturingLog();
    const exit = await createProcessRunner(log).run('sh', ['-c', 'ls /proc/self/fd; echo "argv0=$0"']);
    assert.equal(exit.code, 0);
    const out = lines.filter((l) => l.stream === 'stdout').map((l) => String(l.msg));
    // 0-2, and 3 is the directory ls reads
    assert.deepEqual(
      out
        .filter((l) => /^\d+$/.test(l))
        .map(Number)
        .sort((a, b) => a - b),
      [0, 1, 2, 3],
    );
    assert.ok(out.includes('argv0=sh'), 'the command keeps its own argv[0]');
  } finally {
    connection.disconnect();
    await bus.stop();
  }
});

test('a child sees only the allowlisted environment and what the caller adds', async () => {
  const { log } = capturingLog();
  process.env.VMEDIA_PASSWORD = 'not-for-children';
  process.env.https_proxy = 'http://proxy.invalid:3128';
  try {
    const result = await createProcessRunner(log).run('sh', ['-c', 'env | cut -d= -f1 | sort'], {
      env: { NBDKIT_EXTRA: 'yes', DROPPED: undefined },
    });
    const names = result.stdout.trim().split('\n');
    assert.ok(names.includes('PATH') && names.includes('NBDKIT_EXTRA'), names.join(' '));
    // sh adds PWD, SHLVL and _ itself; nothing else may come from us
    const allowed = new Set<string>([...ENV_ALLOWLIST, 'NBDKIT_EXTRA', 'PWD', 'SHLVL', '_']);
    assert.deepEqual(
      names.filter((n) => !allowed.has(n)),
      [],
    );
  } finally {
    delete process.env.VMEDIA_PASSWORD;
    delete process.env.https_proxy;
  }
});

test('pipes: the caller writes a secret the child reads on fd 3, and the child keeps no other fd', async () => {
  const { log } = capturingLog();
  const runner = createProcessRunner(log);
  const seen: string[] = [];
  const proc = await runner.start('sh', ['-c', 'read -r secret <&3; echo "got $secret"; ls /proc/self/fd'], {
    pipes: 1,
    onLine: (l) => seen.push(l),
  });
  proc.pipe(3).end('s3cret\n');
  assert.deepEqual(await proc.exited, { code: 0, signal: null });
  assert.equal(seen[0], 'got s3cret');
  assert.deepEqual(
    seen
      .slice(1)
      .map(Number)
      .sort((a, b) => a - b),
    [0, 1, 2, 3, 4], // 3: the pipe, 4: the directory ls reads
  );
  assert.throws(() => proc.pipe(4), /no pipe at fd 4/);
});

test('timeoutMs ends a child that runs too long', async () => {
  const { log } = capturingLog();
  const started = Date.now();
  const result = await createProcessRunner(log).run('sleep', ['30'], { timeoutMs: 200 });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, 'SIGTERM');
  assert.ok(Date.now() - started < 5_000);
});

test('a child that ignores SIGTERM gets SIGKILL after its grace period', async () => {
  const { log } = capturingLog();
  const seen: string[] = [];
  const proc = await createProcessRunner(log).start(
    'sh',
    ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'],
    {
      killGraceMs: 300,
      onLine: (l) => seen.push(l),
    },
  );
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
  const started = Date.now();
  proc.kill();
  assert.deepEqual(await proc.exited, { code: null, signal: 'SIGKILL' });
  assert.ok(Date.now() - started >= 250, 'SIGKILL came before the grace period was over');
});

/** A node process that starts `sleep 30` through the runner, prints its pid, then ends by `how`. */
async function childOfEndedVmedia(how: 'exit' | 'SIGHUP'): Promise<number> {
  const script = [
    `import { createProcessRunner } from ${JSON.stringify(new URL('../../src/process/runner.ts', import.meta.url).href)};`,
    "import { pino } from 'pino';",
    "const proc = await createProcessRunner(pino({ level: 'silent' })).start('sleep', ['30']);",
    'console.log(proc.pid);',
    how === 'exit' ? 'process.exit(0);' : "process.kill(process.pid, 'SIGHUP');",
  ].join('\n');
  const vmedia = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  vmedia.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = (await once(vmedia, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.deepEqual([code, signal], how === 'exit' ? [0, null] : [null, 'SIGHUP']);
  return Number(out.trim());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('children are ended when vmedia exits, also at a fatal signal it has no handler for', async () => {
  await Promise.all(
    (['exit', 'SIGHUP'] as const).map(async (how) => {
      const pid = await childOfEndedVmedia(how);
      assert.ok(pid > 0);
      const deadline = Date.now() + 5_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(pid), false, `sleep (pid ${pid}) outlived vmedia ended by ${how}`);
    }),
  );
});
