import { describe, expect, it } from 'vitest';
import { isFarmTempName, isTempNameFor, tempPathFor } from '../../../core/shared/temp-names.ts';

describe('tempPathFor', () => {
  it('names a hidden .part file beside the target, derived from job and epoch', () => {
    expect(tempPathFor('/media/out/clip.mp4', 12, 3)).toBe('/media/out/.clip.mp4.ef-12-3.part');
  });

  it('keeps Windows separators on a Windows path', () => {
    expect(tempPathFor('C:\\Videos\\out\\clip.mkv', 1, 2)).toBe('C:\\Videos\\out\\.clip.mkv.ef-1-2.part');
  });

  it('handles a target at the root or without a folder', () => {
    expect(tempPathFor('/clip.mp4', 1, 1)).toBe('/.clip.mp4.ef-1-1.part');
    expect(tempPathFor('clip.mp4', 1, 1)).toBe('./.clip.mp4.ef-1-1.part');
  });

  it('gives every epoch of a job its own name', () => {
    expect(tempPathFor('/o/a.mp4', 5, 1)).not.toBe(tempPathFor('/o/a.mp4', 5, 2));
  });
});

describe('isTempNameFor', () => {
  it('recognises the temp names of one job and target, any epoch', () => {
    expect(isTempNameFor('.clip.mp4.ef-7-1.part', '/out/clip.mp4', 7)).toBe(true);
    expect(isTempNameFor('.clip.mp4.ef-7-123.part', '/out/clip.mp4', 7)).toBe(true);
  });

  it('does not match other jobs whose id starts with the same digits', () => {
    expect(isTempNameFor('.clip.mp4.ef-71-1.part', '/out/clip.mp4', 7)).toBe(false);
    expect(isTempNameFor('.clip.mp4.ef-7-1.part', '/out/clip.mp4', 71)).toBe(false);
  });

  it('does not match other targets, the target itself or a malformed epoch', () => {
    expect(isTempNameFor('.other.mp4.ef-7-1.part', '/out/clip.mp4', 7)).toBe(false);
    expect(isTempNameFor('clip.mp4', '/out/clip.mp4', 7)).toBe(false);
    expect(isTempNameFor('.clip.mp4.ef-7-.part', '/out/clip.mp4', 7)).toBe(false);
    expect(isTempNameFor('.clip.mp4.ef-7-1x.part', '/out/clip.mp4', 7)).toBe(false);
    expect(isTempNameFor('.clip.mp4.ef-7-1.part.mp4', '/out/clip.mp4', 7)).toBe(false);
  });

  it('agrees with tempPathFor', () => {
    const temp = tempPathFor('/out/my clip (1).mov', 42, 9);
    expect(isTempNameFor(temp.slice('/out/'.length), '/out/my clip (1).mov', 42)).toBe(true);
  });
});

describe('isFarmTempName', () => {
  it('recognises any EncodeFarm temp name and nothing else', () => {
    expect(isFarmTempName('.clip.mp4.ef-1-2.part')).toBe(true);
    expect(isFarmTempName('clip.mp4')).toBe(false);
    expect(isFarmTempName('.clip.mp4.part')).toBe(false);
    expect(isFarmTempName('clip.mp4.ef-1-2.part')).toBe(false);
    expect(isFarmTempName('.clip.mp4.ef-a-2.part')).toBe(false);
  });
});

describe('finalNameOfTemp', () => {
  it('recovers the final name from a temp name and leaves other names alone', async () => {
    const { finalNameOfTemp } = await import('../../../core/shared/temp-names.ts');
    expect(finalNameOfTemp('.clip one.mp4.ef-3-12.part')).toBe('clip one.mp4');
    expect(finalNameOfTemp('clip.mp4')).toBe('clip.mp4');
  });
});
