import { baseName } from '../../lib/format.ts';

/**
 * Something the user chose to encode: a File from a drop or the file input (uploaded in a
 * browser, resolved to its real path in Electron) or a path from Electron's native picker.
 */
export interface PendingInput {
  key: string;
  /** What the dialog shows: the file name, or its path inside a dropped folder. */
  label: string;
  file?: File;
  path?: string;
  /** A dropped folder (Electron only: the coordinator scans it). */
  folder?: boolean;
}

let next = 0;
const key = () => `in-${++next}`;

export function inputFromFile(file: File, label = file.name, folder = false): PendingInput {
  return { key: key(), label, file, folder };
}

export function inputFromPath(path: string): PendingInput {
  return { key: key(), label: baseName(path), path };
}

/**
 * Extensions taken from a dropped folder (the coordinator's list for folder scans); files
 * dropped one by one are always taken, as on the command line.
 */
export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mkv', '.mov', '.avi', '.webm', '.ts', '.mts', '.m2ts', '.mxf', '.flv',
  '.wmv', '.mpg', '.mpeg', '.vob', '.3gp', '.ogv', '.dv', '.y4m',
]);

export function isVideoName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && VIDEO_EXTENSIONS.has(name.slice(dot).toLowerCase());
}
