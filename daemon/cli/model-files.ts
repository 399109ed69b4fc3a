/** Checks the files of `--target`, `--draft` and `--signals` before a daemon receives them, so that a wrong path fails at once and names its flag. */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

import { UsageError } from './errors.ts';

/** The first four bytes of every GGUF file. */
const GGUF_MAGIC = Buffer.from('GGUF', 'ascii');

export type ModelFileFlag = '--target' | '--draft' | '--signals';

/**
 * Throws a UsageError naming `flag` and `file` when the file is missing or not a regular file, or, for a GGUF flag,
 * when it does not start with the GGUF magic. The engine checks the rest of the format when it loads the file.
 */
export function checkModelFile(flag: ModelFileFlag, file: string): void {
  let fd: number;
  try {
    if (!statSync(file).isFile()) throw new UsageError(`${flag} ${file} is not a regular file; fix the ${flag} path`);
    fd = openSync(file, 'r');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : (code ?? (error as Error).message);
    throw new UsageError(`cannot read ${flag} ${file}: ${reason}; fix the ${flag} path`);
  }

  try {
    if (flag === '--signals') return;
    const head = Buffer.alloc(GGUF_MAGIC.length);
    const read = readSync(fd, head, 0, head.length, 0);
    const fix = `fix the ${flag} path to name a .gguf model file`;
    if (read === 0) throw new UsageError(`${flag} ${file} is empty, not a GGUF file; ${fix}`);
    if (read < head.length || !head.equals(GGUF_MAGIC)) {
      const start = [...head.subarray(0, read)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
      throw new UsageError(`${flag} ${file} is not a GGUF file (it starts with the bytes ${start}, not with "GGUF"); ${fix}`);
    }
  } finally {
    closeSync(fd);
  }
}
