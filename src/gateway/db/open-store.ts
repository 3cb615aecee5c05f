// The gateway's database: PostgreSQL when configured, else the embedded SQLite. Each driver is
// loaded only when chosen: a bundle built without the SQLite addon (`scripts/bundle.ts
// --no-sqlite`, e.g. for a BMC image, which never runs the gateway) still runs on PostgreSQL.
import type { Logger } from '../../log.js';
import type { GatewayStore } from './store.js';

export async function openStore(postgres: string | undefined, sqliteFile: string, log: Logger): Promise<GatewayStore> {
  if (postgres) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(postgres, (err) =>
      log.warn({ err: err.message }, 'PostgreSQL ended a pooled connection: the next query opens another'),
    );
  }
  let openSqliteStore: (file: string) => GatewayStore;
  try {
    ({ openSqliteStore } = await import('./sqlite.js'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error('this build of vmedia has no SQLite (better-sqlite3 was left out of the bundle): use --postgres', {
      cause: err,
    });
  }
  return openSqliteStore(sqliteFile);
}
