import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

/** One numbered schema change: `NNN-what.sql` has version NNN. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The folder of numbered `.sql` files shipped next to this module. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** The database was written by a newer EncodeFarm; opening it could corrupt data it relies on. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${file} has schema version ${found}, but this EncodeFarm only knows up to ${known}; ` +
        'upgrade EncodeFarm or point it at another data directory',
    );
    this.name = 'SchemaTooNewError';
  }
}

const FILE_NAME = /^(\d+)-[\w.-]+\.sql$/;

/**
 * Reads the migrations in `dir`, sorted by version. Versions must run 1, 2, 3… without gaps or
 * duplicates, so a misnamed file fails loudly at start instead of being skipped forever.
 */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .flatMap((name) => {
      const match = FILE_NAME.exec(name);
      return match ? [{ version: Number(match[1]), name, sql: fs.readFileSync(path.join(dir, name), 'utf8') }] : [];
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`Expected migration ${i + 1} in ${dir}, got ${m.name}`);
    }
  });
  return migrations;
}

/** The schema version recorded in the database header (0 for a new file). */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to the newest migration. Each pending migration runs in its own
 * `BEGIN IMMEDIATE` transaction together with its `user_version` bump, so a crash leaves the
 * schema at a whole version and two processes opening the same file cannot apply one twice.
 * Refuses (SchemaTooNewError) a database newer than the code. Returns the versions applied.
 */
export function migrate(db: Db, migrations: readonly Migration[] = loadMigrations()): number[] {
  const known = migrations.at(-1)?.version ?? 0;
  const found = schemaVersion(db);
  if (found > known) throw new SchemaTooNewError(db.name, found, known);
  const applied: number[] = [];
  for (const m of migrations.filter((pending) => pending.version > found)) {
    const apply = db.transaction(() => {
      // Re-read inside the write lock: another process may have migrated while we waited.
      if (schemaVersion(db) >= m.version) return false;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (apply.immediate()) applied.push(m.version);
  }
  return applied;
}
