/** The coordinator answered 401: the stored token is wrong or from an earlier `serve`. */
export function TokenRejected({ onForget }: { onForget(): void }) {
  return (
    <main className="notice-screen" data-testid="token-rejected" role="alert">
      <h1>Token rejected</h1>
      <p>The coordinator did not accept this page's access token (it may come from an earlier run).</p>
      <p>
        Open the link printed by <code>encodefarm serve</code> again (it carries the current token).
      </p>
      <button type="button" className="button" onClick={onForget}>
        Forget the old token
      </button>
    </main>
  );
}
