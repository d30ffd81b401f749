import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { suffixed } from '../output-commit.ts';

/** Errors where a hard link cannot be made (another filesystem, FAT, some SMB mounts). */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/**
 * Moves `source` into `archiveDir` (keeping its sub-folder `relDir`) without ever replacing a
 * file there: a taken name gets ` (n)`. link + unlink (or an exclusive copy across filesystems,
 * then unlink) means the source exists under at least one name at every moment. Returns the new path.
 */
export async function archiveSource(source: string, archiveDir: string, relDir: string): Promise<string> {
  const dir = path.join(archiveDir, relDir);
  await fsp.mkdir(dir, { recursive: true });
  const target = path.join(dir, path.basename(source));
  for (let n = 0; n < 1000; n++) {
    const candidate = n === 0 ? target : suffixed(target, n);
    try {
      await fsp.link(source, candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST') continue;
      if (!NO_LINK.has(code)) throw err;
      try {
        await fsp.copyFile(source, candidate, constants.COPYFILE_EXCL);
      } catch (copyErr) {
        if ((copyErr as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw copyErr;
      }
    }
    await fsp.unlink(source);
    return candidate;
  }
  throw new Error(`${target}: no free name in the archive after 1000 suffixes`);
}
