import crypto from 'node:crypto';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { generate } from 'selfsigned';

export interface CoordinatorCertificate {
  key: string;
  cert: string;
  /** `AB:CD:…`, what agents pin (the join token carries its first 32 hex digits). */
  fingerprint256: string;
}

/** The coordinator's certificate could not be read back; it is not silently replaced. */
export class CertificateUnreadableError extends Error {
  constructor(dir: string, cause: string) {
    super(
      `the TLS certificate in ${dir} cannot be used (${cause}). Agents pin this certificate: ` +
        'replacing it means every agent must join again. Remove the folder to generate a new one.',
    );
    this.name = 'CertificateUnreadableError';
  }
}

const VALID_YEARS = 10;

function altNames(hostnames: readonly string[]): { type: 2 | 7; value?: string; ip?: string }[] {
  const unique = [...new Set([...hostnames, '127.0.0.1', 'localhost'].filter((h) => h.length > 0))];
  return unique.map((h) => (net.isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
}

async function generateCertificate(hostnames: readonly string[]): Promise<{ key: string; cert: string }> {
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate);
  notAfterDate.setFullYear(notAfterDate.getFullYear() + VALID_YEARS);
  const pems = await generate([{ name: 'commonName', value: hostnames[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: altNames(hostnames) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** Writes via a temp file and rename, so a crash never leaves half a PEM behind. */
async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, text, { mode });
  await fsp.rename(tmp, file);
}

async function readPair(dir: string): Promise<{ key: string; cert: string } | undefined> {
  try {
    const [key, cert] = await Promise.all([
      fsp.readFile(path.join(dir, 'key.pem'), 'utf8'),
      fsp.readFile(path.join(dir, 'cert.pem'), 'utf8'),
    ]);
    return { key, cert };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function fingerprintOf(dir: string, pair: { key: string; cert: string }): string {
  try {
    const x509 = new crypto.X509Certificate(pair.cert);
    if (!x509.checkPrivateKey(crypto.createPrivateKey(pair.key))) throw new Error('key.pem does not belong to cert.pem');
    return x509.fingerprint256;
  } catch (err) {
    throw new CertificateUnreadableError(dir, err instanceof Error ? err.message : String(err));
  }
}

/**
 * The coordinator's self-signed certificate in `<dir>/tls/`: reused when present (agents have
 * pinned it), otherwise generated (EC P-256, ten years, SAN = hostnames + 127.0.0.1 + localhost).
 * The key file is readable by its owner only.
 */
export async function loadOrCreateCertificate(dir: string, hostnames: readonly string[]): Promise<CoordinatorCertificate> {
  const tlsDir = path.join(dir, 'tls');
  let pair = await readPair(tlsDir);
  if (!pair) {
    await fsp.mkdir(tlsDir, { recursive: true, mode: 0o700 });
    pair = await generateCertificate(hostnames);
    // Key first: cert.pem present means the pair is complete (readPair needs both anyway).
    await writeAtomic(path.join(tlsDir, 'key.pem'), pair.key, 0o600);
    await writeAtomic(path.join(tlsDir, 'cert.pem'), pair.cert, 0o644);
  }
  return { ...pair, fingerprint256: fingerprintOf(tlsDir, pair) };
}
