import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { checkBoundaries, findCycles } from './boundaries.ts';

const ROOTS = ['core', 'renderer', 'electron', 'native', 'bench', 'test', 'scripts'];

async function collect(root: string, dir: string, out: Map<string, string>): Promise<void> {
  let entries;
  try {
    entries = await fsp.readdir(path.join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'fixtures') await collect(root, rel, out);
    else if (/\.(ts|tsx|mts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.set(rel, await fsp.readFile(path.join(root, rel), 'utf8'));
  }
}

const root = path.resolve(import.meta.dirname, '..');
const files = new Map<string, string>();
for (const r of ROOTS) await collect(root, r, files);
const violations = checkBoundaries(files);
const cycles = findCycles(new Map([...files].filter(([f]) => f.startsWith('core/'))));
for (const v of violations) console.error(`${v.file}: imports "${v.spec}" — ${v.why}`);
for (const c of cycles) console.error(`import cycle: ${c.join(' → ')}`);
if (violations.length || cycles.length) {
  console.error(`\nboundary check failed: ${violations.length} forbidden import(s), ${cycles.length} cycle(s)`);
  process.exit(1);
}
console.log(`boundary check: ${files.size} files, no forbidden imports, no cycles in core/`);
