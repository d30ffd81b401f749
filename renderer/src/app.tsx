import { useCallback, useEffect, useMemo, useState } from 'react';
import type { SubmitResponse } from '../../core/shared/protocol/index.ts';
import { createApiClient } from './api/client.ts';
import { forgetConnection, readConnection, type Connection } from './api/connection.ts';
import { connectEvents } from './api/events.ts';
import { AppContext, createEventsHub, type AppServices } from './app-context.tsx';
import { desktopBridge } from './bridge.ts';
import { AppHeader } from './components/app-header.tsx';
import { MissingToken } from './components/missing-token.tsx';
import { TokenRejected } from './components/token-rejected.tsx';
import { navigate, useHashRoute } from './state/hash-route.ts';
import { announceJobsChanged } from './state/jobs-changed.ts';
import { watchUnauthorized } from './state/watch-unauthorized.ts';
import { DevicesView } from './views/devices/devices-view.tsx';
import { HistoryView } from './views/history/history-view.tsx';
import { JobDetail } from './views/job-detail/job-detail.tsx';
import { PresetsView } from './views/presets/presets-view.tsx';
import { QueueView } from './views/queue/queue-view.tsx';
import { SettingsView } from './views/settings/settings-view.tsx';
import { DropOverlay } from './views/submit/drop-overlay.tsx';
import { inputFromFile, inputFromPath, type PendingInput } from './views/submit/pending-input.ts';
import { SubmitDialog } from './views/submit/submit-dialog.tsx';
import { useWindowDrop } from './views/submit/use-window-drop.ts';

/** The whole UI: a token screen without a connection, otherwise the connected app. */
export function App() {
  const [connection] = useState(readConnection);
  return connection ? <ConnectedApp connection={connection} /> : <MissingToken />;
}

/** Builds the services for one coordinator: the API client and the app's one events socket. */
function ConnectedApp({ connection }: { connection: Connection }) {
  const services = useMemo<AppServices>(
    () => ({
      api: createApiClient({ baseUrl: connection.baseUrl, token: connection.token }),
      connection,
      events: createEventsHub(),
      bridge: desktopBridge(),
      now: Date.now,
    }),
    [connection],
  );
  useEffect(() => {
    const { events } = services;
    const socket = connectEvents({ baseUrl: connection.baseUrl, token: connection.token, onFrame: events.emitFrame, onState: events.emitState });
    return () => socket.close();
  }, [services, connection]);
  return <AppShell services={services} />;
}

/**
 * The shell around the views: header, hash routes, window-wide file drop and the submit dialog.
 * Takes its services ready-made, so tests give it fakes.
 */
export function AppShell({ services }: { services: AppServices }) {
  const [rejected, setRejected] = useState(false);
  const app = useMemo<AppServices>(() => ({ ...services, api: watchUnauthorized(services.api, () => setRejected(true)) }), [services]);
  const { bridge, events } = app;
  const route = useHashRoute();
  const [pending, setPending] = useState<PendingInput[] | null>(null);
  const [notice, setNotice] = useState('');
  const addInputs = useCallback((inputs: PendingInput[]) => setPending((cur) => [...(cur ?? []), ...inputs]), []);
  const dragging = useWindowDrop(bridge, addInputs);

  const pickFiles = bridge
    ? () =>
        void bridge.pickFiles().then((paths) => {
          if (paths.length) addInputs(paths.map(inputFromPath));
        })
    : undefined;

  const submitted = useCallback((res: SubmitResponse) => {
    setNotice(`Batch #${res.batchId}: ${res.jobIds.length} job${res.jobIds.length === 1 ? '' : 's'} added.`);
    announceJobsChanged();
    navigate({ view: 'queue' });
  }, []);
  const closeDetail = useCallback(() => navigate({ view: 'queue' }), []);

  if (rejected) {
    return (
      <TokenRejected
        onForget={() => {
          forgetConnection();
          window.location.reload();
        }}
      />
    );
  }
  return (
    <AppContext.Provider value={app}>
      <div className="app">
        <AppHeader view={route.view} events={events} onAddFiles={pickFiles} onPickedFiles={(files) => addInputs(files.map((f) => inputFromFile(f)))} />
        <p className="app-notice" role="status">
          {notice}
        </p>
        <main className="app-main">
          {route.view === 'queue' && (
            <div className={route.jobId ? 'queue-layout has-detail' : 'queue-layout'}>
              <QueueView />
              {route.jobId && <JobDetail key={route.jobId} jobId={route.jobId} onClose={closeDetail} />}
            </div>
          )}
          {route.view === 'devices' && <DevicesView />}
          {route.view === 'presets' && <PresetsView />}
          {route.view === 'history' && <HistoryView />}
          {route.view === 'settings' && <SettingsView />}
        </main>
        {dragging && <DropOverlay desktop={bridge !== undefined} />}
        {pending && (
          <SubmitDialog
            inputs={pending}
            onRemove={(key) => setPending((cur) => cur?.filter((i) => i.key !== key) ?? null)}
            onClose={() => setPending(null)}
            onSubmitted={submitted}
          />
        )}
      </div>
    </AppContext.Provider>
  );
}
