import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  defaultAgentConfigDir,
  loadAgentIdentity,
  saveAgentIdentity,
} from '../../../../core/agent/client/agent-config.ts';
import type { AgentIdentity } from '../../../../core/agent/client/agent-config.ts';

const FP = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase().slice(-2)).join(':');
const identity: AgentIdentity = {
  coordinator: 'https://farm.local:8470',
  agentId: 'agt-0123456789ab',
  secret: 'A'.repeat(42) + 'w',
  fingerprint: FP,
  enrolledAt: 1_700_000_000_000,
};

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ef-agent-config-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('agent identity file', () => {
  it('round-trips through save and load', async () => {
    await saveAgentIdentity(dir, identity);
    expect(await loadAgentIdentity(dir)).toEqual(identity);
  });

  it('round-trips a plain-HTTP identity without a fingerprint', async () => {
    const plain = { ...identity, coordinator: 'http://10.0.0.2:8470', fingerprint: undefined };
    delete plain.fingerprint;
    await saveAgentIdentity(dir, plain);
    expect(await loadAgentIdentity(dir)).toEqual(plain);
  });

  it.skipIf(process.platform === 'win32')('is written with mode 0600', async () => {
    const file = await saveAgentIdentity(dir, identity);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('replaces an existing file and leaves no temp files behind', async () => {
    await saveAgentIdentity(dir, identity);
    await saveAgentIdentity(dir, { ...identity, agentId: 'agt-ba9876543210' });
    expect((await loadAgentIdentity(dir))?.agentId).toBe('agt-ba9876543210');
    expect(await fs.readdir(dir)).toEqual(['agent.json']);
  });

  it('creates the folder when it does not exist', async () => {
    const nested = path.join(dir, 'a', 'b');
    await saveAgentIdentity(nested, identity);
    expect(await loadAgentIdentity(nested)).toEqual(identity);
  });

  it('loads undefined when the agent has not joined', async () => {
    expect(await loadAgentIdentity(dir)).toBeUndefined();
  });

  it('names the file and the reason when the JSON is corrupt', async () => {
    await fs.writeFile(path.join(dir, 'agent.json'), '{"coordinator": "http://x', 'utf8');
    const err = await loadAgentIdentity(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentConfigError);
    expect((err as Error).message).toContain(path.join(dir, 'agent.json'));
    expect((err as Error).message).toMatch(/not valid JSON/);
  });

  it('names the field when the content does not validate', async () => {
    await fs.writeFile(path.join(dir, 'agent.json'), JSON.stringify({ ...identity, agentId: 'nope' }), 'utf8');
    await expect(loadAgentIdentity(dir)).rejects.toThrow(/agentId/);
  });

  it('refuses an https identity without a pinned fingerprint', async () => {
    const { fingerprint: _fp, ...unpinned } = identity;
    await fs.writeFile(path.join(dir, 'agent.json'), JSON.stringify(unpinned), 'utf8');
    await expect(loadAgentIdentity(dir)).rejects.toThrow(/fingerprint/);
    await expect(saveAgentIdentity(dir, unpinned)).rejects.toThrow(/fingerprint/);
  });
});

describe('defaultAgentConfigDir', () => {
  const home = '/home/ana';

  it('prefers ENCODEFARM_AGENT_DIR', () => {
    expect(defaultAgentConfigDir({ env: { ENCODEFARM_AGENT_DIR: '/srv/agent' }, platform: 'linux', home })).toBe(path.resolve('/srv/agent'));
  });

  it('uses XDG_CONFIG_HOME, else ~/.config, on Linux', () => {
    expect(defaultAgentConfigDir({ env: { XDG_CONFIG_HOME: '/cfg' }, platform: 'linux', home })).toBe(path.join('/cfg', 'encodefarm-agent'));
    expect(defaultAgentConfigDir({ env: {}, platform: 'linux', home })).toBe(path.join(home, '.config', 'encodefarm-agent'));
  });

  it('uses Application Support on macOS', () => {
    expect(defaultAgentConfigDir({ env: {}, platform: 'darwin', home })).toBe(path.join(home, 'Library', 'Application Support', 'encodefarm-agent'));
  });

  it('uses %APPDATA% on Windows', () => {
    expect(defaultAgentConfigDir({ env: { APPDATA: 'C:\\Users\\ana\\AppData\\Roaming' }, platform: 'win32', home: 'C:\\Users\\ana' })).toBe(
      'C:\\Users\\ana\\AppData\\Roaming\\encodefarm-agent',
    );
  });
});
