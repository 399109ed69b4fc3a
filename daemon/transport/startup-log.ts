/**
 * Reads why a daemon started in the background stopped before it listened. Such a daemon's stderr goes to its
 * log file, and the CLI writes a failure to start (an invalid config file, a bad flag) there as one `error:` line.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Bytes read from the end of what the daemon wrote, at most. */
const MAX_TAIL_BYTES = 16 * 1024;

/** Lines quoted when the daemon wrote no `error:` line. */
const TAIL_LINES = 3;

/** Returns the size of the open file `fd` in bytes: the offset where a daemon started now begins to write. */
export function logOffset(fd: number): number {
  return fstatSync(fd).size;
}

/**
 * Returns the reason a daemon gave for stopping: the `error:` lines it wrote to `file` after byte `offset`,
 * without their prefix, else its last few lines. Returns undefined when it wrote nothing or the file cannot be read.
 */
export function readStartupFailure(file: string, offset: number): string | undefined {
  let text: string;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(offset, size - MAX_TAIL_BYTES);
      const bytes = Buffer.alloc(Math.max(0, size - start));
      readSync(fd, bytes, 0, bytes.length, start);
      text = bytes.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }

  const lines = text.split('\n').map((line) => line.trimEnd()).filter((line) => line !== '');
  const errors = lines.filter((line) => line.startsWith('error: ')).map((line) => line.slice('error: '.length));
  if (errors.length > 0) return errors.join('; ');
  if (lines.length === 0) return undefined;
  return lines.slice(-TAIL_LINES).join('\n');
}
