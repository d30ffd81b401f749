import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCoordinatorService, type CoordinatorService, type CoordinatorServiceOptions } from '../../../core/cli/serve/coordinator-service.ts';
import type { FfmpegInstall } from '../../../core/agent/devices/locate-ffmpeg.ts';
import type { JobStore } from '../../../core/coordinator/ports.ts';
import { dbFileIn } from '../../../core/coordinator/store/data-dir.ts';
import { openSqliteStore } from '../../../core/coordinator/store/sqlite-store.ts';
import { recordingLogger, request, type Reply } from './harness.ts';

/** The real `serve` in-process for the UI API tests: its own temp dir and SQLite, 127.0.0.1:0, no local devices. */
export interface UiFarm {
  dir: string;
  store: JobStore;
  service: CoordinatorService;
  logger: ReturnType<typeof recordingLogger>;
  token: string;
  port: number;
  /** An authorised request; a body other than a Buffer goes as JSON. */
  api(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

export async function startUiFarm(
  ffmpeg: FfmpegInstall,
  opts: Partial<Pick<CoordinatorServiceOptions, 'uiDir' | 'inboxMaxBytes' | 'clock'>> = {},
): Promise<UiFarm> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodefarm-ui-api-'));
  const store = openSqliteStore({ file: dbFileIn(dir) });
  const logger = recordingLogger();
  const token = randomBytes(24).toString('base64url');
  const service = await startCoordinatorService({ store, dataDir: dir, logger, ffmpeg, listen: { host: '127.0.0.1', port: 0 }, apiToken: token, ...opts });
  const port = service.address.port;
  return {
    dir,
    store,
    service,
    logger,
    token,
    port,
    api(method, urlPath, body, headers = {}) {
      const raw = body === undefined || Buffer.isBuffer(body);
      return request(port, {
        method,
        path: urlPath,
        headers: { Authorization: `Bearer ${token}`, ...(raw ? {} : { 'Content-Type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
      });
    },
    async close() {
      await service.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Files with video names (not real videos: enough for submission, which only looks at names). */
export function fakeSources(dir: string, names: readonly string[]): string[] {
  const folder = path.join(dir, 'sources');
  fs.mkdirSync(folder, { recursive: true });
  return names.map((n) => {
    const p = path.join(folder, n);
    fs.writeFileSync(p, `not really ${n}`);
    return p;
  });
}
