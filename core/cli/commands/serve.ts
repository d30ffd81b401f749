import os from 'node:os';
import { FfmpegMissingError } from '../../shared/errors.ts';
import type { Terminal } from '../context.ts';
import { EXIT } from '../farm-session.ts';
import { startServe, type RunningServe, type ServeOptions } from '../serve/run-serve.ts';

export { parseListen, type ServeOptions } from '../serve/run-serve.ts';

/**
 * `encodefarm serve`: the long-running coordinator with its API for the UI, the CLI and remote
 * agents, and this machine's devices as a local agent. Runs until Ctrl-C / SIGTERM.
 */
export async function runServe(opts: ServeOptions, term: Terminal, signal: AbortSignal): Promise<number> {
  let running: RunningServe;
  try {
    running = await startServe(opts, term);
  } catch (err) {
    if (err instanceof FfmpegMissingError) {
      term.err(`encodefarm: ${err.message}\n`);
      return EXIT.noFfmpeg;
    }
    throw err;
  }
  term.out(banner(running));
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  term.err('stopping: handing local work back to the queue…\n');
  await running.stop();
  return EXIT.ok;
}

function banner({ url, apiToken, dataDir, listen, service }: RunningServe): string {
  const reachable = listen.host === '0.0.0.0' || listen.host === '::' ? url.replace(/\/\/[^:/]+/, `//${os.hostname()}`) : url;
  return [
    `EncodeFarm coordinator listening on ${url}`,
    `  UI:     ${url}/#token=${apiToken}`,
    `  token:  stored in ${dataDir}/api-token (CLI commands on this machine use it)`,
    ...(service.fingerprint ? [`  TLS certificate fingerprint (agents pin it): ${service.fingerprint}`] : []),
    `  agents: run \`encodefarm agents join-token\`, then on each render machine:`,
    `          encodefarm agent --coordinator ${reachable} --join <token> [--root <media folder>]`,
    '',
  ].join('\n');
}
