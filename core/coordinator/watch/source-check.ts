import { promises as fsp, type Stats } from 'node:fs';
import type { JobStore, SourceCheck, SourceVerdict, WatchFileRow } from '../ports.ts';
import { fingerprintOf, sameVersion } from './fingerprint.ts';

export interface SourceCheckDeps {
  store: Pick<JobStore, 'watchFileForJob' | 'getWatchFolder' | 'findWatchFile'>;
}

const SAME: SourceVerdict = { state: 'same' };

/**
 * The check of a watched source when its attempt ends (issue 5, "source changes"): a job from a
 * watch folder commits its output only while the file at its path still has the fingerprint
 * (size, mtime, inode) it was queued for, as recorded in `watch_files`. A failed attempt is
 * checked too: a change mid-encode often shows up as an encoder failure (ffmpeg opened the new
 * file, or none), and the same rule must hold whichever way the timing fell.
 *
 * The rule, one job per file version and the watcher owns versions:
 * - changed: the output is discarded and the job is canceled, never requeued. The new content is
 *   another version, and the watcher already queues every new version as a job of its own once it
 *   is stable (it opens, probes and fingerprints it; its output takes a suffixed name). Requeueing
 *   this job as well would encode that version twice; re-pointing it would need the watcher to
 *   know about it. A retry of the canceled job is harmless: its fingerprint never matches again.
 * - vanished: the file is gone while its folder is there; the job fails ("source vanished").
 * - unreachable: the folder itself is offline (or the file cannot be looked at), so nothing can be
 *   confirmed; the job is blocked, not failed, and encodes again when resumed (point 6).
 * The temp output is deleted in every case. Jobs with no `watch_files` row (plain submissions, or a
 * folder removed since) get `same` and commit as they always did.
 */
export function createSourceCheck(deps: SourceCheckDeps): SourceCheck {
  const { store } = deps;

  async function check(jobId: number): Promise<SourceVerdict> {
    const file = store.watchFileForJob(jobId);
    if (!file) return SAME;
    let st: Stats;
    try {
      st = await fsp.lstat(file.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        return { state: 'unreachable', reason: `cannot look at the source ${file.path} (${code}) to confirm it is unchanged; the encode is discarded, resume the job to encode it again` };
      }
      return (await offlineVerdict(file)) ?? vanished(file, 'was deleted or moved away during the encode');
    }
    // lstat, as the watcher does: a symlink or folder now at the path is not the file that was queued.
    if (!st.isFile()) return vanished(file, 'is no longer a regular file');
    const now = fingerprintOf(file.path, st);
    if (sameVersion(now, file)) return SAME;
    // The watcher may already have queued the new version (it does once the file is stable).
    const newer = store.findWatchFile(file.folderId, now)?.jobId;
    const next = newer ? `the new version is queued as job ${newer}` : 'the watch folder queues the new version as a job of its own once it stops changing';
    return { state: 'changed', reason: `source changed during the encode (${file.path}); the encode is discarded, ${next}` };
  }

  /**
   * A file missing because its whole folder is (unmounted, renamed): nothing can be confirmed.
   * "Offline" as the watcher judges it: the root is not a folder that can be looked at.
   */
  async function offlineVerdict(file: WatchFileRow): Promise<SourceVerdict | undefined> {
    const folder = store.getWatchFolder(file.folderId);
    if (!folder) return undefined;
    const there = await fsp.stat(folder.path).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (there) return undefined;
    return {
      state: 'unreachable',
      reason: `watch folder ${folder.path} is offline, so the source ${file.path} cannot be confirmed unchanged; the encode is discarded and the job waits until it is resumed`,
    };
  }

  function vanished(file: WatchFileRow, how: string): SourceVerdict {
    return { state: 'vanished', reason: `source vanished: ${file.path} ${how}; the encode is discarded` };
  }

  return { check: (job) => check(job.id) };
}
