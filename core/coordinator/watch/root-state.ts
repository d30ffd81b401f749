import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';

/** What a look at a watch folder's root found: watchable (and on which device), or why not. */
export type RootLook = { online: true; mountDev: number | null } | { online: false; why: string };

/** The file-system calls a look makes; a test may fake device ids with them. */
export interface RootFs {
  stat(p: string): Promise<{ dev: number; isDirectory(): boolean }>;
  access(p: string, mode: number): Promise<void>;
}

const realFs: RootFs = { stat: (p) => fsp.stat(p), access: (p, mode) => fsp.access(p, mode) };

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

/**
 * Looks at a watch folder: missing, unreadable, not a folder, or unmounted is offline. Unmounted
 * needs memory: an unmounted folder's mount point is still there, an empty folder on its parent's
 * filesystem. `mountDev` is the device id (st_dev) the folder had when last seen online as a mount
 * point of its own (null: it was on its parent's device); a folder that had one and is now on its
 * parent's device is unmounted, not emptied. Bind mounts of the same filesystem share its device
 * id and cannot be told apart this way; a missing folder under an unmounted parent is "missing".
 */
export async function lookAtRoot(root: string, mountDev: number | null, fs: RootFs = realFs): Promise<RootLook> {
  let st: Awaited<ReturnType<RootFs['stat']>>;
  try {
    st = await fs.stat(root);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { online: false, why: 'folder missing: deleted, renamed or not mounted' };
    return { online: false, why: `cannot read folder: ${code}` };
  }
  if (!st.isDirectory()) return { online: false, why: 'not a folder' };
  try {
    // stat succeeds on a folder whose permissions were taken away; listing it would not.
    await fs.access(root, constants.R_OK | constants.X_OK);
  } catch (err) {
    return { online: false, why: `cannot read folder: ${codeOf(err)}` };
  }
  const parent = path.dirname(root);
  if (parent === root) return { online: true, mountDev: null };
  let parentDev: number;
  try {
    parentDev = (await fs.stat(parent)).dev;
  } catch {
    // Cannot compare: keep what was known rather than guess either way.
    return { online: true, mountDev };
  }
  if (st.dev !== parentDev) return { online: true, mountDev: st.dev };
  if (mountDev !== null) return { online: false, why: "unmounted: the folder was a mount point and is back on its parent's filesystem" };
  return { online: true, mountDev: null };
}
