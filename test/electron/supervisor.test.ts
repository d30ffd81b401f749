import { beforeEach, describe, expect, it } from 'vitest';
import { createSupervisor, type Supervisor, type SupervisorStatus } from '../../electron/main/supervisor.ts';
import { NO_FFMPEG_EXIT } from '../../electron/utility/messages.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeUtilityProcess, fakeElectron, resetFakeElectron } from './fake-electron.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const ready = (port: number) => ({ type: 'ready', url: `http://127.0.0.1:${port}`, token: 'efa_token' });

describe('createSupervisor', () => {
  let clock: FakeClock;
  let statuses: SupervisorStatus[];
  let supervisor: Supervisor;
  const forks = () => fakeElectron.utilityProcess.forks;
  const child = (i = -1): FakeUtilityProcess => forks().at(i)!;

  beforeEach(() => {
    resetFakeElectron();
    clock = new FakeClock();
    statuses = [];
    supervisor = createSupervisor({
      fork: () => fakeElectron.utilityProcess.fork('/app/dist/electron/coordinator-host.mjs'),
      clock,
      logger: recordingLogger(),
      onStatus: (s) => statuses.push(s),
      backoffBaseMs: 1000,
      backoffMaxMs: 8000,
      healthyAfterMs: 60_000,
    });
  });

  it("starts the host and reports ready with the URL and token it posts", () => {
    supervisor.start();
    expect(forks()).toHaveLength(1);
    expect(supervisor.status()).toEqual({ state: 'starting', attempt: 1 });
    child().post(ready(41234));
    expect(supervisor.status()).toEqual({ state: 'ready', url: 'http://127.0.0.1:41234', token: 'efa_token' });
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'ready']);
  });

  it('ignores messages that are not the protocol', () => {
    supervisor.start();
    for (const m of [null, 'ready', { type: 'ready' }, { type: 'ready', url: 'not a url', token: 'x' }, { type: 'hello' }]) child().post(m);
    expect(supervisor.status().state).toBe('starting');
  });

  it('restarts a crashed host after a backoff that doubles per crash, up to the cap', () => {
    supervisor.start();
    child().post(ready(41234));
    child().exit(1);
    expect(supervisor.status()).toMatchObject({ state: 'restarting', attempt: 1, retryInMs: 1000 });
    clock.advance(999);
    expect(forks()).toHaveLength(1);
    clock.advance(1);
    expect(forks()).toHaveLength(2);
    expect(supervisor.status()).toEqual({ state: 'starting', attempt: 2 });

    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      child().exit(134);
      const s = supervisor.status();
      if (s.state !== 'restarting') throw new Error(`expected restarting, got ${s.state}`);
      delays.push(s.retryInMs);
      clock.advance(s.retryInMs);
    }
    expect(delays).toEqual([2000, 4000, 8000, 8000]);
    expect(forks()).toHaveLength(6);
    child().post(ready(50000));
    expect(supervisor.status()).toMatchObject({ state: 'ready', url: 'http://127.0.0.1:50000' });
  });

  it('starts the backoff over after the host ran healthy for a while', () => {
    supervisor.start();
    child().exit(1);
    clock.advance(1000);
    child().exit(1);
    clock.advance(2000);
    child().post(ready(1));
    clock.advance(60_000);
    child().exit(1);
    expect(supervisor.status()).toMatchObject({ state: 'restarting', attempt: 1, retryInMs: 1000 });
  });

  it('kills a host that never gets ready', () => {
    supervisor.start();
    clock.advance(120_000);
    expect(child().killed).toBe(true);
    child().exit(143);
    expect(supervisor.status()).toMatchObject({ state: 'restarting', reason: 'not ready after 120 s' });
  });

  it('gives up on a host that fails to start five times in a row, saying why, until asked again', () => {
    supervisor.start();
    for (let i = 1; i <= 5; i++) {
      child().post({ type: 'failed', reason: 'error', message: 'better_sqlite3.node was compiled against NODE_MODULE_VERSION 115' });
      child().exit(1);
      if (i < 5) clock.advance((supervisor.status() as { retryInMs: number }).retryInMs);
    }
    expect(supervisor.status()).toEqual({ state: 'failed', cause: 'keeps-failing', reason: 'better_sqlite3.node was compiled against NODE_MODULE_VERSION 115' });
    clock.advance(600_000);
    expect(forks()).toHaveLength(5);
    supervisor.restart();
    expect(forks()).toHaveLength(6);
  });

  it('does not restart a host that cannot find ffmpeg, until asked to', () => {
    supervisor.start();
    child().post({ type: 'failed', reason: 'no-ffmpeg', message: 'ffmpeg not found (looked on PATH)' });
    child().exit(NO_FFMPEG_EXIT);
    expect(supervisor.status()).toEqual({ state: 'failed', cause: 'no-ffmpeg', reason: 'ffmpeg not found (looked on PATH)' });
    clock.advance(600_000);
    expect(forks()).toHaveLength(1);
    supervisor.restart();
    expect(forks()).toHaveLength(2);
    expect(supervisor.status()).toEqual({ state: 'starting', attempt: 1 });
  });

  it('restarts after other start failures', () => {
    supervisor.start();
    child().post({ type: 'failed', reason: 'error', message: 'database is locked' });
    child().exit(1);
    expect(supervisor.status()).toMatchObject({ state: 'restarting', reason: 'database is locked' });
    clock.advance(1000);
    expect(forks()).toHaveLength(2);
  });

  it('restarts a running host at once when asked', () => {
    supervisor.start();
    child().post(ready(1));
    supervisor.restart();
    expect(child().killed).toBe(true);
    child().exit(143);
    expect(forks()).toHaveLength(2);
  });

  it('stops the host cleanly: asks it to stop, waits for its exit, never restarts it', async () => {
    supervisor.start();
    child().post(ready(1));
    const stopped = supervisor.stop();
    expect(child().posted).toEqual([{ type: 'stop' }]);
    child().exit(0);
    await stopped;
    expect(supervisor.status()).toEqual({ state: 'stopped' });
    clock.advance(600_000);
    expect(forks()).toHaveLength(1);
    expect(child().killed).toBe(false);
  });

  it('kills a host that does not stop in time', async () => {
    supervisor.start();
    const stopped = supervisor.stop();
    clock.advance(10_000);
    expect(child().killed).toBe(true);
    child().exit(143);
    await stopped;
    expect(supervisor.status().state).toBe('stopped');
  });

  it('stops a pending restart', async () => {
    supervisor.start();
    child().exit(1);
    await supervisor.stop();
    clock.advance(60_000);
    expect(forks()).toHaveLength(1);
    expect(supervisor.status().state).toBe('stopped');
  });
});
