import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** This agent's identity with one coordinator, written by `join` and read on every start. */
export const AgentIdentitySchema = z.object({
  /** Coordinator base URL, `http://host:port` or `https://host:port`. */
  coordinator: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'),
  agentId: z.string().regex(/^agt-[0-9a-f]{12}$/, 'expected agt-<12 hex digits>'),
  secret: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected 43 base64url characters'),
  /** Pinned SHA-256 certificate fingerprint (`AB:CD:…`); present exactly when the coordinator is https. */
  fingerprint: z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'expected a SHA-256 fingerprint AB:CD:…').optional(),
  /** Epoch-ms of the join. */
  enrolledAt: z.number().int().nonnegative(),
}).refine((id) => id.coordinator.startsWith('https:') === (id.fingerprint !== undefined), {
  // An https coordinator without a pin would mean trusting any certificate.
  message: 'an https coordinator needs a pinned fingerprint, and only an https one may have it',
  path: ['fingerprint'],
});

export type AgentIdentity = z.infer<typeof AgentIdentitySchema>;

export const AGENT_CONFIG_FILE = 'agent.json';

export class AgentConfigError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`cannot use the agent identity in ${file}: ${reason}`);
    this.name = 'AgentConfigError';
  }
}

export interface ConfigDirEnv {
  env?: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
  home?: string;
}

/**
 * Where the agent keeps its identity: $ENCODEFARM_AGENT_DIR, else the platform's per-user
 * config folder (XDG_CONFIG_HOME or ~/.config on Linux, %APPDATA% on Windows,
 * ~/Library/Application Support on macOS) + `encodefarm-agent`.
 */
export function defaultAgentConfigDir(from: ConfigDirEnv = {}): string {
  const env = from.env ?? process.env;
  const platform = from.platform ?? process.platform;
  const home = from.home ?? os.homedir();
  if (env.ENCODEFARM_AGENT_DIR) return path.resolve(env.ENCODEFARM_AGENT_DIR);
  if (platform === 'win32') {
    return path.win32.join(env.APPDATA || path.win32.join(home, 'AppData', 'Roaming'), 'encodefarm-agent');
  }
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'encodefarm-agent');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'encodefarm-agent');
}

/** Reads `<dir>/agent.json`; undefined when this agent has not joined yet. Throws AgentConfigError when it is unreadable or invalid. */
export async function loadAgentIdentity(dir: string): Promise<AgentIdentity | undefined> {
  const file = path.join(dir, AGENT_CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentConfigError(file, (err as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AgentConfigError(file, `not valid JSON (${(err as Error).message}); join again to rewrite it`);
  }
  const parsed = AgentIdentitySchema.safeParse(json);
  if (!parsed.success) throw new AgentConfigError(file, `${z.prettifyError(parsed.error)}; join again to rewrite it`);
  return parsed.data;
}

/**
 * Writes `<dir>/agent.json` atomically (temp file, fsync, rename) with mode 0600: it holds the
 * agent's secret, and a crash mid-write must not leave a half identity behind.
 */
export async function saveAgentIdentity(dir: string, identity: AgentIdentity): Promise<string> {
  const valid = AgentIdentitySchema.parse(identity);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, AGENT_CONFIG_FILE);
  const temp = path.join(dir, `.${AGENT_CONFIG_FILE}.${randomBytes(6).toString('hex')}.tmp`);
  // The mode applies at creation, so the secret is never readable by others, not even briefly.
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(valid, null, 2) + '\n', 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return file;
}
