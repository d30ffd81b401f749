import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../../../core/coordinator/store/db.ts';
import {
  loadMigrations,
  migrate,
  MIGRATIONS_DIR,
  SchemaTooNewError,
  schemaVersion,
  type Migration,
} from '../../../../core/coordinator/store/migrate.ts';
import { openSqliteStore } from '../../../../core/coordinator/store/sqlite-store.ts';

let dir: string;
let file: string;
const open: Db[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-migrate-'));
  file = path.join(dir, 'encodefarm.db');
});

afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function connect(): Db {
  const db = openDb(file);
  open.push(db);
  return db;
}

function tables(db: Db): string[] {
  return db
    .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all();
}

const shipped = loadMigrations();
const extra = (version: number, sql: string): Migration => ({ version, name: `${version}-test.sql`, sql });

describe('loadMigrations', () => {
  it('reads the shipped migrations numbered from 1 without gaps', () => {
    expect(shipped.length).toBeGreaterThan(0);
    expect(shipped.map((m) => m.version)).toEqual(shipped.map((_, i) => i + 1));
    expect(fs.readdirSync(MIGRATIONS_DIR)).toContain('001-init.sql');
  });

  it('refuses a folder with a gap in the numbering', () => {
    const migrations = path.join(dir, 'migrations');
    fs.mkdirSync(migrations);
    fs.writeFileSync(path.join(migrations, '001-a.sql'), 'CREATE TABLE a (x);');
    fs.writeFileSync(path.join(migrations, '003-c.sql'), 'CREATE TABLE c (x);');
    expect(() => loadMigrations(migrations)).toThrow(/Expected migration 2/);
  });
});

describe('migrate', () => {
  it('applies every migration to a new database once; running again is a no-op', () => {
    const db = connect();
    expect(migrate(db)).toEqual(shipped.map((m) => m.version));
    expect(schemaVersion(db)).toBe(shipped.length);
    expect(tables(db)).toEqual(expect.arrayContaining(['attempts', 'batches', 'devices', 'job_log', 'jobs', 'presets']));
    expect(migrate(db)).toEqual([]);
    db.close();
    expect(migrate(connect())).toEqual([]);
  });

  it('applies only the migrations newer than the database', () => {
    const db = connect();
    migrate(db);
    const next = shipped.length + 1;
    expect(migrate(db, [...shipped, extra(next, 'CREATE TABLE later (x INTEGER);')])).toEqual([next]);
    expect(tables(db)).toContain('later');
    expect(schemaVersion(db)).toBe(next);
  });

  it('rolls a failing migration back whole, leaving the version where it was', () => {
    const db = connect();
    migrate(db);
    const bad = extra(shipped.length + 1, 'CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);');
    expect(() => migrate(db, [...shipped, bad])).toThrow(/no_such_table/);
    expect(tables(db)).not.toContain('half');
    expect(schemaVersion(db)).toBe(shipped.length);
  });

  it('refuses a database written by a newer version', () => {
    const db = connect();
    const future = shipped.length + 1;
    migrate(db, [...shipped, extra(future, 'CREATE TABLE from_the_future (x INTEGER);')]);
    expect(() => migrate(db)).toThrow(SchemaTooNewError);
    db.close();
    expect(() => openSqliteStore({ file })).toThrow(
      new RegExp(`schema version ${future}, but this EncodeFarm only knows up to ${shipped.length}`),
    );
  });
});

describe('openDb', () => {
  it('configures WAL, synchronous=NORMAL, foreign keys and the busy timeout', () => {
    const db = openDb(file, 1234);
    open.push(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    // 1 = NORMAL
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
  });

  it('rejects a negative busy timeout', () => {
    expect(() => openDb(file, -1)).toThrow('Expected busyTimeoutMs to be a non-negative integer, got -1');
  });
});
