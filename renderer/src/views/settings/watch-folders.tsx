import { useCallback, useId, useRef, useState } from 'react';
import type { WatchFolderView } from '../../../../core/shared/protocol/index.ts';
import { usePoll, useApp } from '../../app-context.tsx';
import { EmptyState } from '../../components/empty-state.tsx';
import { ErrorBanner, errorText } from '../../components/error-banner.tsx';
import { WatchFolderForm } from './watch-folders-form.tsx';
import { WatchFolderRow } from './watch-folders-row.tsx';

/** Often enough that an unplugged drive shows as offline while the user is looking. */
const POLL_MS = 5000;

/** Settings → Watch folders: the folders the coordinator feeds the queue from, add and remove. */
export function WatchFoldersSection() {
  const { api } = useApp();
  const uid = useId();
  const [folders, setFolders] = useState<WatchFolderView[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  // Kept apart from loadError so the next successful poll does not wipe it before it is read.
  const [actionError, setActionError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<ReadonlySet<number>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  // Each load or change takes a number; an answer older than the latest change is dropped, so a
  // poll that left before a removal cannot bring the removed row back.
  const seq = useRef(0);

  const load = useCallback(() => {
    const mine = ++seq.current;
    api.watchFolders().then(
      (res) => {
        if (mine !== seq.current) return;
        setFolders(res.folders);
        setLoadError(null);
      },
      (err: unknown) => mine === seq.current && setLoadError(`Watch folders could not be loaded: ${errorText(err)}`),
    );
  }, [api]);
  usePoll(load, POLL_MS);

  const added = (folder: WatchFolderView) => {
    seq.current++;
    setFolders((f) => [...(f ?? []).filter((x) => x.id !== folder.id), folder]);
    setAdding(false);
    setNotice(`Watching ${folder.path}.`);
    load();
  };

  const remove = (folder: WatchFolderView) => {
    seq.current++;
    setNotice(null);
    setActionError(null);
    setRemoving((s) => new Set(s).add(folder.id));
    const done = () =>
      setRemoving((s) => {
        const next = new Set(s);
        next.delete(folder.id);
        return next;
      });
    api.removeWatchFolder(folder.id).then(
      () => {
        done();
        seq.current++;
        setFolders((f) => f?.filter((x) => x.id !== folder.id) ?? f);
        setNotice(`Stopped watching ${folder.path}.`);
        load();
      },
      (err: unknown) => {
        done();
        setActionError(`Could not stop watching ${folder.path}: ${errorText(err)}`);
      },
    );
  };

  return (
    <section className="watch-folders" data-testid="watch-folders" aria-labelledby={`${uid}-title`}>
      <div className="watch-header">
        <h2 id={`${uid}-title`}>Watch folders</h2>
        {!adding && (
          <button
            type="button"
            data-testid="watch-add"
            onClick={() => {
              setNotice(null);
              setAdding(true);
            }}
          >
            Add folder…
          </button>
        )}
      </div>
      <ErrorBanner error={loadError} />
      <ErrorBanner error={actionError} onDismiss={() => setActionError(null)} />
      <p className="watch-notice" role="status" data-testid="watch-notice">
        {notice}
      </p>
      {adding && <WatchFolderForm onAdded={added} onCancel={() => setAdding(false)} />}
      {folders === null ? (
        !loadError && <p className="muted">Loading…</p>
      ) : folders.length === 0 ? (
        !adding && (
          <EmptyState title="No watch folders yet">
            <p>A watch folder sends every video file that finishes arriving in it to the queue, encoded with the preset you choose.</p>
            <p>
              Add one here, or from a terminal: <code>encodefarm watch add &lt;dir&gt; --preset h264-fast --out &lt;out-dir&gt;</code>
            </p>
          </EmptyState>
        )
      ) : (
        <ul className="watch-list">
          {folders.map((f) => (
            <WatchFolderRow key={f.id} folder={f} removing={removing.has(f.id)} onRemove={() => remove(f)} />
          ))}
        </ul>
      )}
    </section>
  );
}
