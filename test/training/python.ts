/** Finds a Python 3 that can import torch, numpy and regex, and runs training scripts with it. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const TRAINING_DIR = join(__dirname, '..', '..', 'training');

let found: string | undefined;

/**
 * SPECEXIT_PYTHON when set, else Debian's /usr/bin/python3, else `python3` on PATH: the first that imports
 * torch, numpy and regex. Throws with the fix when none does, so a machine without torch fails the tests
 * instead of skipping them.
 */
export function trainingPython(): string {
  if (found) return found;
  const candidates = [process.env.SPECEXIT_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    const probe = spawnSync(candidate, ['-c', 'import torch, numpy, regex'], { stdio: 'ignore' });
    if (probe.status === 0) return (found = candidate);
  }
  throw new Error(
    `no Python 3 that imports torch, numpy and regex (tried ${candidates.join(', ')}). Run \`bash training/setup.sh\` as root, or set SPECEXIT_PYTHON.`,
  );
}

/** Runs training/<script> with args; stdin text optional; returns stdout. Throws with stderr's tail on failure. */
export function runTrainingScript(script: string, args: string[], input?: string): string {
  try {
    return execFileSync(trainingPython(), [join(TRAINING_DIR, script), ...args], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '');
    throw new Error(`training/${script} ${args.join(' ')} failed:\n${stderr.slice(-2000)}`, { cause: error });
  }
}
