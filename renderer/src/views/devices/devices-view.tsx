import { useCallback, useRef, useState } from 'react';
import type { AgentView, DeviceWithFps } from '../../../../core/shared/protocol/index.ts';
import { useApp, useFrames, usePoll } from '../../app-context.tsx';
import { EmptyState } from '../../components/empty-state.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';
import { AgentsTable, type AgentAction } from './agents-table.tsx';
import { DeviceCard } from './device-card.tsx';
import { JoinTokenPanel } from './join-token.tsx';
import { mergeDeviceFrame } from './merge-devices.ts';
import './devices.css';

/** Devices with live utilisation, the agents that host them, and how to add more. */
export function DevicesView() {
  const { api, now } = useApp();
  const [devices, setDevices] = useState<DeviceWithFps[] | null>(null);
  const [agents, setAgents] = useState<AgentView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [pendingId, setPendingId] = useState<string | null>(null);
  // A slow coordinator must not pile up polls: skip a tick while the last one is still out.
  const inFlight = useRef(false);

  const load = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const [d, a] = await Promise.all([api.devices(), api.agents()]);
      setDevices(d.devices);
      setAgents(a.agents);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      inFlight.current = false;
    }
  }, [api]);

  usePoll(() => void load(), 1000);
  useFrames((f) => {
    if (f.type === 'devices') setDevices((prev) => mergeDeviceFrame(prev ?? [], f.devices));
    else if (f.type === 'agent') {
      setAgents((prev) => prev.map((a) => (a.id === f.agentId ? { ...a, connected: f.connected } : a)));
      if (!agents.some((a) => a.id === f.agentId)) void load();
    }
  });

  const act = async (id: string, action: AgentAction) => {
    setPendingId(id);
    try {
      await api.agentAction(id, action);
      setError(null);
    } catch (err) {
      setError(`${action}: ${(err as Error).message}`);
    } finally {
      setPendingId(null);
      void load();
    }
  };

  const agentName = (id: string) => agents.find((a) => a.id === id)?.name ?? id;
  return (
    <div className="devices-view">
      <h1 className="view-title">Devices</h1>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {devices !== null && devices.length === 0 && (
        <EmptyState title="No render devices yet">
          <p>
            This computer’s GPUs and CPU appear here once its agent starts. To add another render machine, create a join token below (or run{' '}
            <code>encodefarm agents join-token</code>) and run <code>encodefarm agent --coordinator &lt;url&gt; --join &lt;token&gt;</code> on it.
          </p>
        </EmptyState>
      )}
      {devices !== null && devices.length > 0 && (
        <section aria-label="Devices" className="device-grid">
          {devices.map((d) => (
            <DeviceCard key={d.key} device={d} agentName={agentName(d.agentId)} now={now()} />
          ))}
        </section>
      )}
      {agents.length > 0 && (
        <section aria-labelledby="agents-title" className="agents">
          <h2 id="agents-title">Agents</h2>
          <AgentsTable agents={agents} now={now()} pendingId={pendingId} onAction={(id, action) => void act(id, action)} />
        </section>
      )}
      <JoinTokenPanel />
    </div>
  );
}
