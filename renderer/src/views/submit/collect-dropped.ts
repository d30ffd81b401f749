import type { EncodeFarmBridge } from '../../bridge.ts';
import { inputFromFile, isVideoName, type PendingInput } from './pending-input.ts';

/**
 * What a drop carries, as inputs. Entries must be taken from the DataTransfer during the drop
 * event itself (it is emptied afterwards); walking folders happens after.
 *
 * In Electron a dropped folder stays one input: its real path goes to the coordinator, which
 * scans it (keeping sub-folders in the output layout). A browser cannot send a folder, so its
 * video files are walked here and uploaded one by one.
 */
export function collectDropped(dt: DataTransfer, bridge: EncodeFarmBridge | undefined): Promise<PendingInput[]> {
  const files = Array.from(dt.files);
  const entries = Array.from(dt.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => item.webkitGetAsEntry?.() ?? null);
  if (bridge) {
    return Promise.resolve(files.map((f, i) => inputFromFile(f, entries[i]?.isDirectory ? `${f.name}/` : f.name, entries[i]?.isDirectory ?? false)));
  }
  if (entries.length === 0 || entries.some((e) => e === null)) return Promise.resolve(files.map((f) => inputFromFile(f)));
  return Promise.all(entries.map((e) => walk(e!, ''))).then((lists) => lists.flat());
}

async function walk(entry: FileSystemEntry, prefix: string): Promise<PendingInput[]> {
  if (isFile(entry)) {
    const file = await new Promise<File>((resolve, reject) => entry.file(resolve, reject));
    // Inside folders only videos are taken (a folder of clips often holds .srt, .nfo, thumbnails).
    return prefix && !isVideoName(file.name) ? [] : [inputFromFile(file, prefix + file.name)];
  }
  if (!isDirectory(entry)) return [];
  const children = await readAll(entry.createReader());
  const lists = await Promise.all(children.map((c) => walk(c, `${prefix}${entry.name}/`)));
  return lists.flat();
}

/** readEntries answers in chunks (100 in Chrome) until it answers an empty list. */
async function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  const out: FileSystemEntry[] = [];
  for (;;) {
    const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (chunk.length === 0) return out.sort((a, b) => a.name.localeCompare(b.name));
    out.push(...chunk);
  }
}

const isFile = (e: FileSystemEntry): e is FileSystemFileEntry => e.isFile;
const isDirectory = (e: FileSystemEntry): e is FileSystemDirectoryEntry => e.isDirectory;
