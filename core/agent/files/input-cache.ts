import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DiskFullError, TransferFailedError } from '../../shared/errors.ts';
import { createKeyedLock } from '../../shared/keyed-lock.ts';

/** A downloaded input, named by the sha256 of its content. */
export interface CacheEntry {
  readonly key: string;
  /** Where a download in progress is appended (kept across attempts, so it resumes). */
  readonly partPath: string;
  /** The complete, verified copy an encode reads. */
  readonly path: string;
}

/**
 * A size-capped folder of downloaded inputs. Entries are keyed by the content's sha256, so jobs
 * sharing an input download it once, and a changed source can never resume onto stale bytes.
 * An entry is pinned from `reserve` until `release`; eviction (least recently used first) only
 * ever deletes unpinned entries, so no encode loses the file it is reading.
 */
export interface InputCache {
  /** Pins `key` and makes room for `size` bytes. DiskFullError when it can never fit. */
  reserve(key: string, size: number): Promise<CacheEntry>;
  /** Runs `fn` alone for `key`: two jobs never append to the same `.part` at once. */
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** True once `commit` moved the verified download to its final name. */
  isComplete(key: string): boolean;
  /** Moves the verified `.part` to its final name. */
  commit(key: string): Promise<void>;
  /** Unpins `key` (once per `reserve`); the entry stays cached until evicted. */
  release(key: string): void;
  /** Bytes accounted to entries (declared sizes of downloads in progress included). */
  usedBytes(): number;
}

export interface InputCacheOptions {
  dir: string;
  /** Cap on the folder's size in bytes (`--cache-max`). */
  maxBytes: number;
}

interface Slot {
  size: number;
  complete: boolean;
  pins: number;
  lastUse: number;
}

const KEY = /^[0-9a-f]{64}$/;

export function createInputCache(opts: InputCacheOptions): InputCache {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes <= 0) throw new TypeError(`Expected maxBytes to be a positive integer, got ${opts.maxBytes}`);
  const slots = new Map<string, Slot>();
  const exclusive = createKeyedLock();
  let tick = 0;
  let ready: Promise<void> | undefined;
  const entry = (key: string): CacheEntry => ({ key, partPath: path.join(opts.dir, `${key}.part`), path: path.join(opts.dir, key) });
  const used = () => [...slots.values()].reduce((n, s) => n + s.size, 0);

  /** Evicts least-recently-used unpinned entries until `needed` more bytes fit. */
  function makeRoom(needed: number, keep: string): string[] {
    const doomed: string[] = [];
    while (used() + needed > opts.maxBytes) {
      const victim = [...slots].filter(([k, s]) => k !== keep && s.pins === 0).sort((a, b) => a[1].lastUse - b[1].lastUse)[0];
      if (!victim) {
        throw new TransferFailedError(`download cache full: ${used()} of ${opts.maxBytes} bytes are inputs of running jobs; ${needed} more needed`);
      }
      slots.delete(victim[0]);
      doomed.push(victim[0]);
    }
    return doomed;
  }

  return {
    async reserve(key, size) {
      checkKey(key);
      if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`Expected a non-negative integer size, got ${size}`);
      if (size > opts.maxBytes) {
        throw new DiskFullError(`input of ${size} bytes does not fit the download cache (${opts.maxBytes} bytes, --cache-max)`);
      }
      await (ready ??= scan(opts.dir, slots).then((n) => void (tick = n)));
      const slot = slots.get(key);
      // Accounting changes synchronously, before any await, so concurrent reservations agree.
      const doomed = makeRoom(!slot ? size : slot.complete ? 0 : Math.max(0, size - slot.size), key);
      if (slot) Object.assign(slot, { size: slot.complete ? slot.size : size, pins: slot.pins + 1, lastUse: ++tick });
      else slots.set(key, { size, complete: false, pins: 1, lastUse: ++tick });
      for (const k of doomed) await removeFiles(entry(k));
      return entry(key);
    },
    exclusive: (key, fn) => exclusive(key, fn),
    isComplete: (key) => slots.get(key)?.complete ?? false,
    async commit(key) {
      const e = entry(key);
      await fsp.rename(e.partPath, e.path);
      const slot = slots.get(key);
      if (slot) Object.assign(slot, { complete: true, lastUse: ++tick });
    },
    release(key) {
      const slot = slots.get(key);
      if (slot && slot.pins > 0) Object.assign(slot, { pins: slot.pins - 1, lastUse: ++tick });
    },
    usedBytes: used,
  };
}

function checkKey(key: string): void {
  // The key becomes a file name; only a hex digest can never name anything outside the folder.
  if (!KEY.test(key)) throw new TypeError(`Expected a sha256 hex digest as cache key, got "${key}"`);
}

async function removeFiles(e: CacheEntry): Promise<void> {
  await fsp.rm(e.path, { force: true });
  await fsp.rm(e.partPath, { force: true });
}

/** Adopts what an earlier run left in the folder, oldest first; returns the last tick used. */
async function scan(dir: string, slots: Map<string, Slot>): Promise<number> {
  await fsp.mkdir(dir, { recursive: true });
  const found: { key: string; complete: boolean; size: number; mtimeMs: number }[] = [];
  for (const name of await fsp.readdir(dir)) {
    const key = name.endsWith('.part') ? name.slice(0, -'.part'.length) : name;
    if (!KEY.test(key)) continue;
    const st = await fsp.stat(path.join(dir, name)).catch(() => undefined);
    if (st?.isFile()) found.push({ key, complete: key === name, size: st.size, mtimeMs: st.mtimeMs });
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs);
  const completeKeys = new Set(found.filter((f) => f.complete).map((f) => f.key));
  let tick = 0;
  for (const f of found) {
    // A complete copy makes a leftover .part of the same content useless.
    if (!f.complete && completeKeys.has(f.key)) await fsp.rm(path.join(dir, `${f.key}.part`), { force: true });
    else slots.set(f.key, { size: f.size, complete: f.complete, pins: 0, lastUse: ++tick });
  }
  return tick;
}
