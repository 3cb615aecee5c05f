// The bridge's streamed WebSocket frame decoder: payload of fragmented binary messages comes out
// intact and in order however the reads split frames (headers included), with control frames
// between fragments; every broken or refused frame is reported with its close code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FrameDecoder, OPCODE, type FrameSink } from '../../src/web/bridge/frames.js';

/** A client frame: masked, FIN as given; `rsv` sets reserved bits, `masked: false` breaks it. */
function frame(opcode: number, payload: Uint8Array, opts: { fin?: boolean; rsv?: number; masked?: boolean } = {}) {
  const { fin = true, rsv = 0, masked = true } = opts;
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + (masked ? 4 : 0) + len);
  out[0] = (fin ? 0x80 : 0) | rsv | opcode;
  out[1] = (masked ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(len, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(len), 2);
  const mask = randomBytes(4);
  let at = 2 + ext;
  if (masked) {
    mask.copy(out, at);
    at += 4;
  }
  for (let i = 0; i < len; i++) out[at + i] = payload[i]! ^ (masked ? mask[i & 3]! : 0);
  return out;
}

interface Seen {
  data: Buffer[];
  control: Array<[number, string]>;
  refused?: [number, string];
}

function decode(stream: Buffer, cuts: number[], maxMessageBytes = 1 << 20): Seen {
  const seen: Seen = { data: [], control: [] };
  const sink: FrameSink = {
    data: (v) => seen.data.push(Buffer.from(v)),
    control: (op, p) => seen.control.push([op, Buffer.from(p).toString('hex')]),
    refuse: (code, reason) => {
      seen.refused = [code, reason];
    },
  };
  const decoder = new FrameDecoder(sink, maxMessageBytes);
  let from = 0;
  // each read is its own buffer at an odd offset in its memory, as socket reads can be
  for (const cut of [...cuts, stream.length]) {
    const piece = Buffer.alloc(cut - from + 1);
    stream.copy(piece, 1, from, cut);
    decoder.push(piece.subarray(1));
    from = cut;
  }
  return seen;
}

describe('bridge frame decoder', () => {
  const a = randomBytes(70_000);
  const b = randomBytes(300);
  const c = randomBytes(5);
  const stream = Buffer.concat([
    frame(OPCODE.binary, a, { fin: false }),
    frame(OPCODE.ping, Buffer.from('hi')),
    frame(OPCODE.continuation, b, { fin: false }),
    frame(OPCODE.continuation, Buffer.alloc(0), { fin: false }),
    frame(OPCODE.continuation, c),
    frame(OPCODE.binary, b),
    frame(OPCODE.close, Buffer.from([0x03, 0xe8])),
  ]);
  const want = Buffer.concat([a, b, c, b]);

  it('passes the payload of fragmented messages in order, whatever the reads (every split of the headers, random splits)', () => {
    const splits: number[][] = [[]];
    for (let i = 1; i < 40; i++) splits.push([i]); // through the first header and into the payload
    for (let n = 0; n < 50; n++) {
      const cuts = Array.from({ length: 20 }, () => 1 + Math.floor(Math.random() * (stream.length - 1)));
      splits.push([...new Set(cuts)].sort((x, y) => x - y));
    }
    for (const cuts of splits) {
      const seen = decode(stream, cuts);
      assert.equal(seen.refused, undefined);
      assert.ok(Buffer.concat(seen.data).equals(want), `payload intact with cuts ${cuts.join(',')}`);
      assert.deepEqual(seen.control, [
        [OPCODE.ping, Buffer.from('hi').toString('hex')],
        [OPCODE.close, '03e8'],
      ]);
    }
  });

  it('hands on views of the reads, not copies', () => {
    const one = frame(OPCODE.binary, a);
    const views: Uint8Array[] = [];
    new FrameDecoder({ data: (v) => views.push(v), control: () => undefined, refuse: () => undefined }, 1 << 20).push(
      one,
    );
    assert.equal(views.length, 1);
    assert.equal(views[0]!.buffer, one.buffer);
  });

  // what, the frames, the close code, the reason, payload bytes passed on before the refusal
  const refusals: Array<[string, Buffer, number, RegExp, number]> = [
    ['a text frame', frame(OPCODE.text, Buffer.from('hello')), 1003, /text frame/, 0],
    ['an unmasked frame', frame(OPCODE.binary, b, { masked: false }), 1002, /masked/, 0],
    ['reserved bits (no extension agreed)', frame(OPCODE.binary, b, { rsv: 0x40 }), 1002, /reserved/, 0],
    ['an unknown opcode', frame(0x3, b), 1002, /opcode 3/, 0],
    ['a continuation outside a message', frame(OPCODE.continuation, b), 1002, /continuation/, 0],
    [
      'a new message inside a fragmented one',
      Buffer.concat([frame(OPCODE.binary, b, { fin: false }), frame(OPCODE.binary, b)]),
      1002,
      /inside a fragmented/,
      b.length,
    ],
    ['a fragmented ping', frame(OPCODE.ping, c, { fin: false }), 1002, /control frames/, 0],
    ['a control frame over 125 bytes', frame(OPCODE.ping, Buffer.alloc(126)), 1002, /control frames/, 0],
    ['a frame over the message limit', frame(OPCODE.binary, Buffer.alloc(1025)), 1009, /larger than 1024/, 0],
    [
      'fragments adding up to more than the limit',
      Buffer.concat([frame(OPCODE.binary, Buffer.alloc(1000), { fin: false }), frame(OPCODE.continuation, b)]),
      1009,
      /larger than 1024/,
      1000,
    ],
  ];
  for (const [what, bytes, code, reason, before] of refusals) {
    it(`refuses ${what} (${code}) and decodes nothing after it`, () => {
      const seen = decode(Buffer.concat([bytes, frame(OPCODE.binary, b), frame(OPCODE.ping, c)]), [], 1024);
      assert.equal(seen.refused?.[0], code);
      assert.match(seen.refused[1], reason);
      assert.equal(Buffer.concat(seen.data).length, before);
      assert.equal(seen.control.length, 0);
    });
  }
});
