import type { DeviceAnnouncement } from '../../shared/device.ts';
import { PresetSchema, type Preset } from '../../shared/preset.ts';
import type { JobStore } from '../ports.ts';
import { writeTx, type Db } from './db.ts';
import { toDeviceRow, type DeviceRecord } from './row-mapping.ts';

type LogPresetsDevices = Pick<
  JobStore,
  'appendLog' | 'logTail' | 'listUserPresets' | 'saveUserPreset' | 'deleteUserPreset' | 'upsertDevices' | 'listDevices'
>;

/** Lines of ffmpeg log kept per job unless the caller says otherwise. */
export const DEFAULT_LOG_KEEP = 200;

/** The per-job log tail, user presets and the device registry: small tables beside the queue. */
export function logPresetsDevices(db: Db): LogPresetsDevices {
  const insertLine = db.prepare<[number, number, string]>('INSERT INTO job_log (job_id, at, line) VALUES (?, ?, ?)');
  // Deletes everything older than the keep-th newest line; with fewer lines the subquery is NULL
  // and nothing matches.
  const trimLog = db.prepare<{ jobId: number; keep: number }>(`
    DELETE FROM job_log WHERE job_id = @jobId AND id < (
      SELECT id FROM job_log WHERE job_id = @jobId ORDER BY id DESC LIMIT 1 OFFSET @keep - 1)`);
  const tail = db
    .prepare<[number, number], string>(
      'SELECT line FROM (SELECT id, line FROM job_log WHERE job_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id',
    )
    .pluck();
  const presetJson = db.prepare<[], string>('SELECT json FROM presets ORDER BY id').pluck();
  const upsertPreset = db.prepare<[string, string, number]>(`
    INSERT INTO presets (id, json, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`);
  const deletePreset = db.prepare<[string]>('DELETE FROM presets WHERE id = ?');
  const upsertDevice = db.prepare(`
    INSERT INTO devices (agent_id, device_id, kind, label, gpu_index, slots, codecs, limit_group, state, updated_at)
    VALUES (@agentId, @id, @kind, @label, @gpuIndex, @slots, @codecs, @limitGroup, @state, @now)
    ON CONFLICT (agent_id, device_id) DO UPDATE SET
      kind = excluded.kind, label = excluded.label, gpu_index = excluded.gpu_index,
      slots = excluded.slots, codecs = excluded.codecs, limit_group = excluded.limit_group,
      state = excluded.state, updated_at = excluded.updated_at`);
  const allDevices = db.prepare<[], DeviceRecord>('SELECT * FROM devices ORDER BY agent_id, gpu_index, device_id');

  return {
    appendLog: writeTx(db, (jobId: number, lines: readonly string[], now: number, keep = DEFAULT_LOG_KEEP): void => {
      if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`Expected keep to be a positive integer, got ${keep}`);
      for (const line of lines.slice(-keep)) insertLine.run(jobId, now, line);
      trimLog.run({ jobId, keep });
    }),
    logTail: (jobId, limit) => tail.all(jobId, limit),

    // A row that no longer passes the schema (written by another version, edited by hand) is left
    // out rather than handed to the agent's argv builder.
    listUserPresets: () =>
      presetJson.all().flatMap((json) => {
        const parsed = PresetSchema.safeParse(JSON.parse(json));
        return parsed.success ? [parsed.data] : [];
      }),
    saveUserPreset: writeTx(db, (preset: Preset, now: number): void => {
      const valid = PresetSchema.parse(preset);
      upsertPreset.run(valid.id, JSON.stringify(valid), now);
    }),
    deleteUserPreset: writeTx(db, (id: string): boolean => deletePreset.run(id).changes > 0),

    // Only inserts or updates: callers also upsert a single device (e.g. after a quarantine), so
    // a device missing from the list is not a device that went away.
    upsertDevices: writeTx(db, (agentId: string, devices: readonly DeviceAnnouncement[], now: number): void => {
      for (const d of devices) {
        upsertDevice.run({
          ...d,
          agentId,
          gpuIndex: d.gpuIndex ?? null,
          limitGroup: d.limitGroup ?? null,
          codecs: JSON.stringify(d.codecs),
          now,
        });
      }
    }),
    listDevices: () => allDevices.all().map(toDeviceRow),
  };
}
