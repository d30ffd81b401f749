// Bundles the desktop shell into dist/electron/: main.mjs (Electron main, ESM), preload.cjs (the
// sandboxed preload: CJS, since a sandboxed renderer cannot load an ESM preload, and requiring
// nothing but 'electron') and coordinator-host.mjs (the utility process running `serve`'s code).
// npm packages stay external: they ship in the app's node_modules (better-sqlite3 rebuilt for
// Electron by electron-builder's npmRebuild).
import { build } from 'esbuild';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url);
// fileURLToPath, not .pathname: packaging also happens on Windows (C:\ paths).
const at = (p) => fileURLToPath(new URL(p, root));
rmSync(at('dist/electron/'), { recursive: true, force: true });

// Electron 39 runs Node 22.
const common = { bundle: true, platform: 'node', target: 'node22', logLevel: 'warning' };
await Promise.all([
  build({ ...common, entryPoints: [at('electron/main/main.ts')], format: 'esm', packages: 'external', outfile: at('dist/electron/main.mjs') }),
  build({ ...common, entryPoints: [at('electron/preload/preload.ts')], format: 'cjs', external: ['electron'], outfile: at('dist/electron/preload.cjs') }),
  build({
    ...common,
    entryPoints: [at('electron/utility/coordinator-host.ts')],
    format: 'esm',
    packages: 'external',
    outfile: at('dist/electron/coordinator-host.mjs'),
  }),
]);
// The store reads its numbered migrations beside the module that bundles it.
cpSync(at('core/coordinator/store/migrations/'), at('dist/electron/migrations/'), { recursive: true });
