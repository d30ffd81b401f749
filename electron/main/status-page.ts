/**
 * A page for the window while there is no UI to show (the coordinator starting, restarting, or
 * unable to start): static HTML in a data: URL, no script, nothing loaded from anywhere.
 */
export function statusPageUrl(headline: string, detail: string): string {
  const html = `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>EncodeFarm</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { display: grid; place-items: center; min-height: 90vh; margin: 0; }
  main { max-width: 36rem; padding: 2rem; text-align: center; }
  h1 { font-size: 1.25rem; font-weight: 600; }
  p { opacity: .75; line-height: 1.5; }
</style></head>
<body><main role="status"><h1>${escapeHtml(headline)}</h1><p>${escapeHtml(detail)}</p></main></body></html>`;
  return `data:text/html;charset=utf-8,${encodeURIComponent(html)}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
