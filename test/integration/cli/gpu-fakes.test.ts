import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeClip } from '../../helpers/clips.ts';
import { SYSTEM_PATH, Scratch, expectEncodeOf, filesUnder, resolveTool, runCli, show } from '../../helpers/cli.ts';

// The GPU paths of the CLI, on a machine without an NVIDIA GPU. Everything GPU-shaped here is a
// FAKE, named as such:
//  - FAKE nvidia-smi (test/fixtures/nvidia-smi/nvidia-smi, scenario `two-geforce`) put first on
//    PATH: it lists two GeForce cards and touches no GPU.
//  - FAKE ffmpeg (written below, passed with --ffmpeg): a wrapper around the real ffmpeg. Anything
//    without an NVENC encoder goes to the real ffmpeg unchanged. An NVENC run either fails the way
//    the NVIDIA driver fails, or is rewritten into its libx264/libx265 equivalent and really
//    encoded, so verification checks a real file — the encode did happen, only not on a GPU.

const scratch = new Scratch();
afterEach(() => scratch.cleanup());

const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../../fixtures/nvidia-smi/nvidia-smi', import.meta.url));
const REAL_FFMPEG = resolveTool('ffmpeg');
const REAL_FFPROBE = resolveTool('ffprobe');

/**
 * FAKE ffmpeg. FAKE_FFMPEG_SCENARIO:
 *  - `session-limit`: GPU 1 opens one NVENC session at a time. An encode on GPU 1 while another
 *    is open fails with the driver's `OpenEncodeSessionEx failed: out of memory (10)`. The first
 *    session holds on until that refusal happened (or 20 s passed), so the two really overlap,
 *    as they do on a real card, whatever the machine's speed.
 *  - `no-libcuda`: every NVENC run fails with `Cannot load libcuda.so.1` (no NVIDIA driver).
 * It logs one line per NVENC run to $FAKE_FFMPEG_STATE/calls.log and refuses to run unless
 * CUDA_DEVICE_ORDER=PCI_BUS_ID (without it `-gpu N` would not be nvidia-smi's GPU N).
 */
function fakeFfmpegScript(realFfmpeg: string): string {
  return `#!/bin/sh
# FAKE ffmpeg for EncodeFarm's GPU-path tests. Not NVIDIA's encoder: see gpu-fakes.test.ts.
REAL='${realFfmpeg}'
STATE="\${FAKE_FFMPEG_STATE:?}"
nvenc=""
for a in "$@"; do case "$a" in h264_nvenc|hevc_nvenc|av1_nvenc) nvenc="$a" ;; esac; done
[ -z "$nvenc" ] && exec "$REAL" "$@"

if [ "$CUDA_DEVICE_ORDER" != PCI_BUS_ID ]; then
  echo "fake ffmpeg: CUDA_DEVICE_ORDER is '$CUDA_DEVICE_ORDER', expected PCI_BUS_ID" >&2
  exit 3
fi
for last; do :; done
if [ "$last" = "-" ]; then kind=probe; else kind=encode; fi

# Rewrite the NVENC argv (-hwaccel cuda -hwaccel_device N ... -c:v h264_nvenc -gpu N -preset pX
# -tune hq -rc vbr -cq Q -b:v 0) into its software equivalent.
gpu=""; skip=""; n=$#; i=0
while [ "$i" -lt "$n" ]; do
  a=$1; shift; i=$((i + 1))
  if [ -n "$skip" ]; then
    case "$skip" in gpu) gpu=$a ;; preset) set -- "$@" ultrafast ;; keep) set -- "$@" "$a" ;; esac
    skip=""; continue
  fi
  case "$a" in
    -hwaccel|-hwaccel_device|-tune|-rc|-b:v) skip=drop ;;
    -gpu) skip=gpu ;;
    -preset) set -- "$@" -preset; skip=preset ;;
    -cq) set -- "$@" -crf; skip=keep ;;
    h264_nvenc) set -- "$@" libx264 ;;
    hevc_nvenc) set -- "$@" libx265 -x265-params log-level=error ;;
    *) set -- "$@" "$a" ;;
  esac
done
echo "$kind gpu=$gpu encoder=$nvenc" >> "$STATE/calls.log"

driver_error() {
  echo "[$nvenc @ 0x55d5c8a5e040] $1" >&2
  echo "Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height" >&2
  echo "Conversion failed!" >&2
  exit 1
}

case "$FAKE_FFMPEG_SCENARIO" in
  no-libcuda) driver_error "Cannot load libcuda.so.1" ;;
  session-limit)
    if [ "$gpu" = 1 ] && [ "$kind" = encode ]; then
      if mkdir "$STATE/gpu1-session" 2>/dev/null; then
        t=0
        while [ ! -e "$STATE/gpu1-refused" ] && [ "$t" -lt 400 ]; do sleep 0.05; t=$((t + 1)); done
        "$REAL" "$@"; rc=$?
        rmdir "$STATE/gpu1-session"
        exit "$rc"
      fi
      : > "$STATE/gpu1-refused"
      echo "refused gpu=1 encoder=$nvenc" >> "$STATE/calls.log"
      driver_error "OpenEncodeSessionEx failed: out of memory (10): (no details)"
    fi ;;
esac
exec "$REAL" "$@"
`;
}

async function workspace(scenario: 'session-limit' | 'no-libcuda') {
  const root = await scratch.dir('gpu');
  const data = path.join(root, 'data');
  const clips = path.join(root, 'clips');
  const bin = path.join(root, 'bin');
  const state = path.join(root, 'fake-state');
  for (const d of [data, clips, bin, state]) await mkdir(d);
  await copyFile(FAKE_NVIDIA_SMI, path.join(bin, 'nvidia-smi'));
  await chmod(path.join(bin, 'nvidia-smi'), 0o755);
  const fakeDir = path.join(root, 'fake-ffmpeg');
  await mkdir(fakeDir);
  const ffmpeg = path.join(fakeDir, 'ffmpeg');
  await writeFile(ffmpeg, fakeFfmpegScript(REAL_FFMPEG));
  await chmod(ffmpeg, 0o755);
  return {
    root,
    data,
    clips,
    state,
    out: path.join(root, 'out'),
    /** --ffmpeg/--ffprobe: the fake ffmpeg, the real ffprobe. */
    tools: ['--ffmpeg', ffmpeg, '--ffprobe', REAL_FFPROBE],
    opts: {
      dataDir: data,
      env: {
        PATH: `${bin}:${SYSTEM_PATH}`,
        FAKE_NVIDIA_SMI_SCENARIO: 'two-geforce',
        FAKE_FFMPEG_SCENARIO: scenario,
        FAKE_FFMPEG_STATE: state,
      },
    },
  };
}

const calls = async (state: string) => (await readFile(path.join(state, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe.skipIf(!REAL_FFMPEG || !REAL_FFPROBE)('encodefarm with a fake nvidia-smi and fake NVENC ffmpeg', () => {
  it('devices lists both GPUs with working h264 NVENC', async () => {
    const w = await workspace('session-limit');

    const r = await runCli(['devices', ...w.tools], w.opts);

    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^0\s+NVIDIA GeForce RTX 4090\s+h264_nvenc ok/m);
    expect(r.stdout).toMatch(/^1\s+NVIDIA GeForce RTX 3080\s+h264_nvenc ok/m);
    expect(r.stdout).toMatch(/^gpu0\s+GPU 0 NVIDIA GeForce RTX 4090\s+nvenc\s+\d+\s+h264/m);
    expect(r.stdout).toMatch(/^gpu1\s+GPU 1 NVIDIA GeForce RTX 3080\s+nvenc\s+\d+\s+h264/m);
    expect(r.stdout).toMatch(/shared limit nvenc-geforce-host: at most 8 sessions/);
    expect(r.stdout).not.toMatch(/No working NVIDIA GPU/);
    // Each GPU was test-encoded pinned to itself.
    const probes = await calls(w.state);
    expect(probes).toContain('probe gpu=0 encoder=h264_nvenc');
    expect(probes).toContain('probe gpu=1 encoder=h264_nvenc');
  });

  it('encodes on both GPUs; a session-limit refusal requeues the job instead of failing it', async () => {
    const w = await workspace('session-limit');
    const inputs = await Promise.all(['1', '2', '3', '4'].map((n) => makeClip(w.clips, `clip${n}.mp4`, { seconds: 1, width: 320, height: 180 })));

    const r = await runCli(['encode', ...inputs, '--out', w.out, ...w.tools], w.opts);

    const log = await calls(w.state);
    expect(r.code, `${show(r)}\n--- fake ffmpeg calls\n${log.join('\n')}`).toBe(0);
    for (const input of inputs) await expectEncodeOf(path.join(w.out, `${path.basename(input, '.mp4')}.h264-fast.mp4`), input, 'h264');
    expect(await filesUnder(w.out)).toHaveLength(4);
    // The driver did refuse a session on GPU 1, and the job that hit it still ended done.
    expect(log).toContain('refused gpu=1 encoder=h264_nvenc');
    expect(r.stderr, show(r)).toMatch(/session limit/);
    const farmLog = await readFile(path.join(w.data, 'encodefarm.log'), 'utf8');
    expect(farmLog).toMatch(/session limit/);
    // Jobs ran pinned to each GPU (GPU 1 at least for its first session).
    expect(log.filter((l) => l === 'encode gpu=0 encoder=h264_nvenc').length).toBeGreaterThan(0);
    expect(log.filter((l) => l === 'encode gpu=1 encoder=h264_nvenc').length).toBeGreaterThan(0);
    const rows = r.stdout.split('\n').filter((l) => /^clip\d\.mp4 /.test(l));
    expect(rows, show(r)).toHaveLength(4);
    expect(rows.every((l) => /\bdone$/.test(l)), show(r)).toBe(true);
    expect(rows.some((l) => l.includes('GPU 0 NVIDIA GeForce RTX 4090')), show(r)).toBe(true);
    expect(rows.some((l) => l.includes('GPU 1 NVIDIA GeForce RTX 3080')), show(r)).toBe(true);
  });

  it('without libcuda, devices says no GPU works and encode falls back to the CPU, saying so once', async () => {
    const w = await workspace('no-libcuda');

    const d = await runCli(['devices', ...w.tools], w.opts);

    expect(d.code, show(d)).toBe(0);
    expect(d.stdout).toMatch(/^0\s+NVIDIA GeForce RTX 4090\s+h264_nvenc failed \(Cannot load libcuda\.so\.1\)/m);
    expect(d.stdout).toMatch(/No working NVIDIA GPU found \(GPU 0: Cannot load libcuda\.so\.1; GPU 1: Cannot load libcuda\.so\.1\): encoding on the CPU/);
    expect(d.stdout).not.toMatch(/^gpu\d/m);

    const inputs = await Promise.all(['a', 'b'].map((n) => makeClip(w.clips, `${n}.mp4`, { seconds: 1, width: 320, height: 180 })));
    const r = await runCli(['encode', ...inputs, '--out', w.out, ...w.tools], w.opts);

    expect(r.code, show(r)).toBe(0);
    expect(r.stderr.match(/No working NVIDIA GPU found/g), show(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/encoding on the CPU/);
    const rows = r.stdout.split('\n').filter((l) => /^[ab]\.mp4 /.test(l));
    expect(rows.every((l) => /CPU \(libx264.*\bdone$/.test(l)), show(r)).toBe(true);
    for (const input of inputs) await expectEncodeOf(path.join(w.out, `${path.basename(input, '.mp4')}.h264-fast.mp4`), input, 'h264');
    // Only test encodes ever asked for NVENC; no job was sent to a GPU.
    expect((await calls(w.state)).every((l) => l.startsWith('probe '))).toBe(true);
  });
});
