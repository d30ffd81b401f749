// Builds what runs: the NVML addon (native/build), the CLI as one ESM file with packages external
// (dist/cli.mjs, so it starts without compiling TypeScript; bin/encodefarm.js falls back to tsx
// when a source file is newer), the UI (dist/renderer) and the desktop shell (dist/electron).
import { build } from 'esbuild';
import { build as viteBuild } from 'vite';
import { cpSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url);
// The NVML addon (never fails the build: without it GPU telemetry falls back to nvidia-smi or none).
await import('./build-native.mjs');
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
