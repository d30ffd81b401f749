import { Command, Option, CommanderError } from 'commander';
import { processTerminal, UsageError, type Terminal } from './context.ts';
import { runEncode } from './commands/encode.ts';
import { runDemo } from './commands/demo.ts';
import { runDevices } from './commands/devices.ts';
import { runPresets } from './commands/presets.ts';
import { runWatch } from './commands/watch.ts';
import { runJobAction, runLog, runRetry, runStatus } from './commands/jobs.ts';
import { runServe } from './commands/serve.ts';
import { runAgent } from './commands/agent.ts';
import { runAgents, runRemoteJobAction, runRemoteStatus, runSubmit } from './commands/remote.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function remoteOptions(cmd: Command): Command {
  return cmd
    .option('--coordinator <url>', 'a running coordinator, http(s)://host:port (default: the one `serve` runs from this data dir)')
    .option('--token <token>', "the coordinator's API token (env ENCODEFARM_TOKEN; default: this data dir's)")
    .option('--fingerprint <sha256>', "the coordinator's TLS certificate fingerprint, for https");
}

type Opts = Record<string, string | string[] | boolean | undefined>;

function common(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'where the queue database lives (default: OS user-data dir; env ENCODEFARM_DATA_DIR)')
    .option('--ffmpeg <path>', 'ffmpeg binary to use (default: PATH, then the bundled one)')
    .option('--ffprobe <path>', 'ffprobe binary to use');
}

function deviceOptions(cmd: Command): Command {
  return cmd
    .option('--gpus <list>', 'GPU indexes to use: all, none, or e.g. 0,1', 'all')
    .option('--cpu-slots <n>', 'concurrent software encodes on the CPU (default 1; beside working GPUs only for codecs no GPU encodes)')
    .option('--simulate-gpus <n>', 'add N simulated GPUs (software encoder, -threads 1) to see multi-GPU scheduling')
    .option('--gpu-sessions <n>', 'concurrent encodes per real GPU (default 3)')
    .option('--geforce-budget <n>', 'NVENC sessions all GeForce cards of this host share (driver limit; default 8)');
}

function farmOptions(cmd: Command): Command {
  return deviceOptions(common(cmd))
    .addOption(new Option('--retry-base-ms <ms>').hideHelp())
    .addOption(new Option('--stall-timeout <s>', 'kill an encode whose output time has not moved for this many seconds').default(undefined));
}

/** Builds the CLI; each action stores its exit code in `result`. */
export function buildProgram(term: Terminal, signal: AbortSignal, result: { code: number }): Command {
  const program = new Command('encodefarm')
    .description('Encode video files across every local GPU (or the CPU), with verified outputs.')
    .exitOverride()
    .configureOutput({ writeOut: term.out, writeErr: term.err })
    .showHelpAfterError('(run with --help for usage)');
  const run = (p: Promise<number> | number) => Promise.resolve(p).then((code) => void (result.code = code));

  farmOptions(program.command('encode').argument('<inputs...>', 'files, folders (scanned recursively) or quoted globs'))
    .description('encode files through the farm and wait until every output is verified')
    .option('-p, --preset <id|file.json>', 'preset id (see `encodefarm presets`) or a preset JSON file', 'h264-fast')
    .option('-o, --out <dir>', 'output folder (default: beside each source)')
    .option('--priority <n>', 'higher runs first', '0')
    .option('--on-exists <policy>', 'when the output exists: skip (default) or suffix; never overwrite', 'skip')
    .action((inputs: string[], o: Opts) => run(runEncode(inputs, o as never, term, signal)));

  farmOptions(program.command('demo'))
    .description('make a few short clips and encode them through the farm')
    .option('-p, --preset <id>', 'preset id', 'h264-fast')
    .option('--count <n>', 'number of clips', '4')
    .option('--seconds <n>', 'length of each clip', '4')
    .option('--dir <dir>', 'where clips and outputs go (default: <data-dir>/demo)')
    .action((o: Opts) => run(runDemo(o as never, term, signal)));

  deviceOptions(common(program.command('devices')))
    .description('which ffmpeg, which encoders, which GPUs, and what works')
    .option('--json', 'machine-readable output')
    .option('--watch', 'a live table of GPU telemetry (temperature, utilisation, NVENC sessions, memory) until Ctrl-C')
    .option('--interval <s>', 'seconds between --watch refreshes', '1')
    .action((o: Opts) => run(runDevices(o as never, term, signal)));

  common(program.command('presets').argument('[action]', 'list | show <id> | add <file.json> | rm <id>').argument('[arg]'))
    .description('list, show, add or remove presets')
    .action((action: string | undefined, arg: string | undefined, o: Opts) => run(runPresets(action, arg, o as never, term)));

  common(program.command('watch').argument('[action]', 'list | add <dir> | rm <id>').argument('[arg]'))
    .description('watch folders: files that land in them are encoded while `serve` runs')
    .option('-p, --preset <id>', 'preset id', 'h264-fast')
    .option('-o, --out <dir>', 'output folder (required for add)')
    .option('--recursive', 'watch sub-folders too')
    .option('--after <action>', 'keep (default) or archive:<dir> — move the source there once its output is verified', 'keep')
    .option('--include <glob>', 'only files matching (repeatable; default: video extensions)', collect)
    .option('--exclude <glob>', 'leave matching files or folders out (repeatable)', collect)
    .option('--stable <s>', 'seconds a file must stay unchanged before it is queued (default 10, 30 on network mounts)')
    .action((action: string | undefined, arg: string | undefined, o: Opts) => run(runWatch(action, arg, o as never, term)));

  remoteOptions(common(program.command('status')))
    .description('recent batches and the jobs of one batch (here, or of a running coordinator)')
    .option('--batch <id>', 'batch to list jobs of (default: the latest)')
    .option('--limit <n>', 'how many batches', '10')
    .action((o: Opts) => run(o.coordinator ? runRemoteStatus(o as never, term) : runStatus(o as never, term)));

  deviceOptions(common(program.command('serve')))
    .description('run the coordinator: API for the UI, the CLI and remote agents, plus this machine as a local agent')
    .option('--listen <host:port>', 'address to listen on (0.0.0.0:8765 for other machines)', '127.0.0.1:8765')
    .option('--tls', 'serve HTTPS with a self-signed certificate that agents pin when they join')
    .option('--allow-host <name>', 'another Host name clients use to reach this coordinator (repeatable)', collect)
    .option('--lease-ttl <s>', 'seconds a lease lives without a heartbeat (default 60)')
    .option('--no-local-agent', "don't encode on this machine, only coordinate")
    .addOption(new Option('--heartbeat <s>').hideHelp())
    .addOption(new Option('--ping <s>').hideHelp())
    .addOption(new Option('--stall-timeout <s>').hideHelp())
    .action((o: Opts) => run(runServe(o as never, term, signal)));

  deviceOptions(program.command('agent'))
    .description("serve a coordinator with this machine's devices (headless render node)")
    .option('--coordinator <url>', 'the coordinator, http(s)://host:port')
    .option('--join <token>', 'one-time join token from `encodefarm agents join-token` (first start only)')
    .option('--root <dir>', 'shared storage: a folder this agent may read inputs from and write outputs to (repeatable); none means file transfer', collect)
    .option('--map <coord=agent>', 'path mapping, coordinator prefix = this machine\'s prefix, e.g. D:\\Media=/mnt/media (repeatable)', collect)
    .option('--transfer', 'download inputs and upload outputs over HTTP even with --root')
    .option('--cache-dir <dir>', 'transfer mode: where inputs are cached (default: in the config dir)')
    .option('--cache-max <size>', 'transfer mode: cache size cap, e.g. 20G', '20G')
    .option('--tag <tag>', 'a tag batches can require (repeatable)', collect)
    .option('--slots <n>', "cap on this agent's concurrent jobs over all its devices")
    .option('--name <name>', 'name shown on the coordinator (default: hostname)')
    .option('--config-dir <dir>', 'where the agent keeps its credentials (env ENCODEFARM_AGENT_DIR)')
    .option('--ffmpeg <path>', 'ffmpeg binary to use')
    .option('--ffprobe <path>', 'ffprobe binary to use')
    .addOption(new Option('--stall-timeout <s>').hideHelp())
    .action((o: Opts) => run(runAgent(o as never, term, signal)));

  remoteOptions(common(program.command('agents').argument('[action]', 'list | join-token | pause | drain | resume | revoke').argument('[id]')))
    .description('remote agents of the coordinator: list, make a join token, pause, drain, resume, revoke')
    .option('--json', 'machine-readable output')
    .action((action: string | undefined, id: string | undefined, o: Opts) => run(runAgents(action, id, o as never, term)));

  remoteOptions(common(program.command('submit').argument('<inputs...>', 'files, folders or quoted globs (paths as the coordinator sees them)')))
    .description('queue files on a running coordinator and return')
    .option('-p, --preset <id>', 'preset id', 'h264-fast')
    .option('-o, --out <dir>', 'output folder (default: beside each source)')
    .option('--priority <n>', 'higher runs first', '0')
    .option('--on-exists <policy>', 'skip (default) or suffix; never overwrite', 'skip')
    .option('--tag <tag>', 'only agents with this tag may run the jobs (repeatable)', collect)
    .action((inputs: string[], o: Opts) => run(runSubmit(inputs, o as never, term)));

  common(program.command('log').argument('<job>', 'job id (see `encodefarm status`)'))
    .description("a job's attempts with device and reason, and its ffmpeg log tail")
    .option('--lines <n>', 'log lines to show', '50')
    .action((job: string, o: Opts) => run(runLog(job, o as never, term)));

  remoteOptions(farmOptions(program.command('retry').argument('<ids...>')))
    .description('put failed, canceled or blocked jobs back in the queue and run them (here, or on a coordinator)')
    .option('--batch', 'the ids are batch ids')
    .action((ids: string[], o: Opts) =>
      run(o.coordinator ? runRemoteJobAction('retry', ids, o as never, term) : runRetry(ids, o as never, term, signal)),
    );

  for (const action of ['cancel', 'pause', 'resume'] as const) {
    remoteOptions(common(program.command(action).argument('<ids...>')))
      .description(`${action} jobs (a running encode or coordinator picks it up within a second)`)
      .option('--batch', 'the ids are batch ids')
      .action((ids: string[], o: Opts) =>
        run(o.coordinator ? runRemoteJobAction(action, ids, o as never, term) : runJobAction(action, ids, o as never, term)),
      );
  }
  return program;
}

/** Entry point: parses argv, runs one command, returns the exit code. */
export async function main(argv: readonly string[], term: Terminal = processTerminal()): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = { code: 0 };
  try {
    const program = buildProgram(term, controller.signal, result);
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      term.err(`encodefarm: ${err.message}\n`);
      return 2;
    }
    term.err(`encodefarm: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
