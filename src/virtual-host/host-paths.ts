// The virtual host's files in the runtime dir (docs/virtual-host.md).
import path from 'node:path';

export interface HostPaths {
  /** The VM's serial console, appended to across boots. */
  consoleLog: string;
  /** Our QMP connection to QEMU. */
  qmpSocket: string;
  /** A second QMP socket for people and tests (socat - UNIX-CONNECT:…); QMP serves one client per socket. */
  monitorSocket: string;
  /** The OVMF variable store of this run. */
  efiVars: string;
}

export function hostPaths(runtimeDir: string): HostPaths {
  const dir = path.join(runtimeDir, 'host');
  return {
    consoleLog: path.join(runtimeDir, 'host-console.log'),
    qmpSocket: path.join(dir, 'qmp.sock'),
    monitorSocket: path.join(dir, 'monitor.sock'),
    efiVars: path.join(dir, 'OVMF_VARS.fd'),
  };
}
