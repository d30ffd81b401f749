// Builds the NVML telemetry addon (native/) with node-gyp, at `npm install` and before the tests.
// It ALWAYS exits 0: without the addon, GPU telemetry falls back to nvidia-smi (or none), so a
// machine with no compiler or no NVIDIA driver installs and runs exactly as before. It prints one
// line saying whether the addon was built, is up to date, or why not (full log: native/build/build-native.log).
//
//   node scripts/build-native.mjs            build unless native/build is newer than the sources
//   node scripts/build-native.mjs --force    build anyway
//   ENCODEFARM_SKIP_NATIVE=1                 skip (say so)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const nativeDir = path.join(root, 'native');
const addon = path.join(nativeDir, 'build', 'Release', 'encodefarm_nvml.node');
const logFile = path.join(nativeDir, 'build', 'build-native.log');
const TIMEOUT_MS = 5 * 60_000;

/** node-gyp: npm's own under npm (npm_config_node_gyp), else the one bundled with the npm beside this node. */
function findNodeGyp(env) {
  const candidates = [
    env.npm_config_node_gyp,
    env.npm_execpath && path.join(path.dirname(env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // Not a dependency of this project; the npm-bundled one is the usual source.
  }
  return candidates.find((c) => c && existsSync(c));
}

/**
 * Node's headers: npm passes its `nodedir` setting as npm_config_nodedir; outside npm, headers
 * installed beside this node (a distro's /usr/include/node) avoid node-gyp's download, which
 * fails on an offline machine.
 */
function nodedirArgs(env) {
  if (env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function newestSource() {
  let newest = statSync(path.join(nativeDir, 'binding.gyp')).mtimeMs;
  for (const f of readdirSync(path.join(nativeDir, 'src'))) newest = Math.max(newest, statSync(path.join(nativeDir, 'src', f)).mtimeMs);
  return newest;
}

/** The built module loads in this node (a stale build for another ABI would not). */
function loads() {
  try {
    const binding = createRequire(import.meta.url)(addon);
    return typeof binding.load === 'function' ? null : 'it has no load()';
  } catch (err) {
    return err instanceof Error ? err.message.split('\n')[0] : String(err);
  }
}

/** The line of node-gyp's output that says what went wrong: the compiler's or make's, else node-gyp's. */
function failureLine(output) {
  const lines = output.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !/^(gyp info|Warning:|cmd:|status:)/.test(l));
  const line =
    lines.find((l) => /(?:^|\s)(?:fatal )?error:|make: \*\*\*|command not found|No such file|not found:/i.test(l)) ??
    lines.find((l) => /^gyp ERR! (?:stack Error|find Python|configure error)/.test(l)) ??
    lines.find((l) => /^gyp ERR!/.test(l)) ??
    lines.at(-1) ??
    'no output';
  return line.slice(0, 200);
}

function build() {
  const env = process.env;
  if (env.ENCODEFARM_SKIP_NATIVE === '1') return 'native: NVML addon not built (ENCODEFARM_SKIP_NATIVE=1); GPU telemetry will use nvidia-smi or none';
  if (!existsSync(path.join(nativeDir, 'binding.gyp'))) return 'native: NVML addon not built (no native/binding.gyp)';
  const force = process.argv.includes('--force');
  if (!force && existsSync(addon) && statSync(addon).mtimeMs >= newestSource() && loads() === null) {
    return `native: NVML addon up to date (${path.relative(root, addon)})`;
  }
  const nodeGyp = findNodeGyp(env);
  if (!nodeGyp) return 'native: NVML addon not built (node-gyp not found; it ships with npm); GPU telemetry will use nvidia-smi or none';
  const args = [nodeGyp, 'rebuild', ...nodedirArgs(env)];
  const run = spawnSync(process.execPath, args, { cwd: nativeDir, env, encoding: 'utf8', timeout: TIMEOUT_MS, windowsHide: true });
  const output = `$ ${process.execPath} ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
  try {
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeFileSync(logFile, output);
  } catch {
    // The log is a convenience; the line below says what happened.
  }
  if (run.error || run.status !== 0) {
    const why = run.error ? run.error.message : `node-gyp exited with code ${run.status}: ${failureLine(output)}`;
    return `native: NVML addon not built (${why}); GPU telemetry will use nvidia-smi or none — log: ${path.relative(root, logFile)}`;
  }
  const loadError = loads();
  if (loadError) return `native: NVML addon built but does not load (${loadError}); GPU telemetry will use nvidia-smi or none`;
  return `native: NVML addon built (${path.relative(root, addon)})`;
}

let line;
try {
  line = build();
} catch (err) {
  line = `native: NVML addon not built (${err instanceof Error ? err.message : String(err)}); GPU telemetry will use nvidia-smi or none`;
}
console.log(line);
process.exitCode = 0;
