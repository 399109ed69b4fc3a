/** Per-user locations of the daemon: its socket, its log file and its config file, and the package root. */
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the terminating NUL); macOS allows 103. */
const MAX_UNIX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'user');
  }
}

/**
 * Returns the per-user runtime folder: `$XDG_RUNTIME_DIR/specexit` when set, else `<tmpdir>/specexit-<uid>`.
 * The folder is created with mode 0700 and must be owned by this user and closed to others.
 */
export function runtimeDir(): string {
  const base = process.env.XDG_RUNTIME_DIR;
  const uid = process.getuid?.() ?? userName();
  const dir = base ? path.join(base, 'specexit') : path.join(os.tmpdir(), `specexit-${uid}`);
  ensurePrivateDir(dir);
  return dir;
}

/**
 * Creates `dir` with mode 0700 if missing. Throws when it exists but belongs to another user or is open to
 * group or others, because another user could then replace the socket.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const stats = lstatSync(dir);
  if (!stats.isDirectory()) throw new Error(`expected ${dir} to be a folder; remove it and try again`);
  if (process.getuid && stats.uid !== process.getuid()) {
    throw new Error(`${dir} belongs to uid ${stats.uid}, not to this user; remove it or set SPECEXIT_SOCKET`);
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new Error(`${dir} is open to other users (mode ${(stats.mode & 0o777).toString(8)}); run \`chmod 700 ${dir}\``);
  }
}

/**
 * Returns the daemon's socket: `SPECEXIT_SOCKET` when set, else `daemon.sock` in `runtimeDir()`; on Windows the
 * named pipe `\\.\pipe\specexit-<user>`.
 */
export function defaultSocketPath(): string {
  const fromEnv = process.env.SPECEXIT_SOCKET;
  if (fromEnv) return fromEnv;
  // NOTE: the Windows pipe path has not been run; its default ACL, not a file mode, decides who may connect.
  if (process.platform === 'win32') return `\\\\.\\pipe\\specexit-${userName()}`;
  return path.join(runtimeDir(), 'daemon.sock');
}

/** Throws when a Unix socket path is too long for the operating system. */
export function checkSocketPath(socketPath: string): void {
  if (process.platform === 'win32') return;
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw new Error(`the socket path ${socketPath} is ${bytes} bytes, over the limit of ${MAX_UNIX_SOCKET_PATH_BYTES}; set SPECEXIT_SOCKET to a shorter path`);
  }
}

/** Returns the log file of a daemon that runs in the background: `daemon.log` beside its socket. */
export function defaultLogFile(socketPath: string): string {
  if (process.platform === 'win32') return path.join(os.tmpdir(), `specexit-${userName()}`, 'daemon.log');
  return path.join(path.dirname(socketPath), 'daemon.log');
}

/** Returns the config file: `SPECEXIT_CONFIG` when set, else `$XDG_CONFIG_HOME/specexit/config.json` (default `~/.config`). */
export function defaultConfigFile(): string {
  const fromEnv = process.env.SPECEXIT_CONFIG;
  if (fromEnv) return fromEnv;
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'specexit', 'config.json');
}

/** Returns the folder with `package.json` and `models/`, found upward from this file (source tree or `dist/`). */
export function packageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'models'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package root with models/ found above ${__dirname}`);
  }
}
