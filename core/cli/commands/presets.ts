import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PresetValidationError } from '../../coordinator/preset-catalog.ts';
import { createPresetCatalog } from '../../coordinator/preset-catalog.ts';
import { openData, UsageError, type CommonOptions, type Terminal } from '../context.ts';
import { renderTable } from '../format.ts';
import type { Preset } from '../../shared/preset.ts';

function describe(p: Preset): string {
  const audio = p.audio.mode === 'aac' ? `aac ${p.audio.bitrateKbps}k` : p.audio.mode;
  return [p.codec, `q${p.quality}`, p.speed, p.maxHeight ? `≤${p.maxHeight}p` : 'source size', `audio ${audio}`, p.container].join(', ');
}

/** `encodefarm presets [show <id> | add <file.json> | rm <id>]`. */
export async function runPresets(action: string | undefined, arg: string | undefined, opts: CommonOptions, term: Terminal): Promise<number> {
  const data = openData(opts, term);
  try {
    const catalog = createPresetCatalog(data.store, Date.now);
    if (!action || action === 'list') {
      const rows = catalog.list().map(({ preset, builtin }) => [preset.id, builtin ? 'built-in' : 'user', describe(preset), preset.description]);
      term.out(renderTable(['id', 'kind', 'settings', 'description'], rows) + '\n');
      return 0;
    }
    if (action === 'show') {
      const p = arg ? catalog.get(arg) : undefined;
      if (!p) throw new UsageError(`presets show: unknown preset "${arg ?? ''}"`);
      term.out(JSON.stringify(p, null, 2) + '\n');
      return 0;
    }
    if (action === 'add') {
      if (!arg) throw new UsageError('presets add: give a JSON file');
      const file = path.resolve(term.cwd, arg);
      let json: unknown;
      try {
        json = JSON.parse(await fsp.readFile(file, 'utf8'));
      } catch (err) {
        throw new UsageError(`${file}: cannot read preset (${(err as Error).message})`);
      }
      const p = catalog.save(json, file);
      term.out(`saved preset ${p.id}: ${describe(p)}\n`);
      return 0;
    }
    if (action === 'rm') {
      if (!arg || !catalog.remove(arg)) throw new UsageError(`presets rm: no user preset "${arg ?? ''}"`);
      term.out(`removed preset ${arg}\n`);
      return 0;
    }
    throw new UsageError(`presets: unknown action "${action}" (list, show, add, rm)`);
  } catch (err) {
    if (err instanceof PresetValidationError) throw new UsageError(err.message);
    throw err;
  } finally {
    data.store.close();
    data.closeLog();
  }
}
