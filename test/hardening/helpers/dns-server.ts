// A minimal DNS server (UDP, RFC 1035 subset) for the rebinding tests: each name it knows answers
// A queries with its addresses in turn, the last one for good, TTL 0 so that no resolver keeps
// an answer. Other query types get an empty answer, unknown names NXDOMAIN.
import dgram from 'node:dgram';

export interface DnsServer {
  /** A queries received for `name` so far. */
  queries(name: string): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const NXDOMAIN = 3;

/** `answers`: lower-case name → the IPv4 addresses its A queries answer, in turn. */
export async function startDnsServer(address: string, answers: Map<string, string[]>): Promise<DnsServer> {
  const asked = new Map<string, number>();
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    const question = parseQuestion(query);
    if (!question) return;
    const list = answers.get(question.name);
    let answer: string | undefined;
    if (list && question.type === TYPE_A) {
      const n = asked.get(question.name) ?? 0;
      asked.set(question.name, n + 1);
      answer = list[Math.min(n, list.length - 1)];
    }
    socket.send(response(query, question.end, list ? 0 : NXDOMAIN, answer), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(53, address, resolve));
  return {
    queries: (name) => asked.get(name) ?? 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The query's (first) question: its name, type, and where it ends. */
function parseQuestion(query: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let offset = 12; // after the header
  while (offset < query.length && query[offset] !== 0) {
    const length = query[offset] ?? 0;
    labels.push(query.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  const end = offset + 5; // the zero label, type and class
  if (end > query.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(offset + 1), end };
}

function response(query: Buffer, questionEnd: number, rcode: number, address: string | undefined): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // the query's id
  header.writeUInt16BE(0x8180 | rcode, 2); // a response; recursion desired and available
  header.writeUInt16BE(1, 4); // the question, echoed
  header.writeUInt16BE(address ? 1 : 0, 6);
  // name: pointer to the question's; type A, class IN, TTL 0, 4 bytes of address
  const record = address
    ? Buffer.from([0xc0, 12, 0, TYPE_A, 0, 1, 0, 0, 0, 0, 0, 4, ...address.split('.').map(Number)])
    : Buffer.alloc(0);
  return Buffer.concat([header, query.subarray(12, questionEnd), record]);
}
