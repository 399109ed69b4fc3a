/** Starts the shared daemon in the background when none listens, and connects to it. */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { defaultLogFile } from '../paths.ts';
import { connectSocket } from './socket.ts';
import { logOffset, readStartupFailure } from './startup-log.ts';

/** Time a freshly started daemon has to accept connections. It loads no model before that, so this is generous. */
const START_TIMEOUT_MS = 15_000;

/** A daemon started in the background stopped, or did not listen in time; the message gives its reason. */
export class DaemonStartError extends Error {
  override readonly name = 'DaemonStartError';
}

export interface SpawnOptions {
  socketPath: string;
  /** Extra arguments for `specexit serve`, such as `--target`. */
  serveArgs?: string[];
  /**
   * The daemon's log file, passed as `--log-file`. Without it the daemon logs where its config says, and its
   * stderr (which also carries early startup errors) goes to `daemon.log` beside the socket.
   */
  logFile?: string;
}

/**
 * Returns the command that runs this CLI again: the same Node binary and flags (`--import tsx` in the source
 * tree) and the same entry script.
 */
export function selfCommand(): { command: string; args: string[] } {
  const script = process.argv[1];
  if (!script) throw new Error('cannot tell which script runs the CLI (process.argv[1] is empty)');
  return { command: process.execPath, args: [...process.execArgv, script] };
}

/** Connects to the daemon on `socketPath`, first starting one in the background when none accepts connections. */
export async function connectOrSpawn(options: SpawnOptions): Promise<{ socket: net.Socket; spawned: boolean }> {
  try {
    return { socket: await connectSocket(options.socketPath), spawned: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw error;
  }

  const logFile = options.logFile ?? defaultLogFile(options.socketPath);
  mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const logFd = openSync(logFile, 'a', 0o600);
  const logStart = logOffset(logFd);
  const { command, args } = selfCommand();
  let exited: string | undefined;
  try {
    const logArgs = options.logFile ? ['--log-file', options.logFile] : [];
    const child = spawn(command, [...args, 'serve', '--socket', options.socketPath, ...logArgs, ...(options.serveArgs ?? [])], {
      detached: true,
      stdio: ['ignore', 'ignore', logFd],
      env: process.env,
    });
    child.once('exit', (exitCode, signal) => {
      exited = signal ? `signal ${signal}` : `exit code ${exitCode}`;
    });
    child.once('error', (error) => {
      exited = error.message;
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      return { socket: await connectSocket(options.socketPath), spawned: true };
    } catch (error) {
      if (exited) {
        const reason = readStartupFailure(logFile, logStart);
        throw new DaemonStartError(`the daemon stopped during startup (${exited})${reason ? `: ${reason}` : ''}; its log is ${logFile}`);
      }
      if (Date.now() > deadline) {
        throw new DaemonStartError(`the daemon did not listen on ${options.socketPath} within ${START_TIMEOUT_MS / 1000} s (${(error as Error).message}); see its log ${logFile}`);
      }
      await sleep(50);
    }
  }
}
