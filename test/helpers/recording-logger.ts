import type { Logger } from '../../core/shared/logger.ts';

export interface LogEntry {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps every line, so tests can check what was (and was not) logged. */
export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void entries.push({ level, msg, fields });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
