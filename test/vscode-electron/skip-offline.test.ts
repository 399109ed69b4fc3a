/**
 * Checks that `npm run test:electron` skips, and does not fail, where VS Code cannot be downloaded. The download
 * goes through a proxy on 127.0.0.1 that closes every connection, so the test sends nothing off this machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const RUNNER = path.join(__dirname, 'run.ts');
/** The skip has to be quick enough for `npm test`. */
const MAX_SKIP_MS = 60_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

function runRunner(env: NodeJS.ProcessEnv): Promise<Outcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 2 * MAX_SKIP_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, elapsedMs: Date.now() - started }));
  });
}

test('test:electron skips when offline', async () => {
  const connections: Socket[] = [];
  const proxy = createServer((socket) => {
    connections.push(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // An empty cache, so that test-electron cannot fall back to a VS Code downloaded earlier.
  const cache = await mkdtemp(path.join(os.tmpdir(), 'specexit-vscode-cache-'));

  try {
    const outcome = await runRunner({
      ...process.env,
      npm_config_https_proxy: proxyUrl,
      npm_config_proxy: proxyUrl,
      SPECEXIT_VSCODE_TEST_CACHE: cache,
      SPECEXIT_VSCODE_DOWNLOAD_TIMEOUT_MS: '10000',
      NODE_TEST_CONTEXT: undefined,
    });
    const output = `${outcome.stdout}\n${outcome.stderr}`;
    assert.equal(outcome.code, 0, `the runner failed instead of skipping:\n${output}`);
    assert.match(outcome.stdout, /test:electron skipped: VS Code stable could not be downloaded/, output);
    assert.ok(connections.length > 0, 'the runner never tried the download through the proxy');
    assert.ok(outcome.elapsedMs < MAX_SKIP_MS, `the skip took ${outcome.elapsedMs} ms, over ${MAX_SKIP_MS} ms`);
  } finally {
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    await rm(cache, { recursive: true, force: true });
  }
});
