import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';

import { getFixtures } from './helpers.ts';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('shutdown during a generation', () => {
  // Each case runs a few times: the crashes these guard against depended on
  // where the generation thread was when the process or worker ended.
  const repeats = 3;

  for (const ending of ['exit', 'throw']) {
    test(`process ${ending}`, async () => {
      await getFixtures();
      for (let i = 0; i < repeats; i++) {
        const outcome = await run('exit-child.ts', [ending]);
        assert.equal(outcome.signal, null, `run ${i + 1}: the child died from ${outcome.signal}\n${outcome.stderr.slice(-2000)}`);
        assert.equal(outcome.code, ending === 'exit' ? 0 : 1, outcome.stderr.slice(-2000));
      }
    });
  }

  test('worker thread terminated', async () => {
    await getFixtures();
    for (let i = 0; i < repeats; i++) {
      const outcome = await run('worker-child.ts', []);
      assert.equal(outcome.signal, null, `run ${i + 1}: the child died from ${outcome.signal}\n${outcome.stderr.slice(-2000)}`);
      assert.equal(outcome.code, 0, outcome.stderr.slice(-2000));
      assert.deepEqual(outcome.stdout.trim().split('\n'), ['main 20', 'terminated', 'main again 20']);
    }
  });
});
