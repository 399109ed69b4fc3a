/**
 * The per-user socket (a named pipe on Windows): listening with owner-only permissions, finding a daemon that
 * already listens, cleaning up a stale socket file, and connecting as a client.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { checkSocketPath } from '../paths.ts';

/** Connects to the socket, or rejects with the connect error (ENOENT or ECONNREFUSED when no daemon listens). */
export function connectSocket(socketPath: string, timeoutMs = 2000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connecting to ${socketPath} timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Returns true when a daemon accepts connections on the socket. */
export async function isDaemonListening(socketPath: string): Promise<boolean> {
  try {
    const socket = await connectSocket(socketPath);
    socket.destroy();
    return true;
  } catch {
    return false;
  }
}

export type ListenResult = { server: net.Server; close(): Promise<void> } | { alreadyRunning: true };

/**
 * Listens on the socket. When another daemon already accepts connections there, returns `alreadyRunning` so the caller can
 * hand over to it; when the file is stale (left by a daemon that died), removes it first.
 */
export async function listenOnSocket(socketPath: string, onConnection: (socket: net.Socket) => void): Promise<ListenResult> {
  checkSocketPath(socketPath);
  const isPipe = process.platform === 'win32';
  if (!isPipe) mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });

  for (let attempt = 0; attempt < 2; attempt++) {
    if (await isDaemonListening(socketPath)) return { alreadyRunning: true };
    if (!isPipe) removeStaleSocket(socketPath);

    const server = net.createServer(onConnection);
    const listened = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(socketPath, () => {
        server.off('error', resolve);
        resolve(undefined);
      });
    });
    if (listened?.code === 'EADDRINUSE') continue; // another daemon started in between; check it again
    if (listened) throw new Error(`listening on ${socketPath} failed: ${listened.message}`);

    // The folder is owner-only already; the socket mode is the second lock.
    if (!isPipe) chmodSync(socketPath, 0o600);
    const close = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (!isPipe && existsSync(socketPath)) unlinkSync(socketPath);
      });
    return { server, close };
  }
  return { alreadyRunning: true };
}

/** Removes a socket file that no daemon listens on. Throws when the path is something other than a socket. */
function removeStaleSocket(socketPath: string): void {
  let stats;
  try {
    stats = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stats.isSocket()) throw new Error(`${socketPath} exists and is not a socket; remove it or set SPECEXIT_SOCKET to another path`);
  unlinkSync(socketPath);
}
