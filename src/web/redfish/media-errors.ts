// What the daemon answered, as a Redfish error: a refused call (D-Bus error) or a failed
// operation (Completion(errno)). The errno's name and meaning always reach the client.
import { CompletionTimeout, DaemonCallError, type DaemonUnavailable } from '../daemon/client.js';
import { describeErrno, errnoText } from '../daemon/errno.js';
import { redfishError, type RedfishError } from './messages.js';

/** How long a client should wait before retrying while the daemon is unavailable. */
const RETRY_AFTER_SECONDS = 10;

/** The daemon is absent, stopped or went away: the service may well be back shortly. */
export function daemonUnavailable(err: DaemonUnavailable): RedfishError {
  return redfishError(503, 'ServiceTemporarilyUnavailable', [String(RETRY_AFTER_SECONDS)], {
    resolution: `${err.message}; retry in ${RETRY_AFTER_SECONDS} seconds.`,
  }).withHeader('Retry-After', String(RETRY_AFTER_SECONDS));
}

/** The daemon refused Mount/Unmount outright (wrong state, bad arguments). */
export function refusedCall(err: unknown, url?: string): RedfishError {
  if (err instanceof CompletionTimeout) {
    return redfishError(500, 'OperationTimeout', [], { resolution: `${err.message}; check the slot and retry.` });
  }
  if (!(err instanceof DaemonCallError)) throw err;
  switch (err.errno) {
    case 'EBUSY':
    case 'EPERM':
      return redfishError(409, 'ResourceInUse', [], {
        resolution: `The slot is busy (${err.errno}: ${err.message}); eject first or retry later.`,
      });
    case 'EINVAL':
      return redfishError(400, 'PropertyValueFormatError', [url ?? '', 'Image'], {
        related: ['#/Image'],
        resolution: err.message,
      });
    default:
      // only the first line: a D-Bus library's error text can carry its stack trace
      return redfishError(500, 'InternalError', [], {
        resolution: `The virtual media daemon refused the request: ${err.errorName}: ${err.message.split('\n')[0]}`,
      });
  }
}

/** InsertMedia's Completion(errno ≠ 0). */
export function insertFailed(errno: number, url: string): RedfishError {
  const { name } = describeErrno(errno);
  const why = `The virtual media service could not insert ${url}: ${errnoText(errno)}.`;
  const opts = { related: ['#/Image'], resolution: why };
  switch (name) {
    case 'EINVAL':
      return redfishError(400, 'PropertyValueFormatError', [url, 'Image'], opts);
    case 'ENOENT':
    case 'ENXIO':
      return redfishError(400, 'ResourceMissingAtURI', [url], opts);
    case 'EACCES':
    case 'EPERM':
    case 'EKEYREJECTED':
      return redfishError(400, 'ResourceAtUriUnauthorized', [url, errnoText(errno)], opts);
    case 'EPROTO':
    case 'ENOEXEC':
      return redfishError(400, 'ResourceAtUriInUnknownFormat', [url], opts);
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return redfishError(400, 'CouldNotEstablishConnection', [url], opts);
    case 'EBUSY':
      return redfishError(500, 'OperationTimeout', [], { resolution: `${why} The slot did not become ready in time.` });
    default:
      return redfishError(500, 'GeneralError', [], opts);
  }
}
