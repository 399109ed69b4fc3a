/**
 * `specexit serve`: runs the daemon.
 *
 * - `serve` listens on the per-user socket in the foreground. When a daemon already listens there, it hands
 *   over: it reports that daemon and exits with status 0.
 * - `serve --stdio` is what an editor starts: it relays stdin and stdout to the shared daemon, starting one in
 *   the background first when none runs, so every window and the CLI share one loaded model.
 * - `serve --stdio --no-socket` serves one client over stdio with its own model and exits with that client.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { DaemonConfig } from '../config.ts';
import { configureLogging, createLogger } from '../log.ts';
import { readEmbeddedSpec } from '../models/registry.ts';
import { defaultSocketPath, packageRoot } from '../paths.ts';
import type { ModelSpec } from '../protocol.ts';
import { Daemon } from '../server/daemon.ts';
import { listenOnSocket } from '../transport/socket.ts';
import { connectOrSpawn } from '../transport/spawn.ts';

export interface ServeOptions {
  config: DaemonConfig;
  socketPath: string | undefined;
  stdio: boolean;
  noSocket: boolean;
  /** Arguments a background daemon started by the relay gets (model flags). */
  serveArgs: string[];
}

function packageVersion(root: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

function embeddedSpec(root: string, warn: (message: string) => void): ModelSpec | undefined {
  try {
    return readEmbeddedSpec(root);
  } catch (error) {
    warn(`no embedded model: ${(error as Error).message}`);
    return undefined;
  }
}

/** Runs `serve` until the daemon stops; resolves with the process exit status. */
export async function runServe(options: ServeOptions): Promise<number> {
  const { config } = options;
  configureLogging({ level: config.logLevel, file: config.logFile });
  const log = createLogger('daemon');
  const socketPath = options.noSocket ? null : (options.socketPath ?? defaultSocketPath());

  if (options.stdio && socketPath) return relayStdio(socketPath, options.serveArgs, config.logFile);

  const root = packageRoot();
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });
  const daemon = new Daemon({
    config,
    socketPath,
    embedded: embeddedSpec(root, (message) => log.warn(message)),
    logger: log,
    version: packageVersion(root),
    idleExit: !options.stdio,
    onStopped: () => resolveStopped(daemon.exitCode),
  });

  process.on('SIGINT', () => void daemon.stop('SIGINT'));
  process.on('SIGTERM', () => void daemon.stop('SIGTERM'));
  process.on('unhandledRejection', (error) => log.error('unhandled promise rejection', { err: error }));

  if (options.stdio) {
    log.info('serving one client over stdio', { pid: process.pid });
    const session = daemon.attach(process.stdin, process.stdout, 'stdio');
    session.onClosed(() => void daemon.stop('the stdio client disconnected', daemon.exitCode));
    return stopped;
  }

  const listening = await listenOnSocket(socketPath!, (socket) => {
    daemon.attach(socket, socket, 'socket');
  });
  if ('alreadyRunning' in listening) {
    log.info('a daemon already listens on the socket; handing over to it', { socketPath });
    await daemon.stop('another daemon serves this socket');
    return 0;
  }
  daemon.onStop(() => listening.close());
  log.info('daemon listening', { socketPath, pid: process.pid, idleTimeoutSeconds: config.idleTimeoutMs / 1000, defaultModel: daemon.registry.defaultModel });
  return stopped;
}

/** Pipes stdin and stdout to the shared daemon. Resolves with 0 after the client's `exit`, else 1. */
async function relayStdio(socketPath: string, serveArgs: string[], logFile: string | undefined): Promise<number> {
  const log = createLogger('relay');
  const { socket, spawned } = await connectOrSpawn({ socketPath, serveArgs, logFile });
  log.info(spawned ? 'started the shared daemon; relaying stdio to it' : 'relaying stdio to the running daemon', { socketPath });

  let inputEnded = false;
  process.stdin.on('end', () => {
    inputEnded = true;
    socket.end();
  });
  process.stdin.pipe(socket, { end: false });
  socket.pipe(process.stdout);
  return new Promise((resolve) => {
    socket.on('error', (error) => log.error('relay socket failed', { err: error }));
    socket.on('close', () => {
      if (!inputEnded) log.warn('the daemon closed the connection');
      resolve(0);
    });
  });
}
