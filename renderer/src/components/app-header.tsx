import { useRef } from 'react';
import type { EventsHub } from '../app-context.tsx';
import { VIEWS, type ViewName } from '../state/hash-route.ts';
import { ConnectionStatus } from './connection-status.tsx';

const LABELS: Record<ViewName, string> = {
  queue: 'Queue',
  devices: 'Devices',
  presets: 'Presets',
  history: 'History',
  settings: 'Settings',
};

/** The bar on every view: where you are, whether it is live, and the way to add work. */
export function AppHeader({
  view,
  events,
  onAddFiles,
  onPickedFiles,
}: {
  view: ViewName;
  events: EventsHub;
  /** Electron opens its native picker; undefined = use the file input. */
  onAddFiles: (() => void) | undefined;
  onPickedFiles(files: File[]): void;
}) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <header className="app-header">
      <span className="app-title">EncodeFarm</span>
      <nav aria-label="Views">
        <ul className="nav">
          {VIEWS.map((v) => (
            <li key={v}>
              <a href={`#/${v}`} data-testid={`nav-${v}`} aria-current={v === view ? 'page' : undefined} className={v === view ? 'is-current' : undefined}>
                {LABELS[v]}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <ConnectionStatus events={events} />
      <button type="button" className="button button-primary" data-testid="add-files" onClick={() => (onAddFiles ? onAddFiles() : input.current?.click())}>
        Add files…
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        data-testid="file-input"
        onChange={(e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          // Cleared so choosing the same file again still fires change.
          e.currentTarget.value = '';
          if (files.length) onPickedFiles(files);
        }}
      />
    </header>
  );
}
