import { createPresetCatalog } from '../../coordinator/preset-catalog.ts';
import { afterLabel, validateWatchFolder } from '../../coordinator/watch/watch-config.ts';
import { WatchConfigError } from '../../coordinator/watch/watch-errors.ts';
import { openData, UsageError, type CommonOptions, type Terminal } from '../context.ts';
import { renderTable } from '../format.ts';

export interface WatchOptions extends CommonOptions {
  preset?: string;
  out?: string;
  recursive?: boolean;
  after?: string;
  include?: string[];
  exclude?: string[];
  stable?: string;
}

/**
 * `encodefarm watch add <dir> | list | rm <id>`: edits the data dir's watch folders directly, like
 * `presets`; a running `serve` picks the change up within seconds (its watch service re-reads them).
 */
export function runWatch(action: string | undefined, arg: string | undefined, opts: WatchOptions, term: Terminal): number {
  const data = openData(opts, term);
  try {
    if (!action || action === 'list') {
      const rows = data.store.listWatchFolders().map((f) => [
        String(f.id),
        f.path,
        f.presetId,
        f.outDir,
        f.recursive ? 'yes' : 'no',
        afterLabel(f.after),
        f.stabilityMs === null ? 'default' : `${f.stabilityMs / 1000} s`,
        f.state === 'offline' ? `offline: ${f.offlineReason ?? ''}` : f.state,
      ]);
      if (!rows.length) term.out('no watch folders (add one with `encodefarm watch add <dir> --preset <id> --out <dir>`)\n');
      else term.out(renderTable(['id', 'folder', 'preset', 'out', 'recursive', 'after', 'stable', 'state'], rows) + '\n');
      return 0;
    }
    if (action === 'add') {
      if (!arg) throw new UsageError('watch add: give the folder to watch');
      if (!opts.out) throw new UsageError(`watch add: ${arg}: --out <dir> is required (where outputs go)`);
      const stableS = opts.stable === undefined ? undefined : Number(opts.stable);
      if (stableS !== undefined && !(stableS > 0)) throw new UsageError(`--stable: expected seconds > 0, got "${opts.stable}"`);
      const catalog = createPresetCatalog(data.store, Date.now);
      const folder = validateWatchFolder(
        {
          path: arg,
          preset: opts.preset ?? 'h264-fast',
          out: opts.out,
          recursive: Boolean(opts.recursive),
          after: opts.after ?? 'keep',
          include: opts.include ?? [],
          exclude: opts.exclude ?? [],
          ...(stableS !== undefined && { stableS }),
        },
        { cwd: term.cwd, presetExists: (id) => catalog.get(id) !== undefined },
      );
      const row = data.store.addWatchFolder(folder, Date.now());
      term.out(`watching ${row.path} (id ${row.id}): ${row.presetId} → ${row.outDir}, after: ${afterLabel(row.after)}\n`);
      term.out('`encodefarm serve` (or the desktop app) queues files while it runs.\n');
      return 0;
    }
    if (action === 'rm') {
      const id = Number(arg);
      if (!arg || !Number.isInteger(id) || !data.store.removeWatchFolder(id)) throw new UsageError(`watch rm: no watch folder "${arg ?? ''}" (see \`encodefarm watch list\`)`);
      term.out(`stopped watching folder ${id}\n`);
      return 0;
    }
    throw new UsageError(`watch: unknown action "${action}" (add, list, rm)`);
  } catch (err) {
    if (err instanceof WatchConfigError) throw new UsageError(err.message);
    throw err;
  } finally {
    data.store.close();
    data.closeLog();
  }
}
