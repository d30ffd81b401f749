import net from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';

/** `AB:CD:…` upper-case, the form `PeerCertificate.fingerprint256` uses. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-f]/gi, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

export class FingerprintMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `the coordinator's TLS certificate changed (pinned ${expected}, got ${actual}): refusing to connect. ` +
        'If the coordinator was re-installed on purpose, join again with a new token.',
    );
    this.name = 'FingerprintMismatchError';
  }
}

/** A `createConnection` for http(s).request and `ws` (their typings differ; the call is the same). */
export type CreateConnection = (opts: tls.ConnectionOptions, cb: (err: Error | null, socket?: net.Socket) => void) => undefined;

/**
 * A `createConnection` for http(s).request and `ws` that completes the TLS handshake, lets
 * `verify` judge the peer certificate, and only then hands over the socket, so no request byte
 * is written to an unverified peer. Needed because Node skips `checkServerIdentity` when chain
 * validation already failed, which it always does for a self-signed certificate: with
 * `rejectUnauthorized: false` a pin placed there is never consulted.
 *
 * @param timeoutMs handshake deadline; omit to leave it to the caller (ws-link's dead-link check).
 */
export function verifiedTlsConnection(verify: (cert: PeerCertificate) => Error | undefined, timeoutMs?: number): CreateConnection {
  return (opts, cb) => {
    const host = opts.host ?? 'localhost';
    // SNI must not carry an IP address (RFC 6066); an empty name disables it, as `ws` does.
    const socket = tls.connect({ ...opts, servername: net.isIP(host) ? '' : host, rejectUnauthorized: false });
    if (timeoutMs) socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })));
    let handedOver = false;
    // Stays attached after the hand-over so an error before http(s) adds its own listener
    // (it does so on the next tick) is never unhandled.
    socket.on('error', (err) => {
      if (!handedOver) cb(err);
    });
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      handedOver = true;
      const refusal = verify(socket.getPeerCertificate());
      if (refusal) {
        socket.destroy();
        cb(refusal);
      } else {
        cb(null, socket);
      }
    });
    return undefined;
  };
}

/**
 * Trusts exactly one self-signed certificate: the one whose SHA-256 fingerprint was pinned at
 * join time. Pass it as `createConnection` with no `agent` option (not even `agent: false`).
 */
export function pinnedConnection(fingerprint: string, timeoutMs?: number): CreateConnection {
  const expected = normalizeFingerprint(fingerprint);
  return verifiedTlsConnection((cert) => {
    const actual = normalizeFingerprint(cert.fingerprint256 ?? '');
    return actual === expected ? undefined : new FingerprintMismatchError(expected, actual);
  }, timeoutMs);
}
