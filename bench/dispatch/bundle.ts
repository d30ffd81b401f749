import { spawn } from 'node:child_process';
import { cpSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Inside node_modules so that the bundle's external packages resolve as they do for dist/cli.mjs. */
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'encodefarm-bench');

/** Set in a process that already runs from the bundle. */
export const BUNDLED_ENV = 'ENCODEFARM_BENCH_BUNDLED';

/**
 * Runs `entry` the way `encodefarm serve` ships: bundled by esbuild into one ESM file with the
 * packages external and the store's migrations beside it (as scripts/build.mjs does for
 * dist/cli.mjs), so no TypeScript loader sits in the measured process. tsx alone adds ~40 MB of
 * RSS, a quarter of the memory target. Resolves with the run's exit code.
 */
export async function runBundled(entry: string, args: readonly string[]): Promise<number> {
  const { build } = await import('esbuild');
  await fsp.mkdir(CACHE, { recursive: true });
  const dir = await fsp.mkdtemp(path.join(CACHE, 'run-'));
  try {
    const outfile = path.join(dir, `${path.basename(entry, '.ts')}.mjs`);
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'warning' });
    cpSync(path.join(ROOT, 'core/coordinator/store/migrations'), path.join(dir, 'migrations'), { recursive: true });
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit', env: { ...process.env, [BUNDLED_ENV]: '1' } });
      child.on('error', reject);
      child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
