/** A levelled logger with a module prefix. It writes to stderr only, so stdout stays free for a stdio protocol. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Returns the level threshold from `SPECEXIT_LOG` (debug, info, warn, error), default `info`. */
function threshold(): number {
  const level = process.env.SPECEXIT_LOG as LogLevel | undefined;
  return level && level in ORDER ? ORDER[level] : ORDER.info;
}

export function createLogger(module: string, write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const min = threshold();
  const log = (level: LogLevel) => (message: string) => {
    if (ORDER[level] >= min) write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${module}] ${message}`);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
