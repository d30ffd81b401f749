import path from 'node:path';
import { describeToolFailure, runTool, type ToolRun } from '../encoder/ffmpeg-info.ts';
import { findOnPath, isExecutableFile } from './locate-ffmpeg.ts';

/** One GPU as nvidia-smi lists it. */
export interface GpuInfo {
  /** nvidia-smi's index, which is PCI bus order; the same N that `-gpu N` means under CUDA_DEVICE_ORDER=PCI_BUS_ID. */
  index: number;
  uuid: string;
  name: string;
  pciBusId: string;
  /** Null when nvidia-smi reports `[N/A]`. */
  memoryTotalMiB: number | null;
  driverVersion: string;
  /**
   * A consumer card (GeForce/TITAN): NVIDIA's driver caps concurrent NVENC sessions across all
   * such cards in one host, so they share one budget.
   */
  geforce: boolean;
}

export interface NvidiaGpuList {
  gpus: GpuInfo[];
  /** Why no GPU list could be read (nvidia-smi absent, driver not loaded, timeout). */
  error?: string;
}

export const NVIDIA_SMI_ARGS = [
  '--query-gpu=index,uuid,name,pci.bus_id,memory.total,driver_version',
  '--format=csv,noheader,nounits',
] as const;

/**
 * Lists the NVIDIA GPUs of this host with nvidia-smi (an explicit path, else PATH). Never throws:
 * a missing tool or a broken driver comes back as `error` with an empty list, so the agent can
 * fall back to the CPU and say why.
 */
export async function listNvidiaGpus(
  opts: { nvidiaSmi?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<NvidiaGpuList> {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const binary = await resolveBinary(opts.nvidiaSmi, env);
  if (!binary) {
    return { gpus: [], error: opts.nvidiaSmi ? `nvidia-smi not found at ${opts.nvidiaSmi}` : 'nvidia-smi not found' };
  }
  let run: ToolRun;
  try {
    run = await runTool(binary, NVIDIA_SMI_ARGS, { timeoutMs, env, maxOutputBytes: 256 * 1024 });
  } catch (err) {
    return { gpus: [], error: `nvidia-smi: ${describeToolFailure(err instanceof Error ? err : new Error(String(err)), timeoutMs)}` };
  }
  if (run.code !== 0 || run.timedOut) return { gpus: [], error: smiFailure(run, timeoutMs) };
  return { gpus: parseNvidiaSmiCsv(run.stdout) };
}

async function resolveBinary(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (explicit === undefined) return findOnPath('nvidia-smi', env);
  const absolute = path.resolve(explicit);
  return (await isExecutableFile(absolute)) ? absolute : undefined;
}

/** nvidia-smi prints its complaint on stdout (e.g. "NVIDIA-SMI has failed because …"); use its first line. */
function smiFailure(run: ToolRun, timeoutMs: number): string {
  if (run.timedOut) return `nvidia-smi gave no answer within ${timeoutMs / 1000} s`;
  const first = `${run.stdout}\n${run.stderr}`
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find(Boolean);
  const how = run.code === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`;
  return first ? `nvidia-smi failed: ${first}` : `nvidia-smi ${how}`;
}

/** Parses `--format=csv,noheader,nounits` rows; malformed rows are skipped rather than guessed at. */
export function parseNvidiaSmiCsv(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 6) continue;
    const [indexText, uuid, name, pciBusId, memoryText, driverVersion] = fields as [string, string, string, string, string, string];
    if (!/^\d+$/.test(indexText) || !name || !uuid) continue;
    const memory = /^\d+(?:\.\d+)?$/.test(memoryText) ? Number(memoryText) : null;
    gpus.push({
      index: Number(indexText),
      uuid,
      name,
      pciBusId,
      memoryTotalMiB: memory,
      driverVersion,
      geforce: isGeForceName(name),
    });
  }
  return gpus;
}

// Workstation and data-centre parts: Quadro, Tesla, RTX A-series, RTX PRO, "Ada Generation",
// and bare model numbers such as A100, H100, L40S, T4, A10G.
const PRO_MARKERS = /\b(?:Quadro|Tesla|GRID|CMP|RTX A\d+|RTX PRO|Ada Generation|[ABHLT]\d{1,3}[A-Z]?)\b/i;
const CONSUMER_MARKERS = /\b(?:GeForce|TITAN|RTX)\b/i;

/** Whether a GPU name is a consumer card that counts against the per-host NVENC session cap. */
export function isGeForceName(name: string): boolean {
  return CONSUMER_MARKERS.test(name) && !PRO_MARKERS.test(name);
}
