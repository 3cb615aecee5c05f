// The firmware of an EFI boot: OVMF from Debian's ovmf package, its code read-only and its
// variable store a copy of its own per `vmedia host` run (the VM's NVRAM, kept across boots).
// A Legacy boot needs nothing here: it is QEMU's default SeaBIOS.
import { copyFileSync, existsSync } from 'node:fs';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';
const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS.fd';

export interface EfiFirmware {
  code: string;
  vars: string;
}

/** Copies the variable store template on first use; throws when OVMF is not installed. */
export function efiFirmware(varsCopy: string): EfiFirmware {
  if (!existsSync(varsCopy)) {
    if (!existsSync(OVMF_CODE) || !existsSync(OVMF_VARS_TEMPLATE)) {
      throw new Error(
        `an EFI boot needs OVMF (${OVMF_CODE}): install Debian's ovmf package, or set BootType to Legacy`,
      );
    }
    copyFileSync(OVMF_VARS_TEMPLATE, varsCopy);
  }
  return { code: OVMF_CODE, vars: varsCopy };
}
