import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createApiClient, type ApiClient } from '../../core/cli/remote/api-client.ts';
import { dbFileIn } from '../../core/coordinator/store/data-dir.ts';
import { openSqliteStore } from '../../core/coordinator/store/sqlite-store.ts';
import type { NewJob } from '../../core/coordinator/ports.ts';
import { waitFor } from './cli.ts';
import type { FarmProcess, FarmProcesses } from './farm.ts';

// `encodefarm serve` as the UI sees it: a real process on an OS-chosen port, found through the
// UI link it prints (`UI: http://127.0.0.1:PORT/#token=…`), as a user would copy it.

export interface UiServe extends FarmProcess {
  /** `http://127.0.0.1:PORT`, from the printed UI link. */
  url: string;
  /** The printed UI link itself, `#token=` included. */
  uiUrl: string;
  token: string;
  dataDir: string;
  /** The API with this serve's token (zod-checked answers). */
  api: ApiClient;
}

export interface UiServeOptions {
  dataDir: string;
  /**
   * Encode on this machine (`--gpus none`: one CPU slot, so a machine with a GPU behaves like one
   * without). false = `--no-local-agent`: nothing is ever claimed. @default true
   */
  localAgent?: boolean;
  /** More `serve` flags. */
  args?: readonly string[];
  /** @default 60000 (tsx compiles the CLI on the fly when dist/ is stale). */
  timeoutMs?: number;
}

const UI_LINE = /^\s*UI:\s+(https?:\/\/[^\s/]+)\/#token=(\S+)\s*$/m;

/** Starts `serve --listen 127.0.0.1:0` in `dataDir` and resolves once it printed its UI link. */
export async function startUiServe(procs: FarmProcesses, opts: UiServeOptions): Promise<UiServe> {
  const agent = opts.localAgent === false ? ['--no-local-agent'] : ['--gpus', 'none', '--cpu-slots', '1'];
  const p = procs.spawn(['serve', '--data-dir', opts.dataDir, '--listen', '127.0.0.1:0', ...agent, ...(opts.args ?? [])]);
  const m = await waitFor(
    `serve's UI link in ${opts.dataDir}`,
    () => {
      const found = UI_LINE.exec(p.output());
      if (found) return found;
      if (p.hasExited()) throw new Error(`serve exited before printing its UI link\n${p.output()}`);
      return undefined;
    },
    opts.timeoutMs ?? 60_000,
  );
  const url = m[1]!;
  const token = decodeURIComponent(m[2]!);
  // serve.json is what other CLI commands find the coordinator by: it must name the same URL.
  const info = JSON.parse(await readFile(path.join(opts.dataDir, 'serve.json'), 'utf8')) as { url: string };
  if (info.url !== url) throw new Error(`serve printed ${url} but serve.json says ${info.url}`);
  return { ...p, url, uiUrl: `${url}/#token=${m[2]!}`, token, dataDir: opts.dataDir, api: createApiClient({ url, token, timeoutMs: 15_000 }) };
}

export interface SeedOptions {
  /** @default 'h264-fast' */
  presetId?: string;
  /** Folder the (never created) inputs are said to live in. @default '/srv/media/seed' */
  inputDir?: string;
}

/**
 * Writes `count` jobs straight into the data dir's queue (before serve opens it) as one paused
 * batch: nothing is ever claimed, so the queue stays exactly as seeded however long the test
 * looks at it. Inputs need not exist: nothing reads them until a job is claimed. Returns the
 * batch id and the job ids in submission order.
 */
export function seedQueue(dataDir: string, count: number, opts: SeedOptions = {}): { batchId: number; jobIds: number[] } {
  const presetId = opts.presetId ?? 'h264-fast';
  const inputDir = opts.inputDir ?? '/srv/media/seed';
  const store = openSqliteStore({ file: dbFileIn(dataDir) });
  try {
    const now = Date.now();
    const batch = store.createBatch({ key: `seed-${count}-${now}`, label: `seed ${count}`, presetId, outDir: '/srv/media/out', onExists: 'skip', priority: 0 }, now);
    const jobs: NewJob[] = [];
    for (let i = 1; i <= count; i++) {
      const name = `clip-${String(i).padStart(6, '0')}.mp4`;
      jobs.push({ inputPath: `${inputDir}/${name}`, presetId, codec: 'h264', outputPath: `/srv/media/out/${name}` });
    }
    const jobIds = store.addJobs(batch.id, jobs, now);
    store.setBatchState(batch.id, 'paused');
    return { batchId: batch.id, jobIds };
  } finally {
    store.close();
  }
}
