import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidPathMappingError, mapToAgent, parsePathMapping } from '../../../../core/agent/files/path-map.ts';

describe('parsePathMapping', () => {
  it('splits a Windows coordinator prefix from a POSIX agent folder', () => {
    expect(parsePathMapping('C:\\Media=/mnt/media')).toEqual({ from: 'C:\\Media', to: '/mnt/media' });
    expect(parsePathMapping('\\\\nas\\share=/mnt/nas')).toEqual({ from: '\\\\nas\\share', to: '/mnt/nas' });
    expect(parsePathMapping('/srv/media=D:\\Media')).toEqual({ from: '/srv/media', to: 'D:\\Media' });
  });

  it('splits at the last "=" that starts an absolute path, so the coordinator side may contain "="', () => {
    expect(parsePathMapping('/srv/a=b=/mnt/x')).toEqual({ from: '/srv/a=b', to: '/mnt/x' });
    expect(parsePathMapping('/srv/a=/mnt/x=y')).toEqual({ from: '/srv/a', to: '/mnt/x=y' });
  });

  it.each(['/srv/media', '=/mnt/media', 'media=/mnt/media', '/srv/media=mnt/media', 'C:Media=/mnt'])('refuses %s, naming the argument', (arg) => {
    const err = (() => {
      try {
        parsePathMapping(arg);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidPathMappingError);
    expect((err as Error).message).toContain(`"${arg}"`);
  });
});

describe('mapToAgent', () => {
  const winToPosix = [parsePathMapping('D:\\Media=/mnt/media'), parsePathMapping('\\\\nas\\share=/mnt/nas')];

  it('maps a Windows path onto a POSIX agent with POSIX separators', () => {
    expect(mapToAgent('D:\\Media\\Shows\\ep 1.mkv', winToPosix, path.posix)).toBe('/mnt/media/Shows/ep 1.mkv');
  });

  it('matches Windows prefixes case-insensitively and with either separator', () => {
    expect(mapToAgent('d:/media/Shows/ep1.mkv', winToPosix, path.posix)).toBe('/mnt/media/Shows/ep1.mkv');
    expect(mapToAgent('D:\\MEDIA\\x.mkv', winToPosix, path.posix)).toBe('/mnt/media/x.mkv');
  });

  it('maps UNC shares', () => {
    expect(mapToAgent('\\\\NAS\\Share\\in\\a.mp4', winToPosix, path.posix)).toBe('/mnt/nas/in/a.mp4');
    expect(mapToAgent('\\\\nas\\other\\a.mp4', winToPosix, path.posix)).toBeUndefined();
  });

  it('maps a POSIX path onto a Windows agent with backslashes', () => {
    const m = [parsePathMapping('/srv/media=E:\\Farm')];
    expect(mapToAgent('/srv/media/a/b.mp4', m, path.win32)).toBe('E:\\Farm\\a\\b.mp4');
  });

  it('matches POSIX prefixes case-sensitively', () => {
    expect(mapToAgent('/SRV/media/a.mp4', [parsePathMapping('/srv/media=/mnt/m')], path.posix)).toBeUndefined();
  });

  it('matches on whole components only', () => {
    const m = [parsePathMapping('/mnt/media=/data')];
    expect(mapToAgent('/mnt/media2/a.mp4', m, path.posix)).toBeUndefined();
    expect(mapToAgent('/mnt/media', m, path.posix)).toBe('/data');
    expect(mapToAgent('D:\\Media2\\a.mp4', winToPosix, path.posix)).toBeUndefined();
  });

  it('lets the longest prefix win, whatever the order', () => {
    const m = [parsePathMapping('/srv=/a'), parsePathMapping('/srv/media/hd=/c'), parsePathMapping('/srv/media=/b')];
    expect(mapToAgent('/srv/media/hd/x.mp4', m, path.posix)).toBe('/c/x.mp4');
    expect(mapToAgent('/srv/media/sd/x.mp4', m, path.posix)).toBe('/b/sd/x.mp4');
    expect(mapToAgent('/srv/other/x.mp4', m, path.posix)).toBe('/a/other/x.mp4');
  });

  it('resolves ".." before matching, so a path cannot climb out of its mapping', () => {
    expect(mapToAgent('D:\\Media\\..\\Secret\\x.mp4', winToPosix, path.posix)).toBeUndefined();
    expect(mapToAgent('/srv/media/../etc/passwd', [parsePathMapping('/srv/media=/mnt/m')], path.posix)).toBeUndefined();
  });

  it('maps everything under a root prefix', () => {
    expect(mapToAgent('/x/y.mp4', [parsePathMapping('/=/mnt/coord')], path.posix)).toBe('/mnt/coord/x/y.mp4');
    expect(mapToAgent('C:\\x\\y.mp4', [parsePathMapping('C:\\=/mnt/c')], path.posix)).toBe('/mnt/c/x/y.mp4');
  });

  it('is the identity without mappings, and undefined for a path no mapping covers', () => {
    expect(mapToAgent('/srv/media/a.mp4', [], path.posix)).toBe('/srv/media/a.mp4');
    expect(mapToAgent('E:\\Other\\a.mp4', winToPosix, path.posix)).toBeUndefined();
  });
});
