/**
 * Finds the shared per-user daemon or starts one. The extension connects to the daemon's socket directly, so
 * every VS Code window and the `specexit` CLI share one daemon and one loaded model.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { connectSocket } from '../daemon/transport/socket.ts';
import { logOffset, readStartupFailure } from '../daemon/transport/startup-log.ts';

/** Time a started daemon has to listen. It loads no model before it listens, so this is generous. */
export const DAEMON_START_TIMEOUT_MS = 20_000;
const POLL_INTERVAL_MS = 100;

export interface LaunchOptions {
  socketPath: string;
  /** The daemon's log file, where a started daemon writes its stderr. */
  logFile: string;
  /** The Node executable. In desktop VS Code this is Electron, which runs as Node with `ELECTRON_RUN_AS_NODE`. */
  nodePath: string;
  /** The `specexit` CLI script, such as `<extension>/bin/specexit.js`. */
  cliScript: string;
  /** Arguments after the script, starting with `serve`. */
  serveArguments: string[];
  env?: NodeJS.ProcessEnv;
  log?: (message: string) => void;
  timeoutMs?: number;
}

export interface LaunchResult {
  socket: net.Socket;
  /** True when this call started the daemon. */
  started: boolean;
}

/** Connects to the daemon on `socketPath`, starting one in the background first when none listens. */
export async function connectOrStartDaemon(options: LaunchOptions): Promise<LaunchResult> {
  const log = options.log ?? (() => undefined);
  try {
    const socket = await connectSocket(options.socketPath);
    log(`connected to the running daemon on ${options.socketPath}`);
    return { socket, started: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw error;
  }

  const launch = startDaemon(options, log);
  const timeoutMs = options.timeoutMs ?? DAEMON_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await sleep(POLL_INTERVAL_MS);
    try {
      const socket = await connectSocket(options.socketPath);
      log(`connected to the daemon on ${options.socketPath}`);
      return { socket, started: true };
    } catch (error) {
      // Exit status 0 means another window's daemon won the race for the socket: keep trying to connect to it.
      const status = launch.exited();
      if (status !== undefined && status !== 'exit code 0') {
        const reason = readStartupFailure(options.logFile, launch.logStart);
        throw new Error(`the SpecExit daemon stopped during startup (${status})${reason ? `: ${reason}` : ''}; its log is ${options.logFile}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the SpecExit daemon did not listen on ${options.socketPath} within ${timeoutMs / 1000} s (${(error as Error).message}); see its log ${options.logFile}`,
        );
      }
    }
  }
}

/**
 * Starts `specexit serve` detached, so it outlives this window. Returns a function that reports its exit, if any,
 * and the log file's size before the start, where the daemon's own lines begin.
 */
function startDaemon(options: LaunchOptions, log: (message: string) => void): { exited: () => string | undefined; logStart: number } {
  mkdirSync(path.dirname(options.logFile), { recursive: true, mode: 0o700 });
  const logFd = openSync(options.logFile, 'a', 0o600);
  const logStart = logOffset(logFd);
  let exited: string | undefined;
  try {
    const child = spawn(options.nodePath, [options.cliScript, ...options.serveArguments], {
      detached: true,
      stdio: ['ignore', 'ignore', logFd],
      env: { ...(options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      windowsHide: true,
    });
    log(`started the daemon (pid ${child.pid}): ${options.cliScript} ${options.serveArguments.join(' ')}`);
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `exit code ${code}`;
    });
    child.once('error', (error) => {
      exited = error.message;
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  return { exited: () => exited, logStart };
}
