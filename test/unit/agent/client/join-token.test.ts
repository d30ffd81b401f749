import { describe, expect, it } from 'vitest';
import { JoinTokenError, parseJoinToken } from '../../../../core/agent/client/enroll.ts';

const SECRET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-_0';
const PREFIX = '0123456789ABCDEF0123456789ABCDEF';

describe('parseJoinToken', () => {
  it('reads a plain-HTTP token', () => {
    expect(parseJoinToken(`ef1.${SECRET}`)).toEqual({ secret: SECRET });
  });

  it('reads the fingerprint prefix of a TLS token, upper-cased', () => {
    expect(parseJoinToken(`ef1.${SECRET}.${PREFIX.toLowerCase()}`)).toEqual({ secret: SECRET, fingerprintPrefix: PREFIX });
  });

  it('ignores surrounding whitespace from copy and paste', () => {
    expect(parseJoinToken(`  ef1.${SECRET}\n`)).toEqual({ secret: SECRET });
  });

  it('rejects something that is not a join token', () => {
    expect(() => parseJoinToken('hello')).toThrow(JoinTokenError);
    expect(() => parseJoinToken('hello')).toThrow(/ef1\./);
  });

  it('rejects a truncated token', () => {
    expect(() => parseJoinToken(`ef1.${SECRET.slice(0, 40)}`)).toThrow(/malformed/);
    expect(() => parseJoinToken(`ef1.${SECRET}.${PREFIX.slice(0, 20)}`)).toThrow(/malformed/);
  });
});
