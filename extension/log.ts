/** The extension's log: a VS Code log output channel, filtered by `specexit.logLevel`. */
import type * as vscode from 'vscode';

import type { LogLevel } from './settings.ts';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class Log {
  private minimum: number;

  constructor(readonly channel: vscode.LogOutputChannel, level: LogLevel) {
    this.minimum = ORDER[level];
  }

  setLevel(level: LogLevel): void {
    this.minimum = ORDER[level];
  }

  debug(message: string): void {
    if (this.minimum <= ORDER.debug) this.channel.debug(message);
  }

  info(message: string): void {
    if (this.minimum <= ORDER.info) this.channel.info(message);
  }

  warn(message: string): void {
    if (this.minimum <= ORDER.warn) this.channel.warn(message);
  }

  error(message: string): void {
    this.channel.error(message);
  }
}
