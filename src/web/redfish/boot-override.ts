// ComputerSystem.Boot ⇄ phosphor-settingsd's boot override, mapped as bmcweb's systems.hpp maps
// it: BootSourceOverrideTarget is BootSource and BootMode together (a mode other than Regular is
// the target), BootSourceOverrideMode is BootType, BootSourceOverrideEnabled is the two
// Object.Enable objects (boot: an override is set; boot/one_time: for the next boot only).
import type { HostWrite } from '../host/properties.js';
import { redfishError } from './messages.js';

export const OVERRIDE_ENABLED = ['Disabled', 'Once', 'Continuous'] as const;
export const OVERRIDE_TARGETS = ['None', 'Pxe', 'Hdd', 'Cd', 'Diags', 'BiosSetup', 'Usb'] as const;
export const OVERRIDE_MODES = ['Legacy', 'UEFI'] as const;

type Target = (typeof OVERRIDE_TARGETS)[number];
type Mode = (typeof OVERRIDE_MODES)[number];

const SOURCES = 'xyz.openbmc_project.Control.Boot.Source.Sources.';
const MODES = 'xyz.openbmc_project.Control.Boot.Mode.Modes.';
const TYPES = 'xyz.openbmc_project.Control.Boot.Type.Types.';

/** bmcweb's dbusToRfBootSource; the other Sources (IPv4, IPv6, USB) have no target there. */
const TARGET_OF_SOURCE: Record<string, string> = {
  [`${SOURCES}Default`]: 'None',
  [`${SOURCES}Disk`]: 'Hdd',
  [`${SOURCES}ExternalMedia`]: 'Cd',
  [`${SOURCES}Network`]: 'Pxe',
  [`${SOURCES}RemovableMedia`]: 'Usb',
  [`${SOURCES}HTTP`]: 'UefiHttp',
};
/** bmcweb's dbusToRfBootMode for the modes other than Regular, which win over the source. */
const TARGET_OF_MODE: Record<string, string> = { [`${MODES}Safe`]: 'Diags', [`${MODES}Setup`]: 'BiosSetup' };
/** bmcweb's assignBootParameters: each target sets both, the one it does not need to its default. */
const SOURCE_AND_MODE_OF_TARGET: Record<Target, [source: string, mode: string]> = {
  None: ['Default', 'Regular'],
  Pxe: ['Network', 'Regular'],
  Hdd: ['Disk', 'Regular'],
  Cd: ['ExternalMedia', 'Regular'],
  Diags: ['Default', 'Safe'],
  BiosSetup: ['Default', 'Setup'],
  Usb: ['RemovableMedia', 'Regular'],
};
const TYPE_OF_MODE: Record<Mode, string> = { Legacy: `${TYPES}Legacy`, UEFI: `${TYPES}EFI` };

/** The settings as read from D-Bus; undefined when unreadable (the settings service is absent). */
export interface BootSettings {
  source: unknown;
  mode: unknown;
  type: unknown;
  overrideEnabled: unknown;
  oneTime: unknown;
}

function overrideEnabled({ overrideEnabled, oneTime }: BootSettings): string | undefined {
  if (overrideEnabled === false) return 'Disabled';
  if (overrideEnabled !== true || typeof oneTime !== 'boolean') return undefined;
  return oneTime ? 'Once' : 'Continuous';
}

function overrideTarget({ source, mode }: BootSettings): string | undefined {
  return (
    (typeof mode === 'string' ? TARGET_OF_MODE[mode] : undefined) ??
    (typeof source === 'string' ? TARGET_OF_SOURCE[source] : undefined)
  );
}

function overrideMode({ type }: BootSettings): string | undefined {
  return (Object.entries(TYPE_OF_MODE) as [Mode, string][]).find(([, dbus]) => dbus === type)?.[0];
}

/** The Boot object: always present with its allowable values (sushy requires Boot), values when known. */
export function bootJson(settings: BootSettings): object {
  const enabled = overrideEnabled(settings);
  const target = overrideTarget(settings);
  const mode = overrideMode(settings);
  return {
    ...(enabled ? { BootSourceOverrideEnabled: enabled } : {}),
    'BootSourceOverrideEnabled@Redfish.AllowableValues': [...OVERRIDE_ENABLED],
    ...(target ? { BootSourceOverrideTarget: target } : {}),
    'BootSourceOverrideTarget@Redfish.AllowableValues': [...OVERRIDE_TARGETS],
    ...(mode ? { BootSourceOverrideMode: mode } : {}),
    'BootSourceOverrideMode@Redfish.AllowableValues': [...OVERRIDE_MODES],
  };
}

function oneOf<T extends string>(
  boot: Record<string, unknown>,
  property: string,
  allowed: readonly T[],
): T | undefined {
  const value = boot[property];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw redfishError(400, 'PropertyValueTypeError', [JSON.stringify(value), property], {
      related: [`#/Boot/${property}`],
      resolution: `The property ${property} must be a string.`,
    });
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw redfishError(400, 'PropertyValueNotInList', [value, property], {
      related: [`#/Boot/${property}`],
      resolution: `Use one of: ${allowed.join(', ')}.`,
    });
  }
  return value as T;
}

/**
 * The D-Bus writes for a PATCH's Boot object, in bmcweb's order (target, mode, enabled). Every
 * value is checked before anything is written, so a refused PATCH changes nothing.
 */
export function bootWrites(boot: unknown): HostWrite[] {
  if (typeof boot !== 'object' || boot === null || Array.isArray(boot)) {
    throw redfishError(400, 'PropertyValueTypeError', [JSON.stringify(boot), 'Boot'], {
      related: ['#/Boot'],
      resolution: 'Boot must be an object.',
    });
  }
  const fields = boot as Record<string, unknown>;
  const known = ['BootSourceOverrideEnabled', 'BootSourceOverrideTarget', 'BootSourceOverrideMode'];
  const unknown = Object.keys(fields).find((k) => !known.includes(k));
  if (unknown !== undefined) throw redfishError(400, 'PropertyUnknown', [unknown], { related: [`#/Boot/${unknown}`] });
  const target = oneOf(fields, 'BootSourceOverrideTarget', OVERRIDE_TARGETS);
  const mode = oneOf(fields, 'BootSourceOverrideMode', OVERRIDE_MODES);
  const enabled = oneOf(fields, 'BootSourceOverrideEnabled', OVERRIDE_ENABLED);

  const writes: HostWrite[] = [];
  if (target !== undefined) {
    const [source, bootMode] = SOURCE_AND_MODE_OF_TARGET[target];
    writes.push(
      { property: 'bootSource', value: `${SOURCES}${source}` },
      { property: 'bootMode', value: `${MODES}${bootMode}` },
    );
  }
  if (mode !== undefined) writes.push({ property: 'bootType', value: TYPE_OF_MODE[mode] });
  if (enabled !== undefined) {
    writes.push({ property: 'overrideEnabled', value: enabled !== 'Disabled' });
    // bmcweb leaves one_time alone when the override goes off
    if (enabled !== 'Disabled') writes.push({ property: 'oneTimeEnabled', value: enabled === 'Once' });
  }
  return writes;
}
