import type { ApiClient } from '../../api/client.ts';
import type { PendingInput } from './pending-input.ts';

/** An inbox folder name the coordinator accepts (`^[A-Za-z0-9_-]{8,64}$`). */
export function newUploadId(): string {
  // getRandomValues, not randomUUID: the UI may be opened over plain http on a LAN address,
  // which is not a secure context.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `clip.mp4`, `clip (2).mp4` …: one inbox folder per submission, and the inbox never overwrites. */
export function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 2; taken.has(candidate); n++) candidate = `${stem} (${n})${ext}`;
  taken.add(candidate);
  return candidate;
}

/**
 * Uploads each file to the coordinator's inbox, one at a time (parallel uploads would only split
 * the same link), and answers the coordinator paths to submit.
 */
export async function uploadInputs(
  api: Pick<ApiClient, 'upload'>,
  inputs: readonly PendingInput[],
  onProgress: (key: string, fraction: number) => void,
  signal?: AbortSignal,
): Promise<string[]> {
  const uploadId = newUploadId();
  const taken = new Set<string>();
  const paths: string[] = [];
  for (const input of inputs) {
    if (input.path) {
      paths.push(input.path);
      continue;
    }
    const original = input.file!;
    const name = uniqueName(original.name, taken);
    // A renamed File shares the original's bytes; nothing is copied.
    const file = name === original.name ? original : new File([original], name, { type: original.type });
    onProgress(input.key, 0);
    const res = await api.upload(uploadId, file, (sent, total) => onProgress(input.key, total > 0 ? sent / total : 1), signal);
    onProgress(input.key, 1);
    paths.push(res.path);
  }
  return paths;
}
