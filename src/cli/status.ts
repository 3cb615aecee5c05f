// `vmedia status [SLOT]`: every slot as the daemon reports it over D-Bus (ObjectManager): mode,
// state, media type, image (without query string or credentials), bytes the host read and wrote.
// A table for people, `--json` for scripts.
import type { CommandModule } from 'yargs';
import { redactUrl } from '../log.js';
import type { SlotState } from '../web/daemon/client.js';
import { describeErrno } from '../web/daemon/errno.js';
import { busOption, findSlot, withDaemon, type BusArgs } from './daemon-connection.js';
import { runOperatorCommand, usageFailure } from './operator-exit.js';

interface StatusArgs extends BusArgs {
  slot?: string;
  json: boolean;
}

/** What D-Bus shows: Active only in Active; ExitCode -1 from Mount until the media is gone. */
type SlotStateName = 'Ready' | 'Busy' | 'Active';

export interface SlotStatus {
  slot: string;
  mode: SlotState['mode'];
  mediaType: string | null;
  state: SlotStateName;
  active: boolean;
  /** The image without query string or user info (a presigned token, a password); null when empty. */
  image: string | null;
  writeProtected: boolean;
  readBytes: number;
  writtenBytes: number;
  /** How the last operation that ended in Ready failed; null when it succeeded. */
  lastError: { errno: number; name: string } | null;
  socket: string;
  endpointId: string;
}

function shownImage(url: string): string | null {
  if (url === '') return null;
  try {
    return redactUrl(new URL(url));
  } catch {
    return '(not a URL)';
  }
}

function slotStatus(s: SlotState): SlotStatus {
  const state: SlotStateName = s.active ? 'Active' : s.exitCode === -1 ? 'Busy' : 'Ready';
  return {
    slot: s.name,
    mode: s.mode,
    mediaType: s.mediaType ?? null,
    state,
    active: s.active,
    image: shownImage(s.imageUrl),
    writeProtected: s.writeProtected,
    readBytes: s.readBytes,
    writtenBytes: s.writtenBytes,
    lastError: state === 'Ready' && s.exitCode > 0 ? { errno: s.exitCode, name: describeErrno(s.exitCode).name } : null,
    socket: s.socket,
    endpointId: s.endpointId,
  };
}

/** 1536 → "1.5 KiB" */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function table(rows: SlotStatus[]): string {
  const header = ['SLOT', 'MODE', 'MEDIA', 'STATE', 'READ', 'WRITTEN', 'IMAGE'];
  const cells = rows.map((r) => [
    r.slot,
    r.mode,
    r.mediaType ?? '-',
    r.lastError ? `${r.state} (last: ${r.lastError.name})` : r.state,
    bytes(r.readBytes),
    bytes(r.writtenBytes),
    r.image ? `${r.image}${r.writeProtected ? '' : ' (rw)'}` : r.mode === 'Proxy' && r.active ? '(Proxy client)' : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return [header, ...cells]
    .map((line) =>
      line
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function status(args: StatusArgs): Promise<void> {
  const slots = await withDaemon(args.bus, async (client) =>
    args.slot === undefined ? client.slots() : [await findSlot(client, args.slot)],
  );
  const rows = slots.map(slotStatus);
  process.stdout.write(args.json ? `${JSON.stringify(rows, null, 2)}\n` : `${table(rows)}\n`);
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status [slot]',
  describe: 'show every slot (or one): mode, state, image, bytes read',
  builder: (y) =>
    busOption(y)
      .positional('slot', { type: 'string', describe: 'only this slot, e.g. Slot_2' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (an array of slots)' })
      .fail(usageFailure('status')),
  handler: (args) => runOperatorCommand('status', () => status(args)),
};
