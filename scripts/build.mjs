// Bundles the CLI into dist/ and the UI into dist/renderer/; (one ESM file, packages external) so it starts without compiling
// TypeScript; bin/encodefarm.js falls back to tsx when a source file is newer than the bundle.
import { build } from 'esbuild';
import { build as viteBuild } from 'vite';
import { cpSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url);
rmSync(new URL('dist/', root), { recursive: true, force: true });
await build({
  entryPoints: [new URL('core/cli/main.ts', root).pathname],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  outfile: new URL('dist/cli.mjs', root).pathname,
  logLevel: 'warning',
});
// The store reads its numbered migrations beside the module at run time.
cpSync(new URL('core/coordinator/store/migrations/', root), new URL('dist/migrations/', root), { recursive: true });
// The UI the coordinator serves at `/` (and Electron loads from it).
await viteBuild({ configFile: new URL('renderer/vite.config.ts', root).pathname, logLevel: 'warn' });
// The desktop shell: main, the sandboxed preload (CJS) and the coordinator's utility-process host.
await import('./build-electron.mjs');
