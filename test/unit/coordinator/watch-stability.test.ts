import { describe, expect, it } from 'vitest';
import { StabilityTracker } from '../../../core/coordinator/watch/stability.ts';
import { mountKindOf } from '../../../core/coordinator/watch/mount-kind.ts';
import { createFileFilter } from '../../../core/coordinator/watch/file-filter.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const fp = (size: number, mtimeMs = 1) => ({ path: '/w/a.mp4', size, mtimeMs, inode: 7 });

describe('StabilityTracker', () => {
  it('needs the whole window and at least 3 looks at the same version', () => {
    const clock = new FakeClock();
    const t = new StabilityTracker(10_000);
    expect(t.observe(fp(1), clock.now())).toBe(false);
    clock.advance(10_000);
    // Two looks spanning the window are not enough.
    expect(t.observe(fp(1), clock.now())).toBe(false);
    clock.advance(1);
    expect(t.observe(fp(1), clock.now())).toBe(true);
  });

  it('starts over when size or mtime change', () => {
    const clock = new FakeClock();
    const t = new StabilityTracker(3000);
    for (let i = 0; i < 5; i++) {
      expect(t.observe(fp(100 * (i + 1)), clock.now())).toBe(false);
      clock.advance(1000);
    }
    expect(t.observe(fp(500), clock.now())).toBe(false);
    clock.advance(1000);
    expect(t.observe(fp(500, 2), clock.now())).toBe(false);
  });
});

describe('mountKindOf', () => {
  const mounts = '/dev/sda1 / ext4 rw 0 0\nserver:/media /mnt/nas nfs4 rw 0 0\n//host/share /mnt/my\\040share cifs rw 0 0\n';
  it('takes the longest mount point containing the folder', () => {
    expect(mountKindOf('/mnt/nas/in', () => mounts)).toBe('network');
    expect(mountKindOf('/mnt/my share/x', () => mounts)).toBe('network');
    expect(mountKindOf('/mnt/nasty', () => mounts)).toBe('local');
    expect(mountKindOf('/home/u', () => { throw new Error('no /proc'); })).toBe('local');
  });
});

describe('file filter', () => {
  it('ignores partial names and excluded folders, applies globs', () => {
    const f = createFileFilter({ root: '/w', include: [], exclude: ['raw/**', '*.skip.mp4'], excludedDirs: ['/w/out'] });
    expect(f.takesFile('/w/a.mp4')).toBe(true);
    for (const n of ['a.mp4.part', 'a.crdownload', 'a.tmp', 'a.!qB', '~$a.mp4', '.a.mp4', '.a.mp4.ef-1-2.part', 'a.txt', 'x.skip.mp4']) {
      expect(f.takesFile(`/w/${n}`), n).toBe(false);
    }
    expect(f.takesFile('/w/out/a.mp4')).toBe(false);
    expect(f.takesFile('/w/raw/a.mp4')).toBe(false);
    expect(f.entersDir('/w/out')).toBe(false);
  });
});
