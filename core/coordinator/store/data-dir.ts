import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DataDirOptions {
  /** `--data-dir` from the command line; wins over everything. */
  flag?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default process.platform */
  platform?: NodeJS.Platform;
  /** @default os.homedir() */
  home?: string;
}

/**
 * Where EncodeFarm keeps its database and state: `--data-dir`, then `ENCODEFARM_DATA_DIR`, then the
 * OS's per-user data folder (XDG on Linux, %APPDATA% on Windows, Application Support on macOS),
 * so the CLI, `serve` and the desktop app share one queue by default.
 */
export function resolveDataDir(opts: DataDirOptions = {}): string {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const p = platform === 'win32' ? path.win32 : path.posix;
  const explicit = nonEmpty(opts.flag) ?? nonEmpty(env.ENCODEFARM_DATA_DIR);
  if (explicit) return p.resolve(explicit);
  const home = opts.home ?? os.homedir();
  switch (platform) {
    case 'win32':
      return p.join(nonEmpty(env.APPDATA) ?? p.join(home, 'AppData', 'Roaming'), 'EncodeFarm');
    case 'darwin':
      return p.join(home, 'Library', 'Application Support', 'EncodeFarm');
    default: {
      // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
      const xdg = nonEmpty(env.XDG_DATA_HOME);
      const base = xdg && p.isAbsolute(xdg) ? xdg : p.join(home, '.local', 'share');
      return p.join(base, 'encodefarm');
    }
  }
}

/**
 * The database file in `dataDir`, creating the folder (and parents) if needed. New folders are
 * private to the user (0700): the database lists the user's files and folders.
 */
export function dbFileIn(dataDir: string): string {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return path.join(dataDir, 'encodefarm.db');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value?.trim() ? value : undefined;
}
