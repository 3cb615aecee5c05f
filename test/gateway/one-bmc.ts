// A gateway in front of one real vmedia BMC (bus + daemon with the export backend + web): its CD
// slot Slot_2 and USB stick slot Slot_3 read the gateway's media server, whose certificate the
// BMC trusts. For the tests of windows, boots and generated media.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';

export const BMC = 'bmc-1';
export const SLOT = { cd: 'Slot_2', usb: 'Slot_3' } as const;

export interface AttachmentView {
  id: string;
  state: string;
  error: string | null;
  errorCount: number;
  slotUri: string | null;
  window: { start: string; end: string } | null;
  boot: string | null;
  generated: { nonce: string } | null;
}

export interface GatewayWithBmc {
  gw: GatewayProcess;
  stack: Stack;
  attachment(id: string): Promise<AttachmentView>;
  /** Waits until the attachment is in `state` (failing at once when it failed instead). */
  waitState(id: string, state: string, timeoutMs?: number): Promise<AttachmentView>;
  /** The BMC's VirtualMedia member for the device, as its ReadOnly user reads it. */
  slot(device: keyof typeof SLOT): Promise<{ Inserted: boolean; Image: string | null }>;
  exportSocket(device: keyof typeof SLOT): string;
  stop(): Promise<void>;
}

/** Registers the BMC on a gateway, as an admin does. */
export async function registerBmc(gw: GatewayProcess, stack: Stack): Promise<void> {
  const res = await gw.api('/api/bmcs', {
    method: 'POST',
    body: {
      name: BMC,
      redfishUrl: stack.baseUrl,
      username: stack.operator.user,
      password: stack.operator.password,
      caPem: stack.ca,
    },
  });
  assert.equal(res.status, 201, res.text);
}

/** `gatewayArgs`: more options of the gateway (e.g. `--postgres`). */
export async function startGatewayWithBmc(gatewayArgs: string[] = []): Promise<GatewayWithBmc> {
  // a loaded machine (other test files starting their stacks) can take long to start one
  const stack = await startStack({
    mediaTypes: { [SLOT.cd]: 'CD', [SLOT.usb]: 'USBStick' },
    slotTimeout: 30,
    startTimeoutMs: 90_000,
  });
  let gw: GatewayProcess;
  try {
    gw = await startGatewayProcess({ extraArgs: gatewayArgs });
  } catch (err) {
    await stack.stop();
    throw err;
  }
  writeFileSync(path.join(stack.trustStore, 'gateway.pem'), gw.ca);
  await registerBmc(gw, stack);
  const attachment = async (id: string) =>
    (await gw.api(`/api/attachments/${id}`, { as: 'reader' })).json as AttachmentView;
  return {
    gw,
    stack,
    attachment,
    waitState: (id, state, timeoutMs = 60_000) =>
      waitFor(
        () => `attachment ${id} ${state}`,
        async () => {
          const row = await attachment(id);
          if (row.state === 'failed' && state !== 'failed') throw new Error(`attachment ${id} failed: ${row.error}`);
          return row.state === state && row;
        },
        { timeoutMs, intervalMs: 100 },
      ),
    slot: async (device) =>
      (await stack.request(`/redfish/v1/Managers/bmc/VirtualMedia/${SLOT[device]}`, { auth: stack.readOnly })).json as {
        Inserted: boolean;
        Image: string | null;
      },
    exportSocket: (device) => stack.slots.find((s) => s.name === SLOT[device])!.exportSocket,
    stop: async () => {
      await gw.stop();
      await stack.stop();
    },
  };
}
