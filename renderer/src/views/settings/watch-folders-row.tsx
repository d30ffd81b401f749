import type { WatchFolderView } from '../../../../core/shared/protocol/index.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { baseName } from '../../lib/format.ts';

/** Seconds without trailing zeros: the window is usually typed in whole or half seconds. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** One watched folder: where it feeds from and to, whether the coordinator can see it, and Remove. */
export function WatchFolderRow({ folder, removing, onRemove }: { folder: WatchFolderView; removing: boolean; onRemove(): void }) {
  const offline = folder.state === 'offline';
  return (
    <li className="watch-row" data-testid="watch-folder-row" data-folder-id={folder.id} data-state={folder.state}>
      <div className="watch-row-head">
        <code className="watch-path">{folder.path}</code>
        <span className={`badge watch-state watch-state-${folder.state}`}>{offline ? 'Offline' : 'Online'}</span>
        <ConfirmButton
          testId="watch-remove"
          label={removing ? 'Removing…' : 'Remove'}
          question={`Stop watching ${baseName(folder.path) || folder.path}? Its files stay where they are.`}
          confirmLabel="Stop watching"
          disabled={removing}
          onConfirm={onRemove}
        />
      </div>
      {offline && (
        // Why it matters, not just that it happened: nothing is failed, the jobs wait for the folder.
        <p className="watch-offline" data-testid="watch-offline-reason">
          {`Offline: ${folder.offlineReason ?? 'the folder cannot be read'}. Its queued jobs wait until it is back.`}
        </p>
      )}
      <dl className="watch-details">
        <dt>Preset</dt>
        <dd>
          <code>{folder.presetId}</code>
        </dd>
        <dt>Output</dt>
        <dd>
          <code>{folder.outDir}</code>
        </dd>
        <dt>Subfolders</dt>
        <dd>{folder.recursive ? 'watched too' : 'not watched'}</dd>
        <dt>Include</dt>
        <dd>{folder.include.length ? folder.include.join(', ') : 'all video files'}</dd>
        <dt>Exclude</dt>
        <dd>{folder.exclude.length ? folder.exclude.join(', ') : 'nothing'}</dd>
        <dt>After encoding</dt>
        <dd>
          {folder.afterAction === 'archive' ? (
            <>
              move the original to <code>{folder.archiveDir}</code>
            </>
          ) : (
            'keep the original'
          )}
        </dd>
        <dt>Stable for</dt>
        <dd>{folder.stabilityMs === null ? 'default (10 s; 30 s on a network mount)' : seconds(folder.stabilityMs)}</dd>
      </dl>
    </li>
  );
}
