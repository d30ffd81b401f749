import fs from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Route } from '../server/router.ts';

/** The UI's Content-Security-Policy: only its own scripts, styles and API; no frames, no forms. */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/** Headers on every UI response. */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': UI_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Only plain names straight under assets/: no separators, no `..`, no hidden files. */
const ASSET_NAME = /^[\w-][\w.-]*$/;

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>EncodeFarm</title></head>
  <body>
    <h1>EncodeFarm</h1>
    <p>The UI is not built: run <code>npm run build</code>, then reload this page.</p>
    <p>The coordinator and its API are running; the CLI works without the UI.</p>
  </body>
</html>
`;

/**
 * The folder of the package.json named "encodefarm", walking up from `from`: the CLI runs both from
 * its bundle (dist/cli.mjs) and from source (core/…), so no fixed number of `..` fits both.
 */
export function findPackageRoot(from: string = fileURLToPath(import.meta.url)): string | undefined {
  let dir = path.dirname(from);
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'encodefarm') return dir;
    } catch {
      // No package.json here (or not ours): keep walking up.
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `<package root>/dist/renderer`, where `npm run build` puts the UI; undefined outside the package. */
export function defaultUiDir(): string | undefined {
  const root = findPackageRoot();
  return root && path.join(root, 'dist', 'renderer');
}

function sendText(res: ServerResponse, status: number, type: string, body: string, cache: string): void {
  res.writeHead(status, { ...UI_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': cache });
  res.end(body);
}

/**
 * The built renderer at `/`, `/index.html` and `/assets/<file>`, public (the page itself holds no
 * secret; the token arrives in the URL fragment, which never reaches the server). index.html is
 * never cached, so a rebuild shows at once; the hashed assets are cached for good.
 */
export function staticUiRoutes(opts: { uiDir: string | undefined }): Route[] {
  const { uiDir } = opts;

  async function index(res: ServerResponse): Promise<void> {
    let html: string;
    try {
      if (!uiDir) throw Object.assign(new Error('no UI folder'), { code: 'ENOENT' });
      html = await readFile(path.join(uiDir, 'index.html'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return sendText(res, 200, CONTENT_TYPES['.html']!, NOT_BUILT_PAGE, 'no-store');
    }
    sendText(res, 200, CONTENT_TYPES['.html']!, html, 'no-store');
  }

  async function asset(res: ServerResponse, name: string): Promise<void> {
    const file = uiDir && ASSET_NAME.test(name) ? path.join(uiDir, 'assets', name) : undefined;
    const info = file ? await stat(file).catch(() => undefined) : undefined;
    if (!file || !info?.isFile()) return sendText(res, 404, CONTENT_TYPES['.txt']!, 'not found\n', 'no-store');
    res.writeHead(200, {
      ...UI_HEADERS,
      'Content-Type': CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': info.size,
      // Vite puts a content hash in every asset name: a changed file is a new name.
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    await pipeline(fs.createReadStream(file), res);
  }

  return [
    { method: 'GET', path: '/', auth: 'none', handler: (ctx) => index(ctx.res) },
    { method: 'GET', path: '/index.html', auth: 'none', handler: (ctx) => index(ctx.res) },
    { method: 'GET', path: '/assets/:file', auth: 'none', handler: (ctx) => asset(ctx.res, ctx.params.file ?? '') },
  ];
}
