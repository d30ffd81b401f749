import { describe, expect, it } from 'vitest';
import { planOutputs, submissionKey } from '../../../../core/coordinator/intake/plan.ts';
import { findBuiltinPreset } from '../../../../core/shared/builtin-presets.ts';
import { PresetSchema } from '../../../../core/shared/preset.ts';

const h264 = findBuiltinPreset('h264-fast')!;

describe('planOutputs', () => {
  it('puts outputs under --out, keeping sub-folders, named by the template', () => {
    const r = planOutputs([{ path: '/in/a.mov', relDir: '' }, { path: '/in/s/b.mkv', relDir: 's' }], h264, '/out');
    expect(r.jobs).toEqual([
      { inputPath: '/in/a.mov', outputPath: '/out/a.h264-fast.mp4' },
      { inputPath: '/in/s/b.mkv', outputPath: '/out/s/b.h264-fast.mp4' },
    ]);
  });

  it('puts outputs beside their sources without --out', () => {
    expect(planOutputs([{ path: '/in/a.mov', relDir: '' }], h264, null).jobs[0]!.outputPath).toBe('/in/a.h264-fast.mp4');
  });

  it('refuses an output that would be a source file', () => {
    const same = PresetSchema.parse({ ...h264, nameTemplate: '{name}' });
    const r = planOutputs([{ path: '/in/a.mp4', relDir: '' }], same, null);
    expect(r.jobs).toEqual([]);
    expect(r.errors[0]).toContain('/in/a.mp4: the output name would be a source file');
  });

  it('refuses two sources writing the same output', () => {
    const r = planOutputs([{ path: '/in/a.mov', relDir: '' }, { path: '/in/a.mkv', relDir: '' }], h264, '/out');
    expect(r.jobs).toHaveLength(1);
    expect(r.errors).toEqual(['/in/a.mkv: would write the same output as /in/a.mov (/out/a.h264-fast.mp4); rename one of them']);
  });
});

describe('submissionKey', () => {
  it('is the same for the same command and differs when anything changes', () => {
    const k = { args: ['/in'], presetId: 'h264-fast', outDir: '/out', onExists: 'skip' };
    expect(submissionKey(k)).toBe(submissionKey({ ...k }));
    expect(submissionKey({ ...k, onExists: 'suffix' })).not.toBe(submissionKey(k));
    expect(submissionKey({ ...k, args: ['/in2'] })).not.toBe(submissionKey(k));
  });
});
