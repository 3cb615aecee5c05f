// Basics of every test under test/vm: they run only inside the QEMU VM (test/vm/harness), where
// nbd, configfs and dummy_hcd exist, and fail loudly anywhere else instead of skipping.
import { mkdtempSync } from 'node:fs';
import path from 'node:path';

/** Throws unless running inside the VM; call it first in every test file. */
export function requireVm(): void {
  if (process.env.VMEDIA_IN_VM !== '1') {
    throw new Error(
      'test/vm runs only inside the QEMU VM: bash test/vm/harness/run-in-vm.sh -- node --import tsx --test test/vm/*.test.ts',
    );
  }
}

/** A fresh directory on the VM's tmpfs (Unix sockets do not work on the 9p share). */
export function vmTempDir(prefix: string): string {
  return mkdtempSync(path.join('/tmp', `${prefix}-`));
}
