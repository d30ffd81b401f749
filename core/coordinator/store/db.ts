import BetterSqlite3 from 'better-sqlite3';

/** An open better-sqlite3 connection; the type stays inside `store/`. */
export type Db = BetterSqlite3.Database;

/** The busy timeout used unless the caller picks one. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens a connection configured the way every EncodeFarm connection must be: WAL, so the UI's
 * reads run beside the scheduler's writes; synchronous=NORMAL, durable across process crashes in
 * WAL mode (only the last commits are at risk on power loss); foreign keys enforced; and a busy
 * timeout so a write waits for another process's lock instead of failing at once.
 */
export function openDb(file: string, busyTimeoutMs: number = DEFAULT_BUSY_TIMEOUT_MS, nativeBinding?: string): Db {
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(`Expected busyTimeoutMs to be a non-negative integer, got ${busyTimeoutMs}`);
  }
  const db = new BetterSqlite3(file, { timeout: busyTimeoutMs, ...(nativeBinding && { nativeBinding }) });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Wraps `fn` so every call runs as one `BEGIN IMMEDIATE` transaction: the write lock is taken up
 * front, so two coordinators (or the CLI and the app) never deadlock upgrading a read lock, and a
 * busy database waits up to the busy timeout instead of failing mid-transaction.
 */
export function writeTx<A extends unknown[], R>(db: Db, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => tx.immediate(...args);
}

/** Binds a list as one JSON parameter, read in SQL with `IN (SELECT value FROM json_each(?))`. */
export function jsonList(values: readonly (string | number)[]): string {
  return JSON.stringify(values);
}
