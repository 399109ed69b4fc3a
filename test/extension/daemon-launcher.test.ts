import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { connectOrStartDaemon } from '../../extension/daemon-launcher.ts';
import { askOptions, readSettings, serveArguments, SETTINGS_MODEL_NAME } from '../../extension/settings.ts';

/** Stands in for bin/specexit.js: `serve --socket S` listens on S and records its arguments and environment. */
const FAKE_CLI = `
const net = require('node:net');
const fs = require('node:fs');
const args = process.argv.slice(2);
const socketPath = args[args.indexOf('--socket') + 1];
fs.writeFileSync(socketPath + '.args', JSON.stringify({ args, electronAsNode: process.env.ELECTRON_RUN_AS_NODE }));
if (process.env.FAKE_DAEMON_FAIL) { console.error('fake daemon failed on purpose'); process.exit(3); }
const server = net.createServer((socket) => {
  socket.end();
  server.close(() => process.exit(0));
});
server.listen(socketPath);
setTimeout(() => process.exit(0), 5000).unref();
`;

describe('daemon launcher', () => {
  let dir: string;
  let cliScript: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-launch-'));
    cliScript = path.join(dir, 'fake-cli.js');
    await writeFile(cliScript, FAKE_CLI);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('connects to a running daemon', async () => {
    const socketPath = path.join(dir, 'running.sock');
    const server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const { socket, started } = await connectOrStartDaemon({ socketPath, logFile: path.join(dir, 'a.log'), nodePath: process.execPath, cliScript, serveArguments: ['serve'] });
      socket.destroy();
      assert.equal(started, false);
    } finally {
      server.close();
    }
  });

  test('starts a daemon when none listens', async () => {
    const socketPath = path.join(dir, 'fresh.sock');
    const settings = readSettings(() => undefined);
    const logFile = path.join(dir, 'fresh.log');
    const { socket, started } = await connectOrStartDaemon({ socketPath, logFile, nodePath: process.execPath, cliScript, serveArguments: serveArguments(settings, socketPath, logFile) });
    socket.destroy();
    assert.equal(started, true);
    const recorded = JSON.parse(await readFile(`${socketPath}.args`, 'utf8')) as { args: string[]; electronAsNode: string };
    assert.deepEqual(recorded.args, ['serve', '--socket', socketPath, '--log-file', logFile, '--log-level', 'info', '--idle-timeout', '600']);
    assert.equal(recorded.electronAsNode, '1');
  });

  test('failed start gives the reason and the log', async () => {
    const socketPath = path.join(dir, 'failing.sock');
    const logFile = path.join(dir, 'failing.log');
    await writeFile(logFile, 'a line from an earlier daemon\n');
    await assert.rejects(
      connectOrStartDaemon({ socketPath, logFile, nodePath: process.execPath, cliScript, serveArguments: ['serve', '--socket', socketPath], env: { ...process.env, FAKE_DAEMON_FAIL: '1' } }),
      (error: Error) => {
        assert.match(error.message, /stopped during startup \(exit code 3\): fake daemon failed on purpose; its log is /);
        assert.ok(error.message.includes(logFile), error.message);
        assert.doesNotMatch(error.message, /earlier daemon/, 'only what this start wrote is quoted');
        return true;
      },
    );
    assert.match(await readFile(logFile, 'utf8'), /fake daemon failed on purpose/);
  });
});

describe('extension settings', () => {
  test('defaults and invalid values', () => {
    const settings = readSettings((key) => ({ mode: 'turbo', 'thinking.budget': -5, 'exit.confidence': 2, logLevel: 'loud' })[key]);
    assert.equal(settings.mode, 'specexit');
    assert.equal(settings.thinkingBudget, 0);
    assert.equal(settings.exitConfidence, undefined);
    assert.equal(settings.logLevel, 'info');
    assert.equal(settings.idleShutdownMinutes, 10);
    assert.deepEqual(askOptions(settings), { mode: 'specexit' });
  });

  test('model paths and budget reach asks', () => {
    const values: Record<string, unknown> = { 'model.targetPath': ' /models/t.gguf ', mode: 'eagle3', 'thinking.budget': 256 };
    const settings = readSettings((key) => values[key]);
    assert.equal(settings.targetPath, '/models/t.gguf');
    assert.deepEqual(askOptions(settings), { mode: 'eagle3', thinkingBudget: 256, model: SETTINGS_MODEL_NAME });
    assert.deepEqual(askOptions(settings, 'picked'), { mode: 'eagle3', thinkingBudget: 256, model: 'picked' });
  });

  test('exit thresholds reach asks', () => {
    const values: Record<string, unknown> = { 'exit.confidence': 0.95, 'exit.progress': 0, 'exit.remain': 50 };
    const settings = readSettings((key) => values[key]);
    assert.deepEqual(askOptions(settings), {
      mode: 'specexit',
      exit: { confidenceThreshold: 0.95, progressThreshold: 0, remainThreshold: 50 },
    });
  });

  test('unset exit thresholds stay unsent', () => {
    const onlyRemain = readSettings((key) => ({ 'exit.confidence': null, 'exit.remain': 120 })[key]);
    assert.deepEqual(askOptions(onlyRemain).exit, { remainThreshold: 120 });
    const none = readSettings((key) => ({ 'exit.confidence': null, 'exit.progress': null, 'exit.remain': null })[key]);
    assert.equal('exit' in askOptions(none), false);
  });

  test('out-of-range exit thresholds are dropped', () => {
    const values: Record<string, unknown> = { 'exit.confidence': 1.5, 'exit.progress': -0.1, 'exit.remain': 2_000_000 };
    const settings = readSettings((key) => values[key]);
    assert.equal(settings.exitConfidence, undefined);
    assert.equal(settings.exitProgress, undefined);
    assert.equal(settings.exitRemain, undefined);
    assert.equal('exit' in askOptions(settings), false);
  });
});
