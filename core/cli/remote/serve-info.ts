import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** What a running `serve` leaves in its data dir so CLI commands on the same machine find it. */
export const ServeInfoSchema = z.object({
  url: z.string(),
  pid: z.number().int(),
  fingerprint: z.string().optional(),
});
export type ServeInfo = z.infer<typeof ServeInfoSchema>;

const infoFile = (dataDir: string) => path.join(dataDir, 'serve.json');
const tokenFile = (dataDir: string) => path.join(dataDir, 'api-token');

async function writePrivate(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, text, { mode: 0o600 });
  await fsp.rename(tmp, file);
}

export async function writeServeInfo(dataDir: string, info: ServeInfo): Promise<void> {
  await writePrivate(infoFile(dataDir), JSON.stringify(info, null, 2) + '\n');
}

export async function readServeInfo(dataDir: string): Promise<ServeInfo | undefined> {
  try {
    return ServeInfoSchema.parse(JSON.parse(await fsp.readFile(infoFile(dataDir), 'utf8')));
  } catch {
    return undefined;
  }
}

export async function removeServeInfo(dataDir: string): Promise<void> {
  await fsp.rm(infoFile(dataDir), { force: true });
}

/**
 * The API token of this data dir's coordinator: made once (256 bits), kept in a 0600 file, so the
 * UI link and the CLI on this machine keep working across restarts.
 */
export async function loadOrCreateApiToken(dataDir: string): Promise<string> {
  const existing = await readApiToken(dataDir);
  if (existing) return existing;
  const token = `efa_${randomBytes(32).toString('base64url')}`;
  await writePrivate(tokenFile(dataDir), token + '\n');
  return token;
}

export async function readApiToken(dataDir: string): Promise<string | undefined> {
  try {
    const t = (await fsp.readFile(tokenFile(dataDir), 'utf8')).trim();
    return t || undefined;
  } catch {
    return undefined;
  }
}
