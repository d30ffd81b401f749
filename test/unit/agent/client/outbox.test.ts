import { describe, expect, it } from 'vitest';
import { Outbox } from '../../../../core/agent/client/outbox.ts';
import type { Logger } from '../../../../core/shared/logger.ts';
import type { AgentMessage } from '../../../../core/shared/protocol/index.ts';

function recordingLogger() {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (msg) => warnings.push(msg), error() {} };
  return { logger, warnings };
}

const started = (jobId: number, epoch = 1): AgentMessage => ({
  v: 1, type: 'started', jobId, epoch, tempPath: `/tmp/${jobId}.part`, source: { durationS: 10, sizeBytes: 100 },
});
const progress = (jobId: number, percent: number, epoch = 1): AgentMessage => ({
  v: 1, type: 'progress', jobId, epoch, frame: percent, fps: 30, speed: 1, outTimeS: percent / 10, percent, etaS: null,
});
const log = (jobId: number, line: string): AgentMessage => ({ v: 1, type: 'log', jobId, epoch: 1, lines: [line] });
const result = (jobId: number): AgentMessage => ({
  v: 1, type: 'result', jobId, epoch: 1, outcome: { ok: false, error: { kind: 'encode-failed', message: 'x' } },
});
const hello: AgentMessage = {
  v: 1, type: 'hello', agentId: 'agt-000000000001', hostname: 'h', pid: 1, devices: [], limitGroups: [], tags: [], files: 'shared', active: [],
};

function outbox(maxMessages?: number) {
  const { logger, warnings } = recordingLogger();
  return { box: new Outbox({ logger, ...(maxMessages ? { maxMessages } : {}) }), warnings };
}

describe('Outbox', () => {
  it('drains messages in the order they were pushed and empties', () => {
    const { box } = outbox();
    const msgs = [started(1), log(1, 'a'), result(1)];
    for (const m of msgs) box.push(m);
    expect(box.drain()).toEqual(msgs);
    expect(box.size()).toBe(0);
    expect(box.drain()).toEqual([]);
  });

  it('never buffers hello or heartbeat', () => {
    const { box } = outbox();
    expect(box.push(hello)).toBe('dropped');
    expect(box.push({ v: 1, type: 'heartbeat', leases: [{ jobId: 1, epoch: 1 }] })).toBe('dropped');
    expect(box.size()).toBe(0);
  });

  it('never buffers telemetry: a link down for hours must not pile up stale GPU figures', () => {
    const { box } = outbox();
    for (let at = 0; at < 10; at++) expect(box.push({ v: 1, type: 'telemetry', sample: { source: 'none', at, gpus: [], reason: 'no driver' } })).toBe('dropped');
    expect(box.size()).toBe(0);
  });

  it('keeps only the newest progress per (job, epoch), moved to the end', () => {
    const { box } = outbox();
    box.push(started(1));
    box.push(progress(1, 10));
    box.push(started(2));
    box.push(progress(1, 20));
    expect(box.drain()).toEqual([started(1), started(2), progress(1, 20)]);
  });

  it('keeps progress of different jobs and epochs apart', () => {
    const { box } = outbox();
    box.push(progress(1, 10, 1));
    box.push(progress(1, 15, 2));
    box.push(progress(2, 30, 1));
    expect(box.drain()).toEqual([progress(1, 10, 1), progress(1, 15, 2), progress(2, 30, 1)]);
  });

  it('drops the oldest log first when over the cap', () => {
    const { box } = outbox(3);
    box.push(log(1, 'a'));
    box.push(started(1));
    box.push(log(1, 'b'));
    box.push(result(1));
    expect(box.drain()).toEqual([started(1), log(1, 'b'), result(1)]);
  });

  it('drops progress once no log is left to drop', () => {
    const { box } = outbox(2);
    box.push(progress(1, 10));
    box.push(started(2));
    box.push(result(1));
    expect(box.drain()).toEqual([started(2), result(1)]);
  });

  it('drops a log pushed into a box full of undroppable messages', () => {
    const { box } = outbox(2);
    box.push(started(1));
    box.push(result(1));
    expect(box.push(log(1, 'late'))).toBe('dropped');
    expect(box.drain()).toEqual([started(1), result(1)]);
  });

  it('keeps undroppable messages over the cap and warns once', () => {
    const { box, warnings } = outbox(2);
    for (let i = 1; i <= 5; i++) box.push(started(i));
    box.push({ v: 1, type: 'device-update', deviceId: 'gpu0', slots: 1, state: 'working' });
    box.push({ v: 1, type: 'encoded', jobId: 1, epoch: 1 });
    expect(box.size()).toBe(7);
    expect(warnings).toHaveLength(1);
  });

  it('warns again after a drain starts a new outage', () => {
    const { box, warnings } = outbox(1);
    box.push(started(1));
    box.push(started(2));
    box.drain();
    box.push(started(3));
    box.push(started(4));
    expect(warnings).toHaveLength(2);
  });

  it('rejects a cap that is not a positive integer', () => {
    const { logger } = recordingLogger();
    expect(() => new Outbox({ logger, maxMessages: 0 })).toThrow(/maxMessages/);
  });
});
