// A larger kernel send buffer for the unix sockets that carry image data out of this process.
// A unix socket queues at most its sender's send buffer (net.core.wmem_default, 208 KiB), less
// than one 256 KiB NBD reply: each reply then leaves in two writes, with a wait for the peer in
// between, and every wait is a wake-up on both sides. With 2 MiB the reply goes in one write and
// the reader finds it whole (bench B, same run: the daemon 0.64 → 0.44 CPU-s/GiB with both ends
// enlarged). Node has no setsockopt for stream sockets: the sockopt addon provides it. Without
// the addon the sockets keep the system's default, slower but the same otherwise.
import { createRequire } from 'node:module';
import type net from 'node:net';

interface SockOpt {
  setsockopt(socket: net.Socket, level: number, option: number, value: number): void;
  getsockopt(socket: net.Socket, level: number, option: number): number;
}

// <asm-generic/socket.h>, the values on every Linux architecture a BMC runs
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_SNDBUFFORCE = 32;

/**
 * Requested bytes; the kernel doubles it for its own bookkeeping (2 MiB reported). The image's
 * systemd/vmedia.sysctl.conf raises net.core.wmem_max to this, for the web, which cannot pass it.
 */
export const DATA_SEND_BUFFER_BYTES = 1024 * 1024;

function loadSockOpt(): SockOpt | undefined {
  try {
    return createRequire(import.meta.url)('sockopt') as SockOpt;
  } catch {
    return undefined; // an optional speed-up, as bufferutil is for the bridge
  }
}

const addon = loadSockOpt();
/** Whether send buffers can be enlarged here (the tests check that the addon loads). */
export const sendBufferAddon = addon !== undefined;

/**
 * Enlarges the socket's send buffer: past net.core.wmem_max where the process may
 * (CAP_NET_ADMIN: the daemon), else up to it. Returns the size the kernel reports, or undefined
 * when it cannot be set (no addon, a socket without a descriptor).
 */
export function enlargeSendBuffer(socket: net.Socket, bytes = DATA_SEND_BUFFER_BYTES): number | undefined {
  if (!addon) return undefined;
  try {
    try {
      addon.setsockopt(socket, SOL_SOCKET, SO_SNDBUFFORCE, bytes);
    } catch {
      addon.setsockopt(socket, SOL_SOCKET, SO_SNDBUF, bytes); // EPERM: capped at wmem_max
    }
    return addon.getsockopt(socket, SOL_SOCKET, SO_SNDBUF);
  } catch {
    return undefined; // the socket closed meanwhile, or has no descriptor of its own
  }
}

/** The socket's send buffer as the kernel reports it (tests and benchmarks). */
export function sendBufferBytes(socket: net.Socket): number | undefined {
  try {
    return addon?.getsockopt(socket, SOL_SOCKET, SO_SNDBUF);
  } catch {
    return undefined;
  }
}
