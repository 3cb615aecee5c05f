// Re-serve what an NbdClient reaches: the export host backend puts our server in front of a
// slot's NBD source this way. All connections share the one upstream connection, so a flush
// through it covers every writer (multi-conn safe).
import type { BlockBackend } from './backend.js';
import type { NbdClient } from './client.js';

export function clientBackend(client: NbdClient): BlockBackend {
  return {
    size: client.size,
    readOnly: client.readOnly,
    multiConn: true,
    ...(client.preferredBlockBytes ? { preferredBlockBytes: client.preferredBlockBytes } : {}),
    read: (offset, length) => client.read(offset, length),
    readInto: (offset, dest) => client.readInto(offset, dest),
    readIntoThen: (offset, dest, done) => client.readIntoThen(offset, dest, done),
    write: (offset, data, fua) => client.write(offset, data, { fua }),
    flush: () => client.flush(),
    close: () => client.disconnect(),
  };
}
