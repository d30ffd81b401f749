import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  agentCredentialsOf,
  allowedHostsFor,
  bearerOf,
  hostAllowed,
  originAllowed,
  subprotocolBearerOf,
  tokensEqual,
} from '../../../../core/coordinator/server/guards.ts';

const withHeaders = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('allowedHostsFor', () => {
  it('allows loopback names and the machine name, with and without the port', () => {
    const allowed = allowedHostsFor({ listenHost: '127.0.0.1', port: 8080 });
    const short = os.hostname().split('.')[0]!.toLowerCase();
    for (const host of ['localhost', '127.0.0.1', '[::1]', os.hostname().toLowerCase(), short]) {
      expect(allowed.has(host), host).toBe(true);
      expect(allowed.has(`${host}:8080`), host).toBe(true);
    }
    expect(allowed.has('localhost:9090')).toBe(false);
  });

  it('adds a specific listen address but not every interface', () => {
    const allowed = allowedHostsFor({ listenHost: '192.0.2.10', port: 8080 });
    expect(allowed.has('192.0.2.10:8080')).toBe(true);
    const nonLoopback = Object.values(os.networkInterfaces())
      .flat()
      .map((i) => i?.address)
      .filter((a): a is string => !!a && a !== '127.0.0.1' && a !== '::1' && a !== '192.0.2.10');
    for (const a of nonLoopback) expect(allowed.has(a.includes(':') ? `[${a}]:8080` : `${a}:8080`)).toBe(false);
  });

  it('adds every interface address when listening on a wildcard, IPv6 in brackets', () => {
    for (const listenHost of ['0.0.0.0', '::']) {
      const allowed = allowedHostsFor({ listenHost, port: 7000 });
      for (const info of Object.values(os.networkInterfaces()).flat()) {
        if (!info) continue;
        const host = info.family === 'IPv6' ? `[${info.address.toLowerCase()}]` : info.address;
        expect(allowed.has(`${host}:7000`), host).toBe(true);
      }
    }
  });

  it('adds extra hosts, keeping a port they already carry', () => {
    const allowed = allowedHostsFor({ listenHost: '127.0.0.1', port: 7000, extraHosts: ['Farm.Example', 'proxy.example:8443'] });
    expect([...allowed]).toEqual(expect.arrayContaining(['farm.example', 'farm.example:7000', 'proxy.example:8443']));
    expect(allowed.has('proxy.example:8443:7000')).toBe(false);
  });
});

describe('hostAllowed', () => {
  const allowed = allowedHostsFor({ listenHost: '127.0.0.1', port: 8080 });

  it('compares case-insensitively and refuses a missing or foreign Host', () => {
    expect(hostAllowed('LocalHost:8080', allowed)).toBe(true);
    expect(hostAllowed(undefined, allowed)).toBe(false);
    expect(hostAllowed('', allowed)).toBe(false);
    expect(hostAllowed('evil.example', allowed)).toBe(false);
    expect(hostAllowed('localhost.evil.example:8080', allowed)).toBe(false);
  });
});

describe('originAllowed', () => {
  const allowed = allowedHostsFor({ listenHost: '127.0.0.1', port: 8080 });

  it('allows requests without an Origin (CLI, agents)', () => {
    expect(originAllowed(undefined, allowed)).toBe(true);
  });

  it('allows our own http(s) origins', () => {
    expect(originAllowed('http://127.0.0.1:8080', allowed)).toBe(true);
    expect(originAllowed('https://localhost:8080', allowed)).toBe(true);
    expect(originAllowed('http://[::1]:8080', allowed)).toBe(true);
  });

  it('refuses null, foreign hosts, other schemes, other ports and non-origins', () => {
    for (const origin of [
      'null',
      '',
      'http://evil.example',
      'http://evil.example:8080',
      'http://localhost:3000',
      'file:///etc/passwd',
      'chrome-extension://abc',
      'http://user@localhost:8080',
      'http://localhost:8080/path',
      'not a url',
    ]) {
      expect(originAllowed(origin, allowed), origin).toBe(false);
    }
  });
});

describe('tokensEqual', () => {
  it('is true only for identical strings, whatever their lengths', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'abcd')).toBe(false);
    expect(tokensEqual('', 'x')).toBe(false);
  });
});

describe('bearerOf', () => {
  it('reads the token of a Bearer Authorization header', () => {
    expect(bearerOf(withHeaders({ authorization: 'Bearer tok.en-1' }))).toBe('tok.en-1');
    expect(bearerOf(withHeaders({ authorization: 'bearer   x:y ' }))).toBe('x:y');
  });

  it('is undefined for other schemes, empty tokens and tokens with spaces', () => {
    expect(bearerOf(withHeaders({}))).toBeUndefined();
    expect(bearerOf(withHeaders({ authorization: 'Basic abc' }))).toBeUndefined();
    expect(bearerOf(withHeaders({ authorization: 'Bearer ' }))).toBeUndefined();
    expect(bearerOf(withHeaders({ authorization: 'Bearer a b' }))).toBeUndefined();
  });
});

describe('agentCredentialsOf', () => {
  it('splits at the first colon and refuses empty parts', () => {
    expect(agentCredentialsOf('agt-1:se:cret')).toEqual({ agentId: 'agt-1', secret: 'se:cret' });
    expect(agentCredentialsOf(':secret')).toBeUndefined();
    expect(agentCredentialsOf('agt-1:')).toBeUndefined();
    expect(agentCredentialsOf('no-colon')).toBeUndefined();
    expect(agentCredentialsOf(undefined)).toBeUndefined();
  });
});

describe('subprotocolBearerOf', () => {
  it('finds the bearer.<token> subprotocol among the offered ones', () => {
    expect(subprotocolBearerOf(withHeaders({ 'sec-websocket-protocol': 'encodefarm.v1, bearer.abc_DEF-1' }))).toBe('abc_DEF-1');
    expect(subprotocolBearerOf(withHeaders({ 'sec-websocket-protocol': 'encodefarm.v1' }))).toBeUndefined();
    expect(subprotocolBearerOf(withHeaders({ 'sec-websocket-protocol': 'bearer.' }))).toBeUndefined();
    expect(subprotocolBearerOf(withHeaders({}))).toBeUndefined();
  });
});
