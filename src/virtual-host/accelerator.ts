// KVM when it really works, TCG otherwise. The /dev/kvm of some sandboxes is the kvm_pvm
// software backend, which has no vmx/svm and hangs guests (test/vm/harness/README.md), so a
// writable /dev/kvm alone is not enough.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

export type Accelerator = 'kvm' | 'tcg';

export function pickAccelerator(): Accelerator {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  const hardware = /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  return hardware && !existsSync('/sys/module/kvm_pvm') ? 'kvm' : 'tcg';
}
