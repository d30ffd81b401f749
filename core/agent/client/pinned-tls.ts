import type { PeerCertificate } from 'node:tls';
import type { AgentOptions } from 'node:https';

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

/**
 * TLS options that trust exactly one self-signed certificate: the one whose SHA-256 fingerprint
 * was pinned at join time. Chain validation is replaced by the pin (a self-signed certificate has
 * no chain); hostname checks do not apply for the same reason.
 */
export function pinnedTlsOptions(fingerprint: string): Pick<AgentOptions, 'rejectUnauthorized' | 'checkServerIdentity'> {
  const expected = normalizeFingerprint(fingerprint);
  return {
    rejectUnauthorized: false,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const actual = normalizeFingerprint(cert.fingerprint256 ?? '');
      return actual === expected ? undefined : new FingerprintMismatchError(expected, actual);
    },
  };
}
