// `vmedia nbd serve <file>`: serve a file with our own NBD server (a quick export, and the
// subject of the real-peer tests and the benchmark).
import type { Argv, CommandModule } from 'yargs';
import { createLogger } from '../log.js';
import type { BlockBackend } from '../nbd/backend.js';
import { NbdServer } from '../nbd/server.js';
import { openFileBackend } from '../nbd-node/file-backend.js';
import { listenNbd, type ListenAddress, type NbdListener } from '../nbd-node/listen.js';
import { withoutTurbofan } from '../nbd-node/without-turbofan.js';

interface ServeArgs {
  file: string;
  socket?: string;
  port?: number;
  host: string;
  readonly: boolean;
  name: string;
}

async function serve(args: ServeArgs): Promise<void> {
  withoutTurbofan();
  const log = createLogger('vmedia-nbd');
  let backend: BlockBackend;
  try {
    backend = await openFileBackend(args.file, { readOnly: args.readonly });
  } catch (err) {
    process.stderr.write(`vmedia nbd serve: cannot open ${args.file}: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const server = new NbdServer({
    exports: new Map([[args.name, backend]]),
    onError: (err) => log.warn({ err: err.message }, 'NBD connection failed'),
  });
  const where: ListenAddress =
    args.socket !== undefined ? { socket: args.socket } : { port: args.port!, host: args.host };
  let listener: NbdListener;
  try {
    listener = await listenNbd(server, where);
  } catch (err) {
    process.stderr.write(`vmedia nbd serve: ${(err as Error).message}\n`);
    process.exitCode = 1;
    await backend.close?.();
    return;
  }
  log.info(
    {
      file: args.file,
      size: backend.size,
      readOnly: backend.readOnly,
      export: args.name,
      ...(args.socket !== undefined ? { socket: args.socket } : { host: args.host, port: listener.port }),
    },
    'serving',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await listener.close();
  await backend.close?.();
  log.info('stopped');
}

const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve <file>',
  describe: 'serve a file over NBD with our server (fixed newstyle, structured replies)',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'image file to serve' })
      .option('socket', { type: 'string', describe: 'listen on this unix socket path' })
      .option('port', { type: 'number', describe: 'listen on this TCP port (0 picks a free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'TCP address to listen on' })
      .option('readonly', { type: 'boolean', default: false, describe: 'refuse writes' })
      .option('name', { type: 'string', default: '', describe: 'export name (empty = the default export)' })
      .conflicts('socket', 'port')
      .check((a) => {
        if (a.socket === undefined && a.port === undefined) throw new Error('give --socket PATH or --port N');
        if (a.port !== undefined && (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535))
          throw new Error(`--port must be 0..65535, got ${a.port}`);
        return true;
      }),
  handler: serve,
};

export const nbdCommand: CommandModule = {
  command: 'nbd <command>',
  describe: 'NBD tools',
  builder: (y) => y.command(serveCommand).demandCommand(1),
  handler: () => {},
};
