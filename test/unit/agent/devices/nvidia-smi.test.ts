import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGeForceName, listNvidiaGpus, parseNvidiaSmiCsv } from '../../../../core/agent/devices/nvidia-smi.ts';

const FAKE_SMI = fileURLToPath(new URL('../../../fixtures/nvidia-smi/nvidia-smi', import.meta.url));

describe('listNvidiaGpus', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'encodefarm-smi-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Puts the fake nvidia-smi (a shell script, not NVIDIA's tool) alone on PATH. */
  async function fakeSmiEnv(scenario: string): Promise<NodeJS.ProcessEnv> {
    const target = path.join(dir, 'nvidia-smi');
    await copyFile(FAKE_SMI, target);
    await chmod(target, 0o755);
    return { PATH: dir, FAKE_NVIDIA_SMI_SCENARIO: scenario };
  }

  it('lists two GeForce cards in nvidia-smi order', async () => {
    const result = await listNvidiaGpus({ env: await fakeSmiEnv('two-geforce') });
    expect(result.error).toBeUndefined();
    expect(result.gpus).toEqual([
      {
        index: 0,
        uuid: 'GPU-6f2a1c4e-0d3b-4f51-9a0e-2b7c5d8e9f01',
        name: 'NVIDIA GeForce RTX 4090',
        pciBusId: '00000000:01:00.0',
        memoryTotalMiB: 24564,
        driverVersion: '550.54.14',
        geforce: true,
      },
      {
        index: 1,
        uuid: 'GPU-1b3c5d7e-9f0a-4b2c-8d4e-6f8a0b2c4d6e',
        name: 'NVIDIA GeForce RTX 3080',
        pciBusId: '00000000:02:00.0',
        memoryTotalMiB: 10240,
        driverVersion: '550.54.14',
        geforce: true,
      },
    ]);
  });

  it('marks an RTX A5000 and a Tesla as not GeForce', async () => {
    const result = await listNvidiaGpus({ env: await fakeSmiEnv('pro') });
    expect(result.gpus.map((g) => [g.index, g.name, g.geforce])).toEqual([
      [0, 'NVIDIA RTX A5000', false],
      [1, 'Tesla T4', false],
    ]);
  });

  it('reports the driver failure message instead of throwing', async () => {
    const result = await listNvidiaGpus({ env: await fakeSmiEnv('driver-failure') });
    expect(result.gpus).toEqual([]);
    expect(result.error).toContain("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver");
  });

  it('reports nvidia-smi not found when PATH has none', async () => {
    const result = await listNvidiaGpus({ env: { PATH: dir } });
    expect(result).toEqual({ gpus: [], error: 'nvidia-smi not found' });
  });

  it('uses an explicit nvidia-smi path and says when it is missing', async () => {
    const env = await fakeSmiEnv('pro');
    const explicit = await listNvidiaGpus({ nvidiaSmi: path.join(dir, 'nvidia-smi'), env: { ...env, PATH: '' } });
    expect(explicit.gpus).toHaveLength(2);
    const missing = await listNvidiaGpus({ nvidiaSmi: path.join(dir, 'nope'), env });
    expect(missing).toEqual({ gpus: [], error: `nvidia-smi not found at ${path.join(dir, 'nope')}` });
  });

  it('skips malformed rows and keeps the good one', async () => {
    const result = await listNvidiaGpus({ env: await fakeSmiEnv('malformed') });
    expect(result.error).toBeUndefined();
    expect(result.gpus).toEqual([
      {
        index: 0,
        uuid: 'GPU-2c4e6a8b-0d2f-4a6c-8e0a-2c4e6a8b0d2f',
        name: 'NVIDIA GeForce GTX 1080 Ti',
        pciBusId: '00000000:01:00.0',
        memoryTotalMiB: null,
        driverVersion: '550.54.14',
        geforce: true,
      },
    ]);
  });

  it('returns an empty list without an error when no GPU is listed', async () => {
    expect(await listNvidiaGpus({ env: await fakeSmiEnv('empty') })).toEqual({ gpus: [] });
  });
});

describe('parseNvidiaSmiCsv', () => {
  it('handles CRLF line ends and surrounding blanks', () => {
    const gpus = parseNvidiaSmiCsv('\r\n 3 , GPU-x , NVIDIA H100 80GB HBM3 , 00000000:C1:00.0 , 81559 , 550.54.15 \r\n');
    expect(gpus).toEqual([
      {
        index: 3,
        uuid: 'GPU-x',
        name: 'NVIDIA H100 80GB HBM3',
        pciBusId: '00000000:C1:00.0',
        memoryTotalMiB: 81559,
        driverVersion: '550.54.15',
        geforce: false,
      },
    ]);
  });
});

describe('isGeForceName', () => {
  it.each([
    ['NVIDIA GeForce RTX 4090', true],
    ['NVIDIA GeForce GTX 1660 SUPER', true],
    ['NVIDIA TITAN RTX', true],
    ['NVIDIA TITAN V', true],
    ['NVIDIA GeForce RTX 3060 Laptop GPU', true],
    ['NVIDIA RTX A5000', false],
    ['NVIDIA RTX A2000 12GB', false],
    ['Quadro RTX 5000', false],
    ['NVIDIA RTX 6000 Ada Generation', false],
    ['NVIDIA RTX PRO 6000 Blackwell Workstation Edition', false],
    ['Tesla T4', false],
    ['NVIDIA A100-SXM4-80GB', false],
    ['NVIDIA L40S', false],
    ['NVIDIA A10G', false],
    ['NVIDIA H200', false],
  ])('classifies %s as GeForce: %s', (name, expected) => {
    expect(isGeForceName(name)).toBe(expected);
  });
});
