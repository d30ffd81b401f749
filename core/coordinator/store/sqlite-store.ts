import type { JobStore } from '../ports.ts';
import { agents } from './agents.ts';
import { batchesAndJobs } from './batches-jobs.ts';
import { bulkActions } from './bulk-actions.ts';
import { deviceBudgets } from './device-budgets.ts';
import { openDb } from './db.ts';
import { jobQueries } from './job-queries.ts';
import { leases } from './leases.ts';
import { logPresetsDevices } from './log-presets-devices.ts';
import { migrate } from './migrate.ts';
import { queueOrder } from './queue-order.ts';
import { settings } from './settings.ts';
import { watchFolders } from './watch.ts';

export interface SqliteStoreOptions {
  /** Database file; created (with its schema) when missing. */
  file: string;
  /**
   * How long a write waits for another process's write lock before failing with SQLITE_BUSY.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * better-sqlite3's compiled addon to load instead of its own build: the desktop app in
   * development runs in Electron, whose ABI differs from the Node build in node_modules.
   */
  nativeBinding?: string;
}

/**
 * Opens the SQLite job store, creating and migrating the file as needed (WAL, synchronous=NORMAL,
 * foreign keys, busy timeout; see `openDb`). Every write method is one BEGIN IMMEDIATE
 * transaction. Throws SchemaTooNewError for a database written by a newer EncodeFarm.
 */
export function openSqliteStore(opts: SqliteStoreOptions): JobStore {
  const db = openDb(opts.file, opts.busyTimeoutMs, opts.nativeBinding);
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    ...batchesAndJobs(db),
    ...leases(db),
    ...bulkActions(db),
    ...logPresetsDevices(db),
    ...deviceBudgets(db),
    ...agents(db),
    ...jobQueries(db),
    ...queueOrder(db),
    ...settings(db),
    ...watchFolders(db),
    dataVersion: () => db.pragma('data_version', { simple: true }) as number,
    close: () => db.close(),
  };
}
