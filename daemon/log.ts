/**
 * A levelled, structured logger (pino) with a module field. It writes to stderr or to a file, never to stdout, so
 * stdout stays free for a stdio protocol.
 *
 * Lines are JSON (pino's format) with `SPECEXIT_LOG_FORMAT=json`, else one readable line each:
 * `2025-01-01T00:00:00.000Z INFO  [daemon] message key=value`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import pino from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

/** Extra fields of a log line, such as `requestId` or `err` (an Error, written with its stack). */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger whose children add fields to every line they write. */
export interface StructuredLogger extends Logger {
  child(fields: LogFields): StructuredLogger;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LoggingOptions {
  /** Lowest level written. Default: `SPECEXIT_LOG`, else `info`. */
  level?: LogLevel;
  /** Append to this file instead of writing to stderr. Default: `SPECEXIT_LOG_FILE`, else stderr. */
  file?: string;
  /** Default: `SPECEXIT_LOG_FORMAT`, else `text`. */
  format?: LogFormat;
}

interface Destination {
  write(line: string): void;
}

/** Formats pino's JSON lines as readable text before passing them on. */
class TextDestination implements Destination {
  constructor(private readonly next: Destination) {}

  write(line: string): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.next.write(line);
      return;
    }
    const { time, level, module, msg, err, pid: _pid, ...fields } = record;
    const levelName = typeof level === 'number' ? (pino.levels.labels[level] ?? String(level)) : String(level);
    let text = `${String(time)} ${levelName.toUpperCase().padEnd(5)} [${String(module ?? 'specexit')}] ${String(msg ?? '')}`;
    for (const [key, value] of Object.entries(fields)) {
      text += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`;
    }
    if (err && typeof err === 'object') {
      const { message, stack } = err as { message?: string; stack?: string };
      text += `\n  ${(stack ?? message ?? JSON.stringify(err)).split('\n').join('\n  ')}`;
    }
    this.next.write(text + '\n');
  }
}

function parseLevel(value: string | undefined): LogLevel | undefined {
  return LOG_LEVELS.find((level) => level === value);
}

function buildRoot(options: LoggingOptions, write?: (line: string) => void): pino.Logger {
  const level = options.level ?? parseLevel(process.env.SPECEXIT_LOG) ?? 'info';
  const format = options.format ?? (process.env.SPECEXIT_LOG_FORMAT === 'json' ? 'json' : 'text');
  const file = options.file ?? process.env.SPECEXIT_LOG_FILE;

  let destination: Destination;
  if (write) {
    destination = { write: (line) => write(line.replace(/\n$/, '')) };
  } else if (file) {
    mkdirSync(path.dirname(file), { recursive: true });
    destination = pino.destination({ dest: file, sync: true, append: true });
  } else {
    destination = pino.destination({ dest: 2, sync: true });
  }
  if (format === 'text') destination = new TextDestination(destination);

  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: format === 'json' ? label : pino.levels.values[label] }) },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}

function wrap(logger: pino.Logger): StructuredLogger {
  const method = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (fields) logger[level](fields, message);
    else logger[level](message);
  };
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    child: (fields) => wrap(logger.child(fields)),
  };
}

let root: pino.Logger | undefined;

/** Sets where and what the loggers made after this call write. Call once at process start, before `createLogger`. */
export function configureLogging(options: LoggingOptions): void {
  root = buildRoot(options);
}

/**
 * Returns a logger whose lines carry `module`. With `write`, lines go to that function (as text unless
 * `SPECEXIT_LOG_FORMAT=json`) instead of the configured destination.
 */
export function createLogger(module: string, write?: (line: string) => void): StructuredLogger {
  if (write) return wrap(buildRoot({}, write).child({ module }));
  root ??= buildRoot({});
  return wrap(root.child({ module }));
}
