// The benchmark's consumer: listens on a Unix socket, reads until it has SIZE bytes, prints
// "done" and exits (not waiting for EOF: websockify drops the last frame when the client closes).
//   node bench/bridge/sink.ts SOCKET SIZE     (plain JS syntax: runs without tsx)
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [sockPath, sizeArg] = process.argv.slice(2);
if (!sockPath || !sizeArg) throw new Error('usage: sink.ts SOCKET BYTES');
const size = Number(sizeArg);
rmSync(sockPath, { force: true });
let got = 0;
const server = createServer((c) => {
  c.on('data', (d) => {
    got += d.length;
    if (got >= size) {
      process.stdout.write(`done ${got}\n`);
      process.exit(0);
    }
  });
});
server.listen(sockPath, () => process.stdout.write('listening\n'));
