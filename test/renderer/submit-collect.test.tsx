// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { collectDropped } from '../../renderer/src/views/submit/collect-dropped.ts';
import { fakeBridge } from './queue-fake-api.tsx';

/** Minimal FileSystemEntry fakes: what webkitGetAsEntry hands out for a dropped file or folder. */
function fileEntry(name: string) {
  const file = new File(['x'], name);
  return { name, isFile: true, isDirectory: false, file: (ok: (f: File) => void) => ok(file) };
}
function dirEntry(name: string, children: unknown[]) {
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      // Hands the children out in chunks of 2, then an empty chunk, like Chrome's 100 at a time.
      let at = 0;
      return {
        readEntries: (ok: (e: unknown[]) => void) => {
          ok(children.slice(at, at + 2));
          at += 2;
        },
      };
    },
  };
}
const transfer = (entries: unknown[], files: File[] = []) =>
  ({ files, items: entries.map((e) => ({ kind: 'file', webkitGetAsEntry: () => e })) }) as unknown as DataTransfer;

describe('collectDropped', () => {
  it('walks dropped folders in a browser, keeping only videos inside them', async () => {
    const dt = transfer([
      fileEntry('notes.txt'),
      dirEntry('trip', [fileEntry('b.mp4'), fileEntry('a.MKV'), fileEntry('cover.jpg'), dirEntry('day2', [fileEntry('c.mov')])]),
    ]);
    const inputs = await collectDropped(dt, undefined);
    expect(inputs.map((i) => i.label)).toEqual(['notes.txt', 'trip/a.MKV', 'trip/b.mp4', 'trip/day2/c.mov']);
    expect(inputs.every((i) => i.file instanceof File)).toBe(true);
  });

  it('keeps a dropped folder as one input in Electron (the coordinator scans it)', async () => {
    const folder = new File([], 'trip');
    const clip = new File(['x'], 'a.mp4');
    const inputs = await collectDropped(transfer([dirEntry('trip', []), fileEntry('a.mp4')], [folder, clip]), fakeBridge());
    expect(inputs.map((i) => [i.label, i.folder])).toEqual([
      ['trip/', true],
      ['a.mp4', false],
    ]);
    expect(inputs[0]!.file).toBe(folder);
  });
});
