import { useState } from 'react';
import { useApp } from '../../app-context.tsx';
import { ErrorBanner } from '../../components/error-banner.tsx';

/** The coordinator URL an agent should dial: the configured remote one, else this page's origin. */
export function coordinatorOrigin(baseUrl: string): string {
  return baseUrl ? baseUrl.replace(/\/+$/, '') : window.location.origin;
}

function isLoopback(origin: string): boolean {
  try {
    const host = new URL(origin).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

type CopyState = 'idle' | 'copied' | 'failed';

/** Creates a single-use join token and shows the exact command to run on the new render machine. */
export function JoinTokenPanel() {
  const { api, connection, now } = useApp();
  const [token, setToken] = useState<{ token: string; expiresAt: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [copy, setCopy] = useState<CopyState>('idle');
  const origin = coordinatorOrigin(connection.baseUrl);
  const command = token ? `encodefarm agent --coordinator ${origin} --join ${token.token}` : '';

  const create = async () => {
    setBusy(true);
    setError(null);
    setCopy('idle');
    try {
      setToken(await api.createJoinToken());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const copyCommand = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopy('copied');
    } catch {
      // No clipboard permission (or an http page that is not localhost): the text stays selectable.
      setCopy('failed');
    }
  };

  const minutesLeft = token ? Math.max(0, Math.round((token.expiresAt - now()) / 60_000)) : 0;
  return (
    <section className="join-token" aria-labelledby="join-token-title">
      <h2 id="join-token-title">Add a render machine</h2>
      <p className="muted">Create a single-use join token, then run the command on the machine that should encode. It enrolls once and reconnects by itself afterwards.</p>
      <button type="button" data-testid="join-token-create" disabled={busy} onClick={() => void create()}>
        Create join token
      </button>
      <ErrorBanner error={error} />
      {token && (
        <div className="join-token-result">
          <output className="join-token-command mono" data-testid="join-token-command" aria-label="Command to run on the render machine">
            {command}
          </output>
          <div className="join-token-copy-row">
            <button type="button" data-testid="join-token-copy" onClick={() => void copyCommand()}>
              Copy
            </button>
            <span role="status" className="muted" data-testid="join-token-copied">
              {copy === 'copied' ? 'copied' : copy === 'failed' ? 'copy failed: select the command and copy it' : ''}
            </span>
          </div>
          <p className="muted">
            Single use; expires at {new Date(token.expiresAt).toLocaleTimeString()} (in {minutesLeft} min).
            {isLoopback(origin) && ' This address only works on this computer: on another machine use this one’s network address instead.'}
          </p>
        </div>
      )}
    </section>
  );
}
