import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TransferHandlers } from '../../../core/coordinator/transfer/transfer-handlers.ts';

export const AGENT = { agentId: 'agt-0123456789ab', secret: 'x'.repeat(43) };

export interface SeenRequest {
  method: string;
  url: string;
  range?: string;
  uploadOffset?: string;
}

export interface TestServer {
  baseUrl: string;
  port: number;
  seen: SeenRequest[];
  /** Resolves when every handler started so far has finished (fds closed, writes settled). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const ROUTE = /^\/api\/v1\/transfer\/(\d+)\/(\d+)\/(input|output|output\/complete)$/;

/**
 * A tiny router in front of the transfer handlers, standing in for the coordinator's HTTP server:
 * Bearer auth against one known agent, path parameters, method dispatch. Listens on 127.0.0.1:0.
 */
export async function startTransferServer(handlers: TransferHandlers, tls?: { key: string; cert: string }): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const running = new Set<Promise<void>>();
  const listener: http.RequestListener = (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range, uploadOffset: req.headers['upload-offset'] as string | undefined });
    const m = ROUTE.exec(req.url ?? '');
    if (req.headers.authorization !== `Bearer ${AGENT.agentId}:${AGENT.secret}`) return void res.writeHead(401).end();
    if (!m) return void res.writeHead(404).end();
    const params = { jobId: Number(m[1]), epoch: Number(m[2]), agentId: AGENT.agentId };
    const route = `${req.method} ${m[3]}`;
    const handler =
      route === 'GET input' ? handlers.download
      : route === 'HEAD output' ? handlers.uploadOffset
      : route === 'PATCH output' ? handlers.uploadChunk
      : route === 'POST output/complete' ? handlers.uploadComplete
      : undefined;
    if (!handler) return void res.writeHead(405).end();
    const p = handler(req, res, params);
    running.add(p);
    void p.finally(() => running.delete(p));
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    settled: async () => {
      while (running.size) await Promise.all([...running]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface CutProxy {
  baseUrl: string;
  /** Connections cut so far. */
  cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to 127.0.0.1:`targetPort` that cuts the first connection to carry more than
 * `afterBytes` bytes in one direction (`response`: server to client, `request`: client to
 * server): those bytes are delivered, then both sockets close, as when a link drops mid-transfer.
 * Smaller exchanges (a HEAD) and every connection after the cut pass untouched.
 */
export async function startCutProxy(targetPort: number, direction: 'response' | 'request', afterBytes: number): Promise<CutProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: CutProxy = { baseUrl: '', cuts: 0, close: async () => {} };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    const [from, to] = direction === 'response' ? [upstream, client] : [client, upstream];
    const [back, forth] = direction === 'response' ? [client, upstream] : [upstream, client];
    back.pipe(forth);
    let left = afterBytes;
    from.on('data', (chunk: Buffer) => {
      if (proxy.cuts > 0 && left > 0) return void to.write(chunk);
      if (left <= 0) return;
      if (chunk.length < left) {
        left -= chunk.length;
        return void to.write(chunk);
      }
      to.end(chunk.subarray(0, left));
      left = 0;
      proxy.cuts++;
      from.destroy();
      back.unpipe(forth);
      // The side that received the partial bytes sees its peer hang up right after them.
      to.once('finish', () => to.destroy());
    });
    from.on('end', () => to.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}

/** A stand-in for a media file: the transfer path never looks inside, verification is injected. */
export function writeRandomFile(dir: string, name: string, bytes: number): { path: string; data: Buffer } {
  const data = randomBytes(bytes);
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return { path: file, data };
}

/** A fresh folder of its own under the system temp dir (real path, so root checks compare cleanly). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), `encodefarm-${prefix}-`));
}
