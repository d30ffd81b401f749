import { describe, expect, it } from 'vitest';
import { checkBoundaries, findCycles, importsOf } from '../../../scripts/boundaries.ts';

const files = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('importsOf', () => {
  it('finds static imports, type imports, re-exports and literal dynamic imports', () => {
    const src = `import a from 'a';\nimport type { B } from "./b.ts";\nexport * from './c.ts';\nconst d = await import('d');\nimport 'side-effect';`;
    expect(importsOf(src)).toEqual(['a', './b.ts', './c.ts', 'd', 'side-effect']);
  });
});

describe('checkBoundaries', () => {
  it('refuses electron and react in core', () => {
    const v = checkBoundaries(files({ 'core/agent/x.ts': `import { app } from 'electron';`, 'core/shared/y.ts': `import React from 'react';` }));
    expect(v.map((x) => x.file).sort()).toEqual(['core/agent/x.ts', 'core/shared/y.ts']);
  });

  it('confines better-sqlite3 to the store and fluent-ffmpeg to the encoder', () => {
    const v = checkBoundaries(
      files({
        'core/coordinator/store/db.ts': `import Database from 'better-sqlite3';`,
        'core/coordinator/scheduler.ts': `import Database from 'better-sqlite3';`,
        'core/agent/encoder/probe.ts': `import ffmpeg from 'fluent-ffmpeg';`,
        'core/agent/agent.ts': `import ffmpeg from 'fluent-ffmpeg';`,
      }),
    );
    expect(v.map((x) => `${x.file} ${x.spec}`)).toEqual(['core/coordinator/scheduler.ts better-sqlite3', 'core/agent/agent.ts fluent-ffmpeg']);
  });

  it('keeps coordinator and agent apart and core/shared free of node imports', () => {
    const v = checkBoundaries(
      files({
        'core/coordinator/c.ts': `import { createAgent } from '../agent/agent.ts';`,
        'core/agent/a.ts': `import type { JobStore } from '../coordinator/ports.ts';`,
        'core/shared/s.ts': `import path from 'node:path';`,
        'core/cli/main.ts': `import { createAgent } from '../agent/agent.ts';\nimport { createCoordinator } from '../coordinator/coordinator.ts';`,
      }),
    );
    expect(v.map((x) => x.file)).toEqual(['core/coordinator/c.ts', 'core/agent/a.ts', 'core/shared/s.ts']);
  });

  it('lets only the encoder and device discovery spawn processes', () => {
    const v = checkBoundaries(
      files({
        'core/agent/encoder/run.ts': `import { spawn } from 'node:child_process';`,
        'core/agent/devices/smi.ts': `import { spawn } from 'node:child_process';`,
        'core/cli/x.ts': `import { spawn } from 'node:child_process';`,
      }),
    );
    expect(v.map((x) => x.file)).toEqual(['core/cli/x.ts']);
  });
});

describe('findCycles', () => {
  it('reports an import cycle once', () => {
    const c = findCycles(files({ 'core/a.ts': `import './b.ts';`, 'core/b.ts': `import './c.ts';`, 'core/c.ts': `import './a.ts';`, 'core/d.ts': `import './a.ts';` }));
    expect(c).toEqual([['core/a.ts', 'core/b.ts', 'core/c.ts', 'core/a.ts']]);
  });
});
