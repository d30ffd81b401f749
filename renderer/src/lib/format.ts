/** Display formatting shared by every view; `—` stands for "not known yet". */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  const text = u === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : 1);
  return `${n < 0 ? '-' : ''}${text} ${UNITS[u]}`;
}

/** 75 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatFps(fps: number | null | undefined): string {
  return fps && fps > 0 ? `${fps.toFixed(fps >= 100 ? 0 : 1)} fps` : '—';
}

export function formatSpeed(speed: number | null | undefined): string {
  return speed && speed > 0 ? `${speed.toFixed(2)}×` : '—';
}

export function formatPercent(p: number | null | undefined): string {
  return p === null || p === undefined || !Number.isFinite(p) ? '—' : `${Math.max(0, Math.min(100, p)).toFixed(0)}%`;
}

/** "in → out" sizes of a job. */
export function formatSizes(inBytes: number | null, outBytes: number | null): string {
  return `${formatBytes(inBytes)} → ${formatBytes(outBytes)}`;
}

/** A past instant relative to now: "just now", "5 min ago", "3 h ago", or the date. */
export function formatAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return '—';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

/** The file name of a path from any OS. */
export function baseName(p: string): string {
  return p.split(/[\\/]/).filter(Boolean).pop() ?? p;
}

/** An agent as people say it: this machine's in-process agent (`local:host:pid:nonce`) by that name. */
export function agentLabel(agentId: string | null | undefined): string {
  if (!agentId) return '—';
  return agentId.startsWith('local:') ? 'this machine' : agentId;
}
