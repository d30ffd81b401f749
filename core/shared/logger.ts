/** Structured logger: one JSON object per line when written to a stream. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A JSON-lines logger writing to any sink (a file stream, stderr). */
export function jsonLogger(write: (line: string) => void, min: Level = 'info'): Logger {
  const at = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[min]) return;
    write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
