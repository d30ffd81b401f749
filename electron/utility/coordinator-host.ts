// The utility process entry (utilityProcess.fork in electron/main/supervisor.ts): the coordinator
// and this machine's agent, the same code as `encodefarm serve`, away from the UI thread.
import { fileURLToPath } from 'node:url';
import type { ParentPort } from 'electron';
import { runHostOnPort, unpackedInstallerDirs } from './host.ts';

// Electron adds parentPort to `process` in a utility process only.
const port = (process as { parentPort?: ParentPort }).parentPort;
if (!port) {
  process.stderr.write('coordinator-host: not started as an Electron utility process\n');
  process.exit(1);
}

await runHostOnPort(
  port,
  {
    env: process.env,
    // The bundle lies in dist/electron/, the built renderer in dist/renderer/.
    uiDir: fileURLToPath(new URL('../renderer/', import.meta.url)),
    extraPath: unpackedInstallerDirs(),
  },
  (code) => process.exit(code),
);
