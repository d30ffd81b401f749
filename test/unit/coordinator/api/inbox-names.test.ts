import { describe, expect, it } from 'vitest';
import { badUploadName } from '../../../../core/coordinator/api/inbox.ts';

describe('badUploadName', () => {
  it('accepts plain file names, unicode and spaces included', () => {
    for (const name of ['clip.mp4', 'My Movie (2024).mkv', 'été 🎬.mov', 'a:b.mp4', 'x'.repeat(255)]) expect(badUploadName(name, 'linux')).toBeUndefined();
  });

  it('refuses paths, dot names, control characters and long names', () => {
    expect(badUploadName('', 'linux')).toBe('must not be empty');
    expect(badUploadName('../etc/passwd', 'linux')).toMatch(/without \/ or \\/);
    expect(badUploadName('a\\b.mp4', 'linux')).toMatch(/without \/ or \\/);
    expect(badUploadName('..', 'linux')).toBe('must not contain ..');
    expect(badUploadName('a..b', 'linux')).toBe('must not contain ..');
    expect(badUploadName('.hidden', 'linux')).toBe('must not start with a dot');
    expect(badUploadName('a\nb.mp4', 'linux')).toBe('must not contain control characters');
    expect(badUploadName('a\u0000b', 'linux')).toBe('must not contain control characters');
    // 128 two-byte characters: 256 bytes.
    expect(badUploadName('é'.repeat(128), 'linux')).toBe('must be at most 255 bytes');
  });

  it('refuses the characters Windows cannot store, on Windows', () => {
    expect(badUploadName('a:b.mp4', 'win32')).toBe('must not contain < > : " | ? *');
    expect(badUploadName('what?.mp4', 'win32')).toBe('must not contain < > : " | ? *');
  });
});
