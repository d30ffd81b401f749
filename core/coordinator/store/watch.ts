import path from 'node:path';
import type { FileFingerprint, JobStore, NewWatchFolder, WatchFileRow, WatchFolderRow, WatchFolderState } from '../ports.ts';
import { WatchFolderExistsError } from '../watch/watch-errors.ts';
import { assertTransition } from '../../shared/job-state.ts';
import { writeTx, type Db } from './db.ts';
import { jobWriter } from './job-writer.ts';

type WatchStore = Pick<
  JobStore,
  | 'listWatchFolders'
  | 'getWatchFolder'
  | 'addWatchFolder'
  | 'removeWatchFolder'
  | 'setWatchFolderState'
  | 'findWatchFile'
  | 'countWatchVersions'
  | 'recordWatchFile'
  | 'watchFileForJob'
  | 'setWatchFileArchived'
  | 'listUnarchivedDone'
>;

interface FolderRecord {
  id: number;
  path: string;
  preset_id: string;
  out_dir: string;
  recursive: number;
  include_json: string;
  exclude_json: string;
  after_action: 'keep' | 'archive';
  archive_dir: string | null;
  stability_ms: number | null;
  created_at: number;
  state: WatchFolderState;
  offline_reason: string | null;
}

interface FileRecord {
  id: number;
  folder_id: number;
  path: string;
  size: number;
  mtime_ms: number;
  inode: number;
  job_id: number | null;
  batch_id: number | null;
  seen_at: number;
  archived_path: string | null;
}

/** A hand-edited pattern list that no longer parses counts as empty rather than breaking the watcher. */
function stringList(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function toFolder(r: FolderRecord): WatchFolderRow {
  return {
    id: r.id,
    path: r.path,
    presetId: r.preset_id,
    outDir: r.out_dir,
    recursive: r.recursive === 1,
    include: stringList(r.include_json),
    exclude: stringList(r.exclude_json),
    after: r.after_action === 'archive' && r.archive_dir ? { kind: 'archive', dir: r.archive_dir } : { kind: 'keep' },
    stabilityMs: r.stability_ms,
    createdAt: r.created_at,
    state: r.state,
    offlineReason: r.offline_reason,
  };
}

function toFile(r: FileRecord): WatchFileRow {
  return {
    id: r.id,
    folderId: r.folder_id,
    path: r.path,
    size: r.size,
    mtimeMs: r.mtime_ms,
    inode: r.inode,
    jobId: r.job_id,
    batchId: r.batch_id,
    seenAt: r.seen_at,
    archivedPath: r.archived_path,
  };
}

/** Watch folders and the fingerprints of the file versions they queued (migration 007). */
export function watchFolders(db: Db): WatchStore & WatchOfflineStore {
  const all = db.prepare<[], FolderRecord>('SELECT * FROM watch_folders ORDER BY id');
  const byId = db.prepare<[number], FolderRecord>('SELECT * FROM watch_folders WHERE id = ?');
  const byPath = db.prepare<[string], FolderRecord>('SELECT * FROM watch_folders WHERE path = ?');
  const insertFolder = db.prepare(`
    INSERT INTO watch_folders (path, preset_id, out_dir, recursive, include_json, exclude_json, after_action, archive_dir, stability_ms, created_at)
    VALUES (@path, @presetId, @outDir, @recursive, @include, @exclude, @afterAction, @archiveDir, @stabilityMs, @now)`);
  const deleteFolder = db.prepare<[number]>('DELETE FROM watch_folders WHERE id = ?');
  const updateState = db.prepare<[WatchFolderState, string | null, number, WatchFolderState, string | null]>(`
    UPDATE watch_folders SET state = ?, offline_reason = ?
    WHERE id = ? AND (state IS NOT ? OR offline_reason IS NOT ?)`);
  const fileByFp = db.prepare<[number, string, number, number, number], FileRecord>(`
    SELECT * FROM watch_files WHERE folder_id = ? AND path = ? AND size = ? AND mtime_ms = ? AND inode = ?`);
  const versions = db.prepare<[number, string], number>('SELECT COUNT(*) FROM watch_files WHERE folder_id = ? AND path = ?').pluck();
  const insertFile = db.prepare(`
    INSERT INTO watch_files (folder_id, path, size, mtime_ms, inode, job_id, batch_id, seen_at)
    VALUES (@folderId, @path, @size, @mtimeMs, @inode, @jobId, @batchId, @now)
    ON CONFLICT (folder_id, path, size, mtime_ms, inode) DO NOTHING`);
  const fileByJob = db.prepare<[number], FileRecord>('SELECT * FROM watch_files WHERE job_id = ? ORDER BY id DESC LIMIT 1');
  const archive = db.prepare<[string, number]>('UPDATE watch_files SET archived_path = ? WHERE id = ?');
  const unarchivedDone = db.prepare<[number], FileRecord>(`
    SELECT f.* FROM watch_files f JOIN jobs j ON j.id = f.job_id
    WHERE f.folder_id = ? AND f.archived_path IS NULL AND j.state = 'done' ORDER BY f.id`);

  return {
    ...watchOffline(db),
    listWatchFolders: () => all.all().map(toFolder),
    getWatchFolder: (id) => {
      const r = byId.get(id);
      return r && toFolder(r);
    },
    addWatchFolder: writeTx(db, (f: NewWatchFolder, now: number): WatchFolderRow => {
      const existing = byPath.get(f.path);
      if (existing) throw new WatchFolderExistsError(f.path, existing.id);
      const { lastInsertRowid } = insertFolder.run({
        path: f.path,
        presetId: f.presetId,
        outDir: f.outDir,
        recursive: f.recursive ? 1 : 0,
        include: JSON.stringify(f.include),
        exclude: JSON.stringify(f.exclude),
        afterAction: f.after.kind,
        archiveDir: f.after.kind === 'archive' ? f.after.dir : null,
        stabilityMs: f.stabilityMs,
        now,
      });
      return toFolder(byId.get(Number(lastInsertRowid))!);
    }),
    removeWatchFolder: writeTx(db, (id: number): boolean => deleteFolder.run(id).changes > 0),
    setWatchFolderState: writeTx(db, (id: number, state: WatchFolderState, reason: string | null): boolean => {
      return updateState.run(state, reason, id, state, reason).changes > 0;
    }),
    findWatchFile: (folderId, fp) => {
      const r = fileByFp.get(folderId, fp.path, fp.size, fp.mtimeMs, fp.inode);
      return r && toFile(r);
    },
    countWatchVersions: (folderId, path) => versions.get(folderId, path) ?? 0,
    recordWatchFile: writeTx(db, (folderId: number, fp: FileFingerprint, job: { jobId: number; batchId: number }, now: number): boolean => {
      return insertFile.run({ folderId, ...fp, ...job, now }).changes > 0;
    }),
    watchFileForJob: (jobId) => {
      const r = fileByJob.get(jobId);
      return r && toFile(r);
    },
    setWatchFileArchived: writeTx(db, (id: number, archivedPath: string): void => {
      archive.run(archivedPath, id);
    }),
    listUnarchivedDone: (folderId) => unarchivedDone.all(folderId).map(toFile),
  };
}

type WatchOfflineStore = Pick<JobStore, 'blockWatchFolderJobs' | 'listWatchFolderBlocked' | 'watchFolderMountDev' | 'setWatchFolderMountDev'>;

/**
 * What an offline watch folder holds back (point 6 of the watch-folder issue): its queued jobs are
 * blocked, not failed, and exactly those are found again when it returns. A folder's jobs are the
 * jobs of its batches whose source lies under its path: the path check keeps a folder that reused
 * a removed folder's id off the old folder's jobs.
 */
function watchOffline(db: Db): WatchOfflineStore {
  const writeJob = jobWriter(db);
  const scoped = (columns: string, state: string) => `
    SELECT ${columns} FROM jobs j JOIN batches b ON b.id = j.batch_id
    WHERE substr(b.key, 1, length(@keyPrefix)) = @keyPrefix
      AND substr(j.input_path, 1, length(@dir)) = @dir
      AND j.state = '${state}'`;
  const queued = db.prepare<{ keyPrefix: string; dir: string }, { id: number; state: 'queued' }>(`${scoped('j.id, j.state', 'queued')} ORDER BY j.id`);
  const blocked = db.prepare<{ keyPrefix: string; dir: string; reasonPrefix: string }, { id: number; state: 'blocked'; block_reason: string }>(`
    ${scoped('j.id, j.state, j.block_reason', 'blocked')}
      AND substr(j.block_reason, 1, length(@reasonPrefix)) = @reasonPrefix ORDER BY j.id`);
  const mountDev = db.prepare<[number], number | null>('SELECT mount_dev FROM watch_folders WHERE id = ?').pluck();
  const setMountDev = db.prepare<[number | null, number]>('UPDATE watch_folders SET mount_dev = ? WHERE id = ?');
  const params = (scope: { batchKeyPrefix: string; root: string }) => ({
    keyPrefix: scope.batchKeyPrefix,
    // A trailing separator, so /in does not take /incoming's jobs.
    dir: scope.root.endsWith(path.sep) ? scope.root : scope.root + path.sep,
  });

  const block = writeTx(db, (scope: { batchKeyPrefix: string; root: string }, reasonPrefix: string, reason: string): number[] => {
    for (const job of blocked.all({ ...params(scope), reasonPrefix })) {
      if (job.block_reason !== reason) writeJob(job.id, { block_reason: reason });
    }
    return queued.all(params(scope)).map((job) => {
      assertTransition(job.id, job.state, 'blocked');
      writeJob(job.id, { state: 'blocked', block_reason: reason });
      return job.id;
    });
  });

  return {
    // Called at every look at an offline folder (every 2 s): a read first, so that nothing to do
    // takes no write lock (a CLI writing meanwhile would make a write wait, and this one is sync).
    blockWatchFolderJobs: (scope, reasonPrefix, reason) => {
      const anyQueued = queued.get(params(scope)) !== undefined;
      if (!anyQueued && blocked.all({ ...params(scope), reasonPrefix }).every((j) => j.block_reason === reason)) return [];
      return block(scope, reasonPrefix, reason);
    },
    listWatchFolderBlocked: (scope, reasonPrefix) => blocked.all({ ...params(scope), reasonPrefix }).map((j) => j.id),
    watchFolderMountDev: (id) => mountDev.get(id) ?? null,
    setWatchFolderMountDev: writeTx(db, (id: number, dev: number | null): void => {
      setMountDev.run(dev, id);
    }),
  };
}
