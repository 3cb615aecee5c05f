// A "browser" in its own process, so that a test can SIGKILL or SIGSTOP it: connects to the bridge
// at /nbd/<n> with Basic auth and serves an image file as NBD (test/web/ws-nbd-server.ts).
// Prints "open" once upgraded, "ended <json>" when the connection ends.
// usage: tsx browser-process.ts URL IMAGE CA_FILE USER  (the password on stdin, never argv)
import { readFileSync } from 'node:fs';
import { basicAuth, connectWsNbdServer } from '../../web/ws-nbd-server.js';

const [url, image, caFile, user] = process.argv.slice(2);
if (!url || !image || !caFile || !user) throw new Error('usage: browser-process.ts URL IMAGE CA_FILE USER');
const password = readFileSync(0, 'utf8');
const browser = await connectWsNbdServer(url, {
  ca: readFileSync(caFile, 'utf8'),
  image,
  headers: basicAuth(user, password),
});
if (browser.ws.readyState === browser.ws.OPEN) process.stdout.write('open\n');
process.stdout.write(`ended ${JSON.stringify(await browser.ended)}\n`);
