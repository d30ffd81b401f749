import path from 'node:path';
import { JOB_STATES } from '../shared/job-state.ts';
import type { AgentView, StatusResponse } from '../shared/protocol/index.ts';
import { formatBytes, printable, renderTable } from './format.ts';

/** The `status` screen, the same whether the view came from the local database or a coordinator. */
export function renderStatus(view: StatusResponse): string {
  if (view.batches.length === 0) {
    return 'No batches yet. Try `encodefarm demo` or `encodefarm encode <files> --preset h264-fast`.\n';
  }
  const rows = view.batches.map((b) => {
    const counts = JOB_STATES.filter((s) => (b.counts[s] ?? 0) > 0).map((s) => `${b.counts[s]} ${s}`);
    return [String(b.id), new Date(b.createdAt).toISOString().slice(0, 19).replace('T', ' '), b.state, b.presetId, printable(b.label), counts.join(', ')];
  });
  const jobRows = view.jobs.map((j) => [
    String(j.id),
    printable(path.basename(j.inputPath)),
    j.state,
    j.state === 'running' ? `${j.percent.toFixed(0)}%` : '',
    j.deviceId ?? '-',
    `${formatBytes(j.inputSize)} → ${formatBytes(j.outputSize)}`,
    printable(j.state === 'done' ? (j.finalPath ?? '') : (j.errorMessage ?? j.blockReason ?? '')),
  ]);
  return (
    renderTable(['batch', 'created', 'state', 'preset', 'inputs', 'jobs'], rows) +
    `\n\nJobs of batch ${view.batchId}:\n` +
    renderTable(['job', 'file', 'state', 'progress', 'device', 'size in → out', 'output / reason'], jobRows) +
    '\n'
  );
}

export function renderAgents(agents: readonly AgentView[]): string {
  if (agents.length === 0) return 'No agents yet. Run `encodefarm agents join-token` and start `encodefarm agent --join <token>` on a render machine.\n';
  const rows = agents.map((a) => [
    a.id,
    printable(a.name),
    a.revoked ? 'revoked' : a.connected ? 'connected' : 'offline',
    a.state,
    a.tags.join(',') || '-',
    String(a.busy),
    a.devices.map((d) => `${d.id}(${d.busy}/${d.slots}${d.state === 'working' ? '' : ` ${d.state}`})`).join(' ') || '-',
    a.lastSeenAt ? new Date(a.lastSeenAt).toISOString().slice(0, 19).replace('T', ' ') : '-',
  ]);
  return renderTable(['agent', 'name', 'link', 'state', 'tags', 'jobs', 'devices (busy/slots)', 'last seen'], rows) + '\n';
}
