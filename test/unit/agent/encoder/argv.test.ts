import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildEncodeArgv,
  encoderOptions,
  nvencEncoderFor,
  softwareEncoderFor,
} from '../../../../core/agent/encoder/argv.ts';
import type { EncodeRequest, EncoderChoice } from '../../../../core/agent/ports.ts';
import { EncodeFailedError } from '../../../../core/shared/errors.ts';
import { findBuiltinPreset, BUILTIN_PRESETS } from '../../../../core/shared/builtin-presets.ts';
import { PresetSchema, type Preset } from '../../../../core/shared/preset.ts';
import { FFMPEG } from '../../../helpers/clips.ts';

const IN = '/media/in/clip.mp4';
const TMP = '/media/out/.clip.part';
const ALL_SOFTWARE = new Set(['libx264', 'libx265', 'libsvtav1', 'libaom-av1']);

function preset(id: string): Preset {
  const p = findBuiltinPreset(id);
  if (!p) throw new Error(`no built-in preset ${id}`);
  return p;
}

function req(p: Preset, encoder: EncoderChoice, paths = { inputPath: IN, tempPath: TMP }): EncodeRequest {
  return { ...paths, preset: p, encoder, durationS: 10 };
}

const nvenc = (p: Preset): EncoderChoice => ({ family: 'nvenc', name: nvencEncoderFor(p.codec), gpuIndex: 1 });
const software = (p: Preset): EncoderChoice => ({
  family: 'software',
  name: softwareEncoderFor(p.codec, ALL_SOFTWARE) ?? 'none',
});

const HEAD = ['-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1'];

/** Every built-in preset × (NVENC on GPU 1, software), written out in full. */
const GOLDEN: Record<string, { nvenc: string[]; software: string[] }> = {
  'h264-fast': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'h264_nvenc', '-gpu', '1', '-preset', 'p2', '-tune', 'hq', '-rc', 'vbr', '-cq', '23', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '160k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '160k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
  },
  'h264-1080p': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=-2:trunc(min(ih\\,1080)/2)*2',
      '-c:v', 'h264_nvenc', '-gpu', '1', '-preset', 'p4', '-tune', 'hq', '-rc', 'vbr', '-cq', '22', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '192k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=-2:trunc(min(ih\\,1080)/2)*2',
      '-c:v', 'libx264', '-preset', 'medium', '-crf', '22',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '192k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
  },
  'hevc-fast': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'hevc_nvenc', '-gpu', '1', '-preset', 'p2', '-tune', 'hq', '-rc', 'vbr', '-cq', '26', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '160k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'libx265', '-preset', 'veryfast', '-crf', '26', '-x265-params', 'log-level=error',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '160k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
  },
  'hevc-archive': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'hevc_nvenc', '-gpu', '1', '-preset', 'p6', '-tune', 'hq', '-rc', 'vbr', '-cq', '20', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'copy',
      '-sn', '-dn',
      '-f', 'matroska',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'libx265', '-preset', 'slow', '-crf', '20', '-x265-params', 'log-level=error',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'copy',
      '-sn', '-dn',
      '-f', 'matroska',
      'file:/media/out/.clip.part',
    ],
  },
  'av1-fast': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'av1_nvenc', '-gpu', '1', '-preset', 'p2', '-tune', 'hq', '-rc', 'vbr', '-cq', '32', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '128k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'libsvtav1', '-preset', '10', '-crf', '32',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '128k',
      '-sn', '-dn',
      '-f', 'mp4', '-movflags', '+faststart',
      'file:/media/out/.clip.part',
    ],
  },
  'av1-archive': {
    nvenc: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-hwaccel', 'cuda', '-hwaccel_device', '1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'av1_nvenc', '-gpu', '1', '-preset', 'p6', '-tune', 'hq', '-rc', 'vbr', '-cq', '24', '-b:v', '0',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'copy',
      '-sn', '-dn',
      '-f', 'matroska',
      'file:/media/out/.clip.part',
    ],
    software: [
      '-hide_banner', '-nostdin', '-n', '-nostats', '-loglevel', 'warning', '-progress', 'pipe:1',
      '-protocol_whitelist', 'file', '-i', 'file:/media/in/clip.mp4',
      '-map', '0:v:0', '-map', '0:a?',
      '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2',
      '-c:v', 'libsvtav1', '-preset', '5', '-crf', '24',
      '-pix_fmt', 'yuv420p',
      '-c:a', 'copy',
      '-sn', '-dn',
      '-f', 'matroska',
      'file:/media/out/.clip.part',
    ],
  },
};

describe('buildEncodeArgv', () => {
  it('has a golden argv for every built-in preset', () => {
    expect(Object.keys(GOLDEN).sort()).toEqual(BUILTIN_PRESETS.map((p) => p.id).sort());
  });

  for (const p of BUILTIN_PRESETS) {
    it(`builds the golden NVENC argv for ${p.id} on GPU 1`, () => {
      expect(buildEncodeArgv(req(p, nvenc(p)))).toEqual(GOLDEN[p.id]?.nvenc);
    });
    it(`builds the golden software argv for ${p.id}`, () => {
      expect(buildEncodeArgv(req(p, software(p)))).toEqual(GOLDEN[p.id]?.software);
    });
  }

  it('drops audio with -an and maps no audio when the preset says none', () => {
    const p = PresetSchema.parse({ ...preset('h264-fast'), audio: { mode: 'none' } });
    const argv = buildEncodeArgv(req(p, software(p)));
    expect(argv).toContain('-an');
    expect(argv).not.toContain('0:a?');
    expect(argv).not.toContain('-c:a');
  });

  it('passes -threads from the encoder choice over the preset, and the x265/SVT-AV1 pool sizes', () => {
    const x265 = PresetSchema.parse({ ...preset('hevc-fast'), threads: 8 });
    expect(encoderOptions(x265, { family: 'software', name: 'libx265', threads: 1 })).toEqual([
      '-preset', 'veryfast', '-crf', '26', '-threads', '1', '-x265-params', 'log-level=error:pools=1',
    ]);
    expect(encoderOptions(x265, { family: 'software', name: 'libx265' })).toEqual([
      '-preset', 'veryfast', '-crf', '26', '-threads', '8', '-x265-params', 'log-level=error:pools=8',
    ]);
    const av1 = preset('av1-fast');
    expect(encoderOptions(av1, { family: 'software', name: 'libsvtav1', threads: 2 })).toEqual([
      '-preset', '10', '-crf', '32', '-threads', '2', '-svtav1-params', 'lp=2',
    ]);
    expect(encoderOptions(av1, { family: 'software', name: 'libaom-av1', threads: 1 })).toEqual([
      '-cpu-used', '8', '-crf', '32', '-b:v', '0', '-row-mt', '1', '-threads', '1',
    ]);
    const x264 = preset('h264-fast');
    expect(encoderOptions(x264, { family: 'software', name: 'libx264', threads: 1 })).toEqual([
      '-preset', 'veryfast', '-crf', '23', '-threads', '1',
    ]);
  });

  it('ignores threads for NVENC', () => {
    const p = PresetSchema.parse({ ...preset('h264-fast'), threads: 4 });
    expect(buildEncodeArgv(req(p, { ...nvenc(p), threads: 2 }))).not.toContain('-threads');
  });

  it('writes mov with faststart through the mov muxer', () => {
    const p = PresetSchema.parse({ ...preset('h264-fast'), container: 'mov' });
    expect(buildEncodeArgv(req(p, software(p))).slice(-5)).toEqual([
      '-f', 'mov', '-movflags', '+faststart', 'file:/media/out/.clip.part',
    ]);
  });

  it('resolves relative paths to absolute file: URLs', () => {
    const p = preset('h264-fast');
    const argv = buildEncodeArgv(req(p, software(p), { inputPath: 'in/a.mp4', tempPath: 'out/a.part' }));
    expect(argv).toContain(`file:${process.cwd()}/in/a.mp4`);
    expect(argv.at(-1)).toBe(`file:${process.cwd()}/out/a.part`);
  });

  it('keeps weird file names intact, each as one argv element after file:', () => {
    const p = preset('h264-fast');
    const names = [
      'with space.mp4',
      `it's "quoted".mp4`,
      'ünïcødé 日本語 🎬.mp4',
      'new\nline.mp4',
      '-x.mp4',
      'a:b.mp4',
      'concat:a.mp4|b.mp4',
      '$(touch pwned);`id`.mp4',
    ];
    for (const name of names) {
      const argv = buildEncodeArgv(req(p, software(p), { inputPath: `/m/${name}`, tempPath: `/o/${name}.part` }));
      expect(argv[argv.indexOf('-i') + 1]).toBe(`file:/m/${name}`);
      expect(argv.at(-1)).toBe(`file:/o/${name}.part`);
      expect(argv).toHaveLength(GOLDEN['h264-fast']?.software.length ?? -1);
    }
  });

  it('rejects an encoder that does not match the preset codec, family or a GPU index', () => {
    const p = preset('hevc-fast');
    expect(() => buildEncodeArgv(req(p, { family: 'software', name: 'libx264' }))).toThrow(EncodeFailedError);
    expect(() => buildEncodeArgv(req(p, { family: 'software', name: 'hevc_nvenc' }))).toThrow(/nvenc encoder/);
    expect(() => buildEncodeArgv(req(p, { family: 'nvenc', name: 'hevc_nvenc' }))).toThrow(/GPU index/);
    expect(() => buildEncodeArgv(req(p, { family: 'software', name: 'rm -rf' }))).toThrow(/unsupported/);
  });

  it('starts every argv with the fixed safety options', () => {
    for (const p of BUILTIN_PRESETS) {
      expect(buildEncodeArgv(req(p, software(p))).slice(0, HEAD.length)).toEqual(HEAD);
    }
  });
});

describe('softwareEncoderFor / nvencEncoderFor', () => {
  it('picks libx264, libx265 and SVT-AV1 before libaom', () => {
    expect(softwareEncoderFor('h264', ALL_SOFTWARE)).toBe('libx264');
    expect(softwareEncoderFor('hevc', ALL_SOFTWARE)).toBe('libx265');
    expect(softwareEncoderFor('av1', ALL_SOFTWARE)).toBe('libsvtav1');
    expect(softwareEncoderFor('av1', new Set(['libaom-av1']))).toBe('libaom-av1');
  });

  it('returns undefined when this ffmpeg has no encoder for the codec', () => {
    expect(softwareEncoderFor('hevc', new Set(['libx264']))).toBeUndefined();
    expect(softwareEncoderFor('av1', new Set())).toBeUndefined();
  });

  it('names the NVENC encoder for each codec', () => {
    expect(['h264', 'hevc', 'av1'].map((c) => nvencEncoderFor(c as 'h264'))).toEqual([
      'h264_nvenc', 'hevc_nvenc', 'av1_nvenc',
    ]);
  });
});

// ---- the options exist in this ffmpeg ------------------------------------------------------

interface HelpOption {
  type: string;
  /** Named values listed under the option (`p4`, `hq`, `vbr`). */
  values: Set<string>;
}

function ffmpeg(args: string[]): string {
  try {
    // `-h full` prints over 1 MB.
    return execFileSync(FFMPEG, ['-hide_banner', ...args], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return '';
  }
}

const ffmpegHelp = (topic: string) => ffmpeg(['-h', topic]);

/** Parses `  -name  <type>  …` option lines and the `     value  N  …` lines under them. */
function parseOptions(help: string): Map<string, HelpOption> {
  const options = new Map<string, HelpOption>();
  let current: HelpOption | undefined;
  for (const line of help.split('\n')) {
    const opt = /^ {2}-(\S+)\s+<(\w+)>/.exec(line);
    if (opt?.[1] && opt[2]) {
      current = { type: opt[2], values: new Set() };
      options.set(opt[1], current);
      continue;
    }
    const value = /^ {5}(\S+)\s/.exec(line);
    if (value?.[1] && current) current.values.add(value[1]);
    else if (!line.startsWith(' ')) current = undefined;
  }
  return options;
}

/** Options every encoder takes (AVCodecContext), e.g. `-b` and `-threads`. */
function genericCodecOptions(): Map<string, HelpOption> {
  const full = ffmpegHelp('full');
  const start = full.indexOf('AVCodecContext AVOptions:');
  if (start < 0) return new Map();
  const rest = full.slice(start + 'AVCodecContext AVOptions:'.length);
  const end = rest.search(/\n\S/);
  return parseOptions(end < 0 ? rest : rest.slice(0, end + 1));
}

const ENCODERS_LIST = ffmpeg(['-encoders']);
const hasEncoder = (name: string) => new RegExp(`^\\s*\\S{6}\\s+${name}\\s`, 'm').test(ENCODERS_LIST);
const GENERIC = genericCodecOptions();

/** Returns what is wrong with `options` against the encoder's help; empty = every option exists. */
function unknownOptions(encoder: string, options: string[]): string[] {
  const own = parseOptions(ffmpegHelp(`encoder=${encoder}`));
  const problems: string[] = [];
  for (let i = 0; i < options.length; i += 2) {
    const flag = options[i] ?? '';
    const value = options[i + 1] ?? '';
    const name = flag.replace(/^-/, '').replace(/:[av]$/, '');
    const opt = own.get(name) ?? GENERIC.get(name);
    if (!opt) {
      problems.push(`${encoder}: no option ${flag}`);
      continue;
    }
    const named = /^[A-Za-z]/.test(value) && ['int', 'flags', 'int64'].includes(opt.type);
    if (named && !opt.values.has(value)) problems.push(`${encoder}: ${flag} has no value ${value}`);
  }
  return problems;
}

const SPEEDS = ['fast', 'medium', 'slow'] as const;

describe('encoder options against `ffmpeg -h encoder=…`', () => {
  it('finds the generic codec options in `ffmpeg -h full`', () => {
    expect(GENERIC.has('b')).toBe(true);
    expect(GENERIC.has('threads')).toBe(true);
  });

  for (const codec of ['h264', 'hevc', 'av1'] as const) {
    const name = nvencEncoderFor(codec);
    it.skipIf(!hasEncoder(name))(
      `${name}: every option and named value exists (skipped when this ffmpeg lacks ${name}, e.g. av1_nvenc before ffmpeg 6)`,
      () => {
        for (const speed of SPEEDS) {
          const p = PresetSchema.parse({ ...preset(`${codec}-fast`), speed });
          const options = encoderOptions(p, { family: 'nvenc', name, gpuIndex: 1 });
          expect(options.filter((o) => o.startsWith('-'))).toEqual(['-gpu', '-preset', '-tune', '-rc', '-cq', '-b:v']);
          expect(unknownOptions(name, options)).toEqual([]);
        }
      },
    );
  }

  const software: Array<[string, string]> = [
    ['libx264', 'h264-fast'],
    ['libx265', 'hevc-fast'],
    ['libsvtav1', 'av1-fast'],
    ['libaom-av1', 'av1-fast'],
  ];
  for (const [name, id] of software) {
    it.skipIf(!hasEncoder(name))(`${name}: every option exists (skipped when this ffmpeg lacks ${name})`, () => {
      for (const speed of SPEEDS) {
        const p = PresetSchema.parse({ ...preset(id), speed });
        const options = encoderOptions(p, { family: 'software', name, threads: 2 });
        expect(unknownOptions(name, options)).toEqual([]);
      }
    });
  }

  it('catches a misspelt option or value (the check itself works)', () => {
    expect(hasEncoder('h264_nvenc')).toBe(true);
    expect(unknownOptions('h264_nvenc', ['-gpus', '1', '-preset', 'p9', '-rc', 'vbr_hq2'])).toEqual([
      'h264_nvenc: no option -gpus',
      'h264_nvenc: -preset has no value p9',
      'h264_nvenc: -rc has no value vbr_hq2',
    ]);
  });

  it.skipIf(!hasEncoder('h264_nvenc'))('knows -hwaccel cuda (skipped when this ffmpeg has no NVENC)', () => {
    expect(ffmpeg(['-hwaccels']).split('\n').map((l) => l.trim())).toContain('cuda');
  });

  it('mp4 and mov know -movflags +faststart', () => {
    for (const muxer of ['mp4', 'mov']) {
      const movflags = parseOptions(ffmpegHelp(`muxer=${muxer}`)).get('movflags');
      expect(movflags?.values.has('faststart')).toBe(true);
    }
  });
});
