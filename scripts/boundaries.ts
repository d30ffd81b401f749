import path from 'node:path';

/**
 * The import rules of DESIGN.md §2, as data. Each rule names the files it applies to and the
 * import specifiers they may not use; `why` is printed with every violation.
 */
export interface BoundaryRule {
  files: RegExp;
  forbidden: RegExp;
  unless?: RegExp;
  why: string;
}

export const RULES: readonly BoundaryRule[] = [
  { files: /^core\//, forbidden: /^(electron|react|react-dom)(\/|$)/, why: 'core is headless: it never imports electron or react' },
  { files: /^core\//, forbidden: /(^|\/)(electron|renderer)\//, why: 'core does not reach into the shells' },
  // The addon is loaded only by the composition root (core/cli), which hands the agent a port.
  { files: /^core\/(?!cli\/)/, forbidden: /(^|\/)native\//, why: 'only core/cli loads the native addon' },
  {
    files: /^(?!core\/coordinator\/store\/|test\/unit\/coordinator\/store\/).*/,
    forbidden: /^better-sqlite3$/,
    why: 'better-sqlite3 is confined to core/coordinator/store',
  },
  { files: /^(?!core\/agent\/encoder\/).*/, forbidden: /^fluent-ffmpeg$/, why: 'fluent-ffmpeg is confined to core/agent/encoder' },
  {
    files: /^core\/(?!agent\/encoder\/|agent\/devices\/)/,
    forbidden: /^(node:)?child_process$/,
    why: 'only the encoder spawns ffmpeg (and devices spawns nvidia-smi)',
  },
  { files: /^core\/coordinator\//, forbidden: /(^|\/)agent\//, why: 'coordinator and agent share only core/shared' },
  { files: /^core\/agent\//, forbidden: /(^|\/)coordinator\//, why: 'coordinator and agent share only core/shared' },
  { files: /^core\/shared\//, forbidden: /^(node:|\.\.\/(coordinator|agent|cli)\/|\.\.\/\.\.\/)/, unless: /^\.\.\/\.\.\/shared\//, why: 'core/shared is pure: it also runs in the browser' },
  { files: /^renderer\/(?!vite\.config\.ts$)/, forbidden: /^(node:|better-sqlite3|fluent-ffmpeg|electron)|core\/(?!shared\/)/, why: 'the renderer imports only core/shared' },
];

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Module specifiers a source file imports (static, re-exports and literal dynamic imports). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2])!);
  return out;
}

export interface Violation {
  file: string;
  spec: string;
  why: string;
}

/** Checks every file (path relative to the repo root, with `/`) against the rules. */
export function checkBoundaries(files: ReadonlyMap<string, string>): Violation[] {
  const out: Violation[] = [];
  for (const [file, source] of files) {
    for (const spec of importsOf(source)) {
      const resolved = spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : spec;
      for (const rule of RULES) {
        if (!rule.files.test(file) || rule.unless?.test(spec)) continue;
        if (rule.forbidden.test(spec) || (spec.startsWith('.') && rule.forbidden.test(resolved))) out.push({ file, spec, why: rule.why });
      }
    }
  }
  return out;
}

/** Import cycles among the given files (each cycle once, as a list of files). */
export function findCycles(files: ReadonlyMap<string, string>): string[][] {
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    const deps = importsOf(source)
      .filter((s) => s.startsWith('.'))
      .map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)))
      .filter((d) => files.has(d));
    graph.set(file, deps);
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'visiting');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'visiting') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}
