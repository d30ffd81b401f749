import type { JobStore } from '../ports.ts';
import { writeTx, type Db } from './db.ts';

type Settings = Pick<JobStore, 'readSettings' | 'writeSettings'>;

/** Farm settings as one JSON value per key; what the values mean is the API's business. */
export function settings(db: Db): Settings {
  const all = db.prepare<[], { key: string; json: string }>('SELECT key, json FROM settings ORDER BY key');
  const upsert = db.prepare<[string, string]>(`
    INSERT INTO settings (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json`);

  return {
    readSettings: () => {
      const out: Record<string, unknown> = {};
      for (const row of all.all()) {
        try {
          out[row.key] = JSON.parse(row.json);
        } catch {
          // A value edited by hand into something unreadable counts as unset (the default applies).
        }
      }
      return out;
    },
    writeSettings: writeTx(db, (values: Readonly<Record<string, unknown>>): void => {
      for (const [key, value] of Object.entries(values)) upsert.run(key, JSON.stringify(value ?? null));
    }),
  };
}
