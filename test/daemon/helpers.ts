/** Shared daemon test helpers: a daemon on a temporary socket, fixture models, clients and raw frames. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { DaemonClient } from '../../daemon/client/daemon-client.ts';
import type { DaemonConfig } from '../../daemon/config.ts';
import { createLogger } from '../../daemon/log.ts';
import type { ModelSpec } from '../../daemon/protocol.ts';
import { Daemon } from '../../daemon/server/daemon.ts';
import { connectSocket, listenOnSocket } from '../../daemon/transport/socket.ts';
import { getFixtures } from '../engine/helpers.ts';

export const REPO_ROOT = path.join(__dirname, '..', '..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'daemon', 'cli', 'main.ts');

/** Creates a temporary folder with a short path, so socket paths stay under the 107-byte limit. */
export function makeTempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sx-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function fixtureModel(overrides: Partial<ModelSpec> = {}): Promise<ModelSpec> {
  const paths = await getFixtures();
  return { name: 'fixture', target: paths.target, draft: paths.draft, signals: paths.signals, contextSize: 1024, ...overrides };
}

export async function fixtureConfig(overrides: Partial<DaemonConfig> = {}): Promise<DaemonConfig> {
  return { models: [await fixtureModel()], defaultModel: 'fixture', idleTimeoutMs: 0, threads: 1, gpu: false, ...overrides };
}

/** Writes a config file naming the fixture model, for daemons started as child processes. */
export async function writeFixtureConfig(dir: string, model: Partial<ModelSpec> = {}): Promise<string> {
  const file = path.join(dir, 'config.json');
  const { name, target, draft, signals, contextSize } = await fixtureModel(model);
  writeFileSync(file, JSON.stringify({ models: [{ name, target, draft, signals, contextSize }], defaultModel: 'fixture', threads: 1, gpu: false }));
  return file;
}

export interface TestDaemon {
  daemon: Daemon;
  socketPath: string;
  /** Log lines the daemon wrote, as text. */
  logLines: string[];
  /** Resolves when the daemon has stopped (idle timeout or stopDaemon). */
  stopped: Promise<void>;
  close(): Promise<void>;
}

/** Starts a daemon in this process on a socket in `dir`. */
export async function startDaemon(dir: string, config?: Partial<DaemonConfig>, options: { embedded?: ModelSpec; maxMessageBytes?: number } = {}): Promise<TestDaemon> {
  const socketPath = path.join(dir, 'd.sock');
  const logLines: string[] = [];
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const daemon = new Daemon({
    config: await fixtureConfig(config),
    socketPath,
    embedded: options.embedded,
    logger: createLogger('daemon', (line) => logLines.push(line)),
    version: '0.0.0-test',
    maxMessageBytes: options.maxMessageBytes,
    onStopped: () => resolveStopped(),
  });
  const listening = await listenOnSocket(socketPath, (socket) => {
    daemon.attach(socket, socket, 'socket');
  });
  if ('alreadyRunning' in listening) throw new Error(`a daemon already listens on ${socketPath}`);
  daemon.onStop(() => listening.close());
  return {
    daemon,
    socketPath,
    logLines,
    stopped,
    close: async () => {
      await daemon.stop('the test ended');
      await stopped;
    },
  };
}

export async function connectClient(socketPath: string, name = 'test-client'): Promise<{ client: DaemonClient; socket: net.Socket }> {
  const socket = await connectSocket(socketPath);
  const client = await DaemonClient.start(socket, socket, { name });
  return { client, socket };
}

/** Frames one JSON-RPC body with a Content-Length header. */
export function frame(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
}

/** A raw socket client that writes bytes and reads framed responses one at a time. */
export class RawClient {
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(socketPath: string): Promise<RawClient> {
    return new RawClient(await connectSocket(socketPath));
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  send(message: object): void {
    this.write(frame(JSON.stringify(message)));
  }

  /** Returns the next framed message, or rejects after `timeoutMs`. */
  async read(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.take();
      if (message) return message;
      if (this.closed) throw new Error('the socket closed before a message arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Returns the next message that has `id`, skipping notifications. */
  async readResponse(id: number | string | null, timeoutMs = 5000): Promise<Record<string, unknown>> {
    for (;;) {
      const message = await this.read(timeoutMs);
      if ('id' in message && message.id === id && !('method' in message)) return message;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private take(): Record<string, unknown> | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const match = /Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString('ascii'));
    if (!match) throw new Error(`bad header from the daemon: ${this.buffer.subarray(0, end).toString()}`);
    const length = Number(match[1]);
    if (this.buffer.length < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return JSON.parse(body) as Record<string, unknown>;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}

const spawned = new Set<ChildProcess>();

/** Kills every CLI process `spawnCli` started that is still running, so a failed test cannot hang the file. */
export function killSpawned(): void {
  for (const child of spawned) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  spawned.clear();
}

/** Runs the CLI from source as a child process, with `env` added to this process's environment. */
export function spawnCli(args: string[], env: Record<string, string>, stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    // A short idle timeout ends any background daemon a failed test leaves behind.
    env: { ...process.env, SPECEXIT_LOG: 'info', SPECEXIT_IDLE_TIMEOUT: '20', ...env },
    stdio: stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : 'ignore',
  });
  spawned.add(child);
  return child;
}

/** Resolves with the exit code of a child process, or null when a signal ended it. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
