// Redfish ComputerSystem on one BMC, for an attach that asks for a boot: a one-time boot override
// to the device the image is in (PATCH Boot), then a reset that starts the host from it
// (ComputerSystem.Reset: ForceRestart when it is on, On when it is off), as Ironic's virtual media
// boot does through sushy. The PATCH carries the ETag of the system as last read (If-Match) when
// the BMC gave one: many BMCs require it (DSP0266 "ETags"; bmcweb does not) and answer 412 when the
// system changed since, and then it is read again and the PATCH sent once more.
import { GatewayError } from '../errors.js';
import type { DeviceType } from '../types.js';
import type { RedfishClient, RedfishResponse } from './redfish-client.js';
import { expectOk, odataId } from './virtual-media.js';

const BOOT_TARGET: Record<DeviceType, string> = { cd: 'Cd', usb: 'Usb' };

/** PowerState values of a host that is running or getting there: it is restarted, not powered on. */
const POWERED = ['On', 'PoweringOn'];

export interface BootResult {
  system: string;
  resetType: 'ForceRestart' | 'On';
}

export class ComputerSystemDriver {
  constructor(private readonly client: RedfishClient) {}

  /** Sets a one-time boot from `device` on the BMC's (first) system and resets the host into it. */
  async bootOnce(device: DeviceType): Promise<BootResult> {
    const system = await this.firstSystem();
    const override = { Boot: { BootSourceOverrideTarget: BOOT_TARGET[device], BootSourceOverrideEnabled: 'Once' } };
    let read = await this.read(system);
    let patched = await this.client.patch(system, override, read.etag);
    if (patched.status === 412) {
      read = await this.read(system);
      patched = await this.client.patch(system, override, read.etag);
    }
    expectOk(patched, `the boot override (PATCH ${system}${read.etag ? `, If-Match ${read.etag}` : ''})`);
    // the power state and the reset action as read right before the override went in
    const body = read.body as Record<string, unknown>;
    const resetType = POWERED.includes(String(body.PowerState)) ? 'ForceRestart' : 'On';
    const actions = (body.Actions ?? {}) as Record<string, { target?: string } | undefined>;
    const target = actions['#ComputerSystem.Reset']?.target;
    if (!target) throw new GatewayError(502, 'BmcRefused', `${system} has no ComputerSystem.Reset action`);
    expectOk(
      await this.client.post(target, { ResetType: resetType }),
      `ComputerSystem.Reset ${resetType} on ${system}`,
    );
    return { system, resetType };
  }

  private async read(system: string): Promise<RedfishResponse> {
    const res = await this.client.get(system);
    expectOk(res, `reading ${system}`);
    return res;
  }

  private async firstSystem(): Promise<string> {
    const root = await this.client.get('/redfish/v1');
    expectOk(root, 'reading the service root');
    const collection = odataId((root.body as Record<string, unknown>).Systems);
    if (!collection) throw new GatewayError(502, 'BmcRefused', 'the BMC has no Systems collection');
    const res = await this.client.get(collection);
    expectOk(res, `reading ${collection}`);
    const members = (res.body as Record<string, unknown>).Members;
    const first = Array.isArray(members) ? odataId(members[0]) : undefined;
    if (!first) throw new GatewayError(502, 'BmcRefused', `${collection} has no member`);
    return first;
  }
}
