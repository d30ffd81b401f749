/** Shown when the page was opened without a token: nothing works without one. */
export function MissingToken() {
  return (
    <main className="notice-screen" data-testid="missing-token">
      <h1>EncodeFarm</h1>
      <p>This page needs the coordinator's access token.</p>
      <p>
        Open the link printed by <code>encodefarm serve</code> (it carries the token).
      </p>
      <p className="muted">
        It looks like <code>http://127.0.0.1:7400/#token=…</code>. The token stays in this tab only.
      </p>
    </main>
  );
}
