// A small real FTP server (RFC 959 subset: what libcurl uses for ranged reads — USER/PASS, TYPE,
// SIZE, MDTM, EPSV/PASV, REST, RETR, ABOR) for the ftp:// source test. Debian has no FTP server
// that runs unprivileged in a test, and busybox here lacks ftpd.
import net from 'node:net';
import { createReadStream, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface FtpServer {
  port: number;
  /** Commands received, passwords replaced by "PASS ***". */
  commands: string[];
  close(): Promise<void>;
}

export async function startFtpServer(opts: {
  files: Map<string, string>;
  user: string;
  password: string;
  /** IPv4 address to listen on (control and passive data); default 127.0.0.1. */
  host?: string;
}): Promise<FtpServer> {
  const host = opts.host ?? '127.0.0.1';
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((control) => {
    sockets.add(control);
    control.on('close', () => sockets.delete(control));
    control.on('error', () => control.destroy());
    let user = '';
    let authed = false;
    let offset = 0;
    let cwd = '/';
    let passive: net.Server | undefined;
    let dataSocket: Promise<net.Socket> | undefined;
    const reply = (line: string) => control.write(`${line}\r\n`);
    reply('220 vmedia test ftp');
    let buffered = '';
    control.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        const [verb = '', ...rest] = line.split(' ');
        const arg = rest.join(' ');
        const cmd = verb.toUpperCase();
        commands.push(cmd === 'PASS' ? 'PASS ***' : line);
        const file = opts.files.get(path.posix.resolve(cwd, arg));
        if (cmd === 'USER') {
          user = arg;
          reply('331 password please');
          continue;
        }
        if (cmd === 'PASS') {
          authed = user === opts.user && arg === opts.password;
          reply(authed ? '230 logged in' : '530 login incorrect');
          continue;
        }
        if (cmd === 'QUIT') {
          reply('221 bye');
          control.end();
          continue;
        }
        if (!authed) {
          reply('530 log in first');
          continue;
        }
        switch (cmd) {
          case 'PWD':
            reply(`257 "${cwd}"`);
            break;
          case 'CWD':
            cwd = path.posix.resolve(cwd, arg);
            reply('250 ok');
            break;
          case 'TYPE':
            reply('200 ok');
            break;
          case 'SIZE':
            reply(file ? `213 ${statSync(file).size}` : '550 no such file');
            break;
          case 'MDTM':
            reply(file ? '213 20260101000000' : '550 no such file');
            break;
          case 'REST':
            offset = Number(arg);
            reply(`350 restarting at ${offset}`);
            break;
          case 'EPSV':
          case 'PASV': {
            passive?.close();
            const listener = net.createServer();
            passive = listener;
            dataSocket = new Promise((resolve) =>
              listener.once('connection', (s) => {
                sockets.add(s);
                s.on('close', () => sockets.delete(s));
                resolve(s);
              }),
            );
            listener.listen(0, host, () => {
              const p = (listener.address() as AddressInfo).port;
              reply(
                cmd === 'EPSV'
                  ? `229 passive (|||${p}|)`
                  : `227 passive (${host.replaceAll('.', ',')},${p >> 8},${p & 255})`,
              );
            });
            break;
          }
          case 'RETR': {
            if (!file || !dataSocket) {
              reply('550 no such file');
              break;
            }
            const start = offset;
            offset = 0;
            reply('150 sending');
            void dataSocket.then((data) => {
              data.on('error', () => undefined);
              const stream = createReadStream(file, { start });
              stream.pipe(data);
              stream.on('end', () => reply('226 done'));
              data.on('close', () => stream.destroy());
            });
            dataSocket = undefined;
            break;
          }
          case 'ABOR':
            reply('226 aborted');
            break;
          default:
            reply('502 not implemented');
        }
      }
    });
    control.on('close', () => passive?.close());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    commands,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
