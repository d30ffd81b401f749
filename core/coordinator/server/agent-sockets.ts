import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Clock, TimerHandle } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import type { CoordinatorMessage } from '../../shared/protocol/index.ts';
import type { AgentConnection } from '../coordinator.ts';
import { writeSocketError } from './http-errors.ts';

export interface AgentSocketsOptions {
  /** Opens the coordinator's side of a session (coordinator.connectAgent) for the authenticated agent. */
  connect: (transport: (msg: CoordinatorMessage) => void, agentId: string) => AgentConnection;
  clock: Clock;
  logger: Logger;
  /** @default 10000 — ping interval; a session silent for 2 × this is dead. */
  pingMs?: number;
  /** @default 1 MiB — larger frames close the socket with 1009. */
  maxMessageBytes?: number;
}

/** Close codes this module sends (4000–4999 are the application's own). */
export const CLOSE_INVALID_FRAMES = 1008;
export const CLOSE_AGENT_MISMATCH = 4003;

/** A session may send this many unparseable frames before it is closed. */
const MAX_INVALID_FRAMES = 20;

interface Session {
  agentId: string;
  /** Undefined while the handshake is completing. */
  ws: WebSocket | undefined;
  lastSeen: number;
  invalidFrames: number;
  pingTimer: TimerHandle | undefined;
  closed: Promise<void>;
}

export interface AgentSockets {
  /** Completes an authenticated agent's upgrade, or refuses it (409 duplicate-session). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, agentId: string): void;
  /** Closes an agent's session (e.g. 4001 when it is revoked); false when it has none. */
  kick(agentId: string, code: number, reason: string): boolean;
  /** Whether the agent has a session that sent something within 2 × pingMs. */
  isLive(agentId: string): boolean;
  liveAgents(): string[];
  /** Drops every session and waits until each one's connection has closed. */
  close(): Promise<void>;
}

/**
 * The agents' WebSocket endpoint: one live session per agent identity, JSON frames handed to the
 * coordinator's AgentConnection, pings on the injected clock. Nothing an agent sends can throw
 * out of here: bad frames are counted and dropped, oversized ones end the session.
 */
export function createAgentSockets(opts: AgentSocketsOptions): AgentSockets {
  const { clock, logger } = opts;
  const pingMs = opts.pingMs ?? 10_000;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxMessageBytes ?? 1024 * 1024,
    clientTracking: false,
    perMessageDeflate: false,
  });
  const sessions = new Map<string, Session>();
  let stopped = false;

  const isLiveSession = (s: Session) => clock.now() - s.lastSeen < 2 * pingMs;

  function schedulePing(s: Session): void {
    s.pingTimer = clock.setTimeout(() => {
      const ws = s.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (!isLiveSession(s)) {
        logger.warn('agent socket silent, closing', { agentId: s.agentId, silentMs: clock.now() - s.lastSeen });
        return ws.terminate();
      }
      ws.ping();
      schedulePing(s);
    }, pingMs);
  }

  function parseFrame(s: Session, data: RawData, isBinary: boolean): Record<string, unknown> | undefined {
    let parsed: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      parsed = JSON.parse(data.toString());
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    s.invalidFrames++;
    logger.warn('unparseable agent frame dropped', { agentId: s.agentId, count: s.invalidFrames });
    if (s.invalidFrames >= MAX_INVALID_FRAMES) s.ws?.close(CLOSE_INVALID_FRAMES, 'too many invalid frames');
    return undefined;
  }

  function onMessage(s: Session, connection: AgentConnection, data: RawData, isBinary: boolean): void {
    s.lastSeen = clock.now();
    const msg = parseFrame(s, data, isBinary);
    if (!msg) return;
    // The coordinator trusts hello.agentId; it must be the identity these credentials proved.
    if (msg.type === 'hello' && msg.agentId !== s.agentId) {
      logger.warn('agent hello names another agent, closing', { agentId: s.agentId });
      s.ws?.close(CLOSE_AGENT_MISMATCH, 'agentId does not match credentials');
      return;
    }
    try {
      connection.receive(msg);
    } catch (err) {
      logger.error('agent message handling failed', { agentId: s.agentId, type: String(msg.type), error: String(err) });
    }
  }

  function attach(s: Session, ws: WebSocket, onClosed: () => void): void {
    if (sessions.get(s.agentId) !== s) {
      // Kicked or replaced while its handshake was completing.
      ws.terminate();
      return onClosed();
    }
    s.ws = ws;
    s.lastSeen = clock.now();
    const connection = opts.connect((msg) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    }, s.agentId);
    ws.on('message', (data, isBinary) => onMessage(s, connection, data, isBinary));
    ws.on('pong', () => (s.lastSeen = clock.now()));
    // ws reports oversized frames (then closes 1009) and protocol violations here.
    ws.on('error', (err) => logger.warn('agent socket error', { agentId: s.agentId, error: err.message }));
    ws.on('close', (code) => {
      if (s.pingTimer) clock.clearTimeout(s.pingTimer);
      if (sessions.get(s.agentId) === s) sessions.delete(s.agentId);
      logger.info('agent disconnected', { agentId: s.agentId, code });
      connection
        .close()
        .catch((err: unknown) => logger.error('closing agent connection failed', { agentId: s.agentId, error: String(err) }))
        .finally(onClosed);
    });
    schedulePing(s);
    logger.info('agent connected', { agentId: s.agentId });
  }

  function replaceable(agentId: string, socket: Duplex): boolean {
    const old = sessions.get(agentId);
    if (!old) return true;
    if (isLiveSession(old)) {
      writeSocketError(socket, 409, 'duplicate-session', `agent ${agentId} already has a live session`);
      return false;
    }
    logger.warn('replacing a silent agent session', { agentId });
    sessions.delete(agentId);
    old.ws?.terminate();
    return true;
  }

  return {
    handleUpgrade(req, socket, head, agentId) {
      if (stopped) return writeSocketError(socket, 503, 'shutting-down', 'the coordinator is stopping');
      if (!replaceable(agentId, socket)) return;
      let onClosed = () => {};
      const s: Session = {
        agentId,
        ws: undefined,
        lastSeen: clock.now(),
        invalidFrames: 0,
        pingTimer: undefined,
        closed: new Promise((resolve) => (onClosed = resolve)),
      };
      // Reserved before the handshake completes so a simultaneous second upgrade is a duplicate.
      sessions.set(agentId, s);
      socket.once('close', () => {
        if (!s.ws && sessions.get(agentId) === s) sessions.delete(agentId);
      });
      wss.handleUpgrade(req, socket, head, (ws) => attach(s, ws, onClosed));
    },
    kick(agentId, code, reason) {
      const s = sessions.get(agentId);
      if (!s) return false;
      if (s.ws) s.ws.close(code, reason);
      else sessions.delete(agentId);
      return true;
    },
    isLive(agentId) {
      const s = sessions.get(agentId);
      return s !== undefined && isLiveSession(s);
    },
    liveAgents() {
      return [...sessions.values()].filter(isLiveSession).map((s) => s.agentId);
    },
    async close() {
      stopped = true;
      const all = [...sessions.values()];
      // terminate, not close: a half-open peer would otherwise hold shutdown for ws's 30 s close timeout.
      for (const s of all) s.ws?.terminate();
      await Promise.all(all.filter((s) => s.ws).map((s) => s.closed));
      wss.close();
    },
  };
}
