#!/usr/bin/env node
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = path.join(root, 'dist', 'cli.mjs');

/** Newest mtime under `dir` (ms); the sources are a few dozen small files, so this is cheap. */
function newest(dir) {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    return built >= newest(path.join(root, 'core')) && built >= statSync(path.join(root, 'native', 'index.ts')).mtimeMs;
  } catch {
    return false;
  }
}

// `npm install` builds the bundle (starts ~0.5 s faster); while the sources are being edited,
// tsx compiles them on the fly instead, so the CLI never runs stale code.
let main;
if (bundleIsFresh()) {
  ({ main } = await import(bundle));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../core/cli/main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
