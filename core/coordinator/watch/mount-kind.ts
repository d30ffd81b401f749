import { readFileSync } from 'node:fs';

/** Filesystem types whose writes arrive late and in bursts: a copy may pause longer than locally. */
const NETWORK_FS = /^(nfs4?|cifs|smb3?|smbfs|9p|afs|ceph|glusterfs|davfs|fuse\.(sshfs|rclone|s3fs|davfs2|glusterfs))$/;

export type MountKind = 'local' | 'network';

/** `/proc/mounts` escapes spaces and tabs in mount points as octal (`\040`). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Where `dir` lives, from the longest mount point containing it in `/proc/mounts`. Best effort:
 * anything unreadable (not Linux, no /proc) is 'local', and the default window applies.
 */
export function mountKindOf(dir: string, readMounts: () => string = () => readFileSync('/proc/mounts', 'utf8')): MountKind {
  let text: string;
  try {
    text = readMounts();
  } catch {
    return 'local';
  }
  let best = { point: '', type: '' };
  for (const line of text.split('\n')) {
    const [, rawPoint, type] = line.split(' ');
    if (!rawPoint || !type) continue;
    const point = unescapeMount(rawPoint);
    const inside = point === '/' || dir === point || dir.startsWith(point.endsWith('/') ? point : point + '/');
    if (inside && point.length >= best.point.length) best = { point, type };
  }
  return NETWORK_FS.test(best.type) ? 'network' : 'local';
}
