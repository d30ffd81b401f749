import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const RemoteSchema = z.object({
  /** The coordinator's address, http(s)://host:port (any path is ignored). */
  url: z
    .string()
    .max(2048)
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
      } catch {
        return false;
      }
    }, 'expected http(s)://host:port'),
  /** Its API token (`<data dir>/api-token` on that machine). */
  token: z.string().min(1).max(512),
});

/**
 * The desktop shell's own settings (`<userData>/settings.json`), apart from the farm's settings
 * that live in the coordinator: which coordinator to show. `remote: null` (the default) starts
 * the local coordinator and agent in a utility process.
 */
export const ShellSettingsSchema = z.object({
  remote: RemoteSchema.nullable().default(null),
});

export type ShellSettings = z.infer<typeof ShellSettingsSchema>;

export const DEFAULT_SETTINGS: ShellSettings = { remote: null };

export const settingsFileIn = (userDataDir: string) => path.join(userDataDir, 'settings.json');

export interface LoadedSettings {
  settings: ShellSettings;
  /** Why the file was not used (unreadable JSON, invalid values); the defaults apply then. */
  problem: string | null;
}

/** Reads the settings file; a missing file is the defaults, a broken one the defaults plus why. */
export async function loadSettings(file: string): Promise<LoadedSettings> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: DEFAULT_SETTINGS, problem: null };
    return { settings: DEFAULT_SETTINGS, problem: `cannot read ${file}: ${(err as Error).message}` };
  }
  try {
    const parsed = ShellSettingsSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { settings: parsed.data, problem: null };
    return { settings: DEFAULT_SETTINGS, problem: `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  } catch (err) {
    return { settings: DEFAULT_SETTINGS, problem: `${file} is not JSON: ${(err as Error).message}` };
  }
}

/** Writes the settings file privately (it may hold a remote token), atomically. */
export async function saveSettings(file: string, settings: ShellSettings): Promise<void> {
  const valid = ShellSettingsSchema.parse(settings);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(valid, null, 2) + '\n', { mode: 0o600 });
  await fsp.rename(tmp, file);
}

/** The remote coordinator as a connection (origin only), or null for the local one. */
export function remoteConnectionOf(settings: ShellSettings): { url: string; token: string; local: false } | null {
  if (!settings.remote) return null;
  return { url: new URL(settings.remote.url).origin, token: settings.remote.token, local: false };
}
