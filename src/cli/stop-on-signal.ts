// A long-running command (web, gateway) stops once on SIGTERM or SIGINT; a failed stop is logged
// and makes the exit code 1.
import type { Logger } from '../log.js';

export function stopOnSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => log.info('stopped'),
      (err: Error) => {
        log.error({ err: err.message }, 'stop failed');
        process.exitCode = 1;
      },
    );
  };
  // `on`, not `once`: signal-exit (the process runner's) re-raises a signal when its listener is
  // the only one left, and a `once` listener is removed before it looks (src/cli/daemon.ts)
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
