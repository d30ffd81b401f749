import path from 'node:path';

/** One `--path-map COORDINATOR_PREFIX=AGENT_PREFIX`: where a coordinator folder lives on this agent. */
export interface PathMapping {
  /** Prefix in the coordinator's terms (Windows `D:\Media`, `\\nas\share`, or POSIX `/srv/media`). */
  from: string;
  /** The same folder on this agent, in this agent's terms. */
  to: string;
}

/** The path functions of the agent's platform (`path`, or `path.posix` / `path.win32` in tests). */
export type AgentPathApi = Pick<path.PlatformPath, 'join' | 'normalize'>;

export class InvalidPathMappingError extends Error {
  constructor(arg: string, why: string) {
    super(`--path-map "${arg}": ${why} (expected COORDINATOR_PATH=AGENT_PATH, both absolute, e.g. D:\\Media=/mnt/media)`);
    this.name = 'InvalidPathMappingError';
  }
}

const WIN_ABSOLUTE = /^([A-Za-z]:[\\/]|\\\\[^\\])/;

function isAbsoluteAnywhere(p: string): boolean {
  return p.startsWith('/') || WIN_ABSOLUTE.test(p);
}

/**
 * Parses `FROM=TO`. Either side may itself contain `=`, so the split is at the LAST `=` whose
 * remainder is an absolute path (`/…`, `X:\…`, `X:/…` or `\\host\…`) and whose left side is one
 * too: `/a=b=/mnt/x` maps `/a=b` to `/mnt/x`. An `=` inside the agent-side path is only safe when
 * what follows it does not look like an absolute path.
 */
export function parsePathMapping(arg: string): PathMapping {
  for (let i = arg.lastIndexOf('='); i > 0; i = arg.lastIndexOf('=', i - 1)) {
    const from = arg.slice(0, i);
    const to = arg.slice(i + 1);
    if (isAbsoluteAnywhere(to) && isAbsoluteAnywhere(from)) return { from, to };
  }
  const why = arg.includes('=') ? 'both sides must be absolute paths' : 'missing "="';
  throw new InvalidPathMappingError(arg, why);
}

/** Drive letters, UNC shares and backslashes mark a Windows coordinator path. */
function isWindowsStyle(prefix: string): boolean {
  return WIN_ABSOLUTE.test(prefix) || prefix.includes('\\');
}

/** Path components after normalisation (`..` resolved), in the flavour of the mapping's prefix. */
function components(p: string, windows: boolean): string[] {
  const normal = windows ? path.win32.normalize(p).replace(/\\/g, '/') : path.posix.normalize(p);
  const parts = normal.split('/');
  // A trailing separator leaves an empty last part; the root (`/`, `C:/`) keeps its own.
  while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function componentsEqual(a: string, b: string, windows: boolean): boolean {
  return windows ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** How many components of `p` the prefix covers and what is left, or undefined when it does not cover `p`. */
function matchLength(p: string, prefix: string): { length: number; rest: string[] } | undefined {
  const windows = isWindowsStyle(prefix);
  const want = components(prefix, windows);
  const have = components(p, windows);
  // `/` alone is [''] after the pop above; it covers every absolute POSIX path.
  const need = want.length === 1 && want[0] === '' ? [] : want;
  if (need.length > have.length) return undefined;
  for (let i = 0; i < need.length; i++) if (!componentsEqual(need[i]!, have[i]!, windows)) return undefined;
  if (need.length === 0 && have[0] !== '') return undefined;
  return { length: need.length, rest: have.slice(Math.max(need.length, 1)) };
}

/**
 * The agent's path for a coordinator path: the longest mapping prefix that covers it on whole
 * components (`/mnt/media2` is not under `/mnt/media`) is swapped for its agent folder, and the
 * rest is re-joined with the agent's separator. Windows prefixes match case-insensitively and
 * with either separator. No mappings at all means both machines see the same paths (identity);
 * with mappings, a path none covers is `undefined` (this agent cannot reach it).
 */
export function mapToAgent(coordPath: string, mappings: readonly PathMapping[], agentPath: AgentPathApi = path): string | undefined {
  if (mappings.length === 0) return coordPath;
  let best: { to: string; length: number; rest: string[] } | undefined;
  for (const m of mappings) {
    const hit = matchLength(coordPath, m.from);
    if (hit && (!best || hit.length > best.length)) best = { to: m.to, ...hit };
  }
  if (!best) return undefined;
  return best.rest.length ? agentPath.join(best.to, ...best.rest) : agentPath.normalize(best.to);
}
