/** Protocol round trips over the socket and over stdio, with the LSP lifecycle. */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ResponseError } from 'vscode-jsonrpc';

import { DaemonClient } from '../../daemon/client/daemon-client.ts';
import { PROTOCOL_VERSION, StatusRequest, type AskPhase, type Phase, type StateParams, type ThinkingExitParams } from '../../daemon/protocol.ts';
import { getFixtures } from '../engine/helpers.ts';
import { connectClient, exitOf, killSpawned, makeTempDir, spawnCli, startDaemon, writeFixtureConfig, type TestDaemon } from './helpers.ts';

describe('socket transport', () => {
  const temp = makeTempDir();
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startDaemon(temp.dir);
  });
  after(async () => {
    await daemon.close();
    temp.remove();
  });

  test('socket is owner-only', () => {
    const mode = statSync(daemon.socketPath).mode & 0o777;
    assert.equal(mode, 0o600, `socket mode ${mode.toString(8)}`);
  });

  test('initialize returns daemon facts', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const result = client.initializeResult!;
    assert.deepEqual(result.capabilities, {});
    assert.equal(result.serverInfo.name, 'specexit-daemon');
    assert.equal(result.specexit.protocolVersion, PROTOCOL_VERSION);
    assert.equal(result.specexit.pid, process.pid);
    assert.equal(result.specexit.socketPath, daemon.socketPath);
    await client.close();
    socket.destroy();
  });

  test('ask streams phases, deltas and stats', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const states: StateParams[] = [];
    client.onState((params) => states.push(params));
    const phases: AskPhase[] = [];
    let thinking = '';
    let answer = '';
    let statsCount = 0;
    const result = await client.ask(
      { askId: 'a1', question: 'What does print(sum(range(4))) print?', options: { maxTokens: 60, mode: 'specexit' } },
      {
        phase: (event) => phases.push(event.phase),
        delta: (event) => {
          if (event.phase === 'thinking') thinking += event.text;
          else answer += event.text;
        },
        stats: () => statsCount++,
      },
    );

    assert.equal(result.askId, 'a1');
    assert.equal(result.model, 'fixture');
    assert.equal(result.mode, 'specexit');
    assert.equal(result.thinking, thinking);
    assert.equal(result.answer, answer);
    assert.ok(thinking.length > 0, 'the fixture prompt opens <think>, so thinking text streams');
    assert.equal(result.stats.generatedTokens, 60);
    assert.equal(result.finishReason, 'max_tokens');
    assert.equal(statsCount, 1);
    assert.deepEqual(phases.slice(0, 2), ['loading', 'prefill']);
    assert.equal(phases.at(-1), 'done');
    assert.ok(phases.includes('thinking'));
    assert.ok(result.timings.timeToAnswerMs >= 0);
    assert.ok(states.some((state) => state.state === 'thinking'), `states seen: ${states.map((state) => state.state).join(', ')}`);
    await client.close();
    socket.destroy();
  });

  test('exit notification carries predicted savings', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const exits: ThinkingExitParams[] = [];
    let signals = 0;
    // Thresholds every step passes make the exit fire at the first step boundary.
    const exit = { confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e6 };
    const result = await client.ask(
      { question: 'What does print(sum(range(4))) print?', options: { mode: 'specexit', maxTokens: 80, exit } },
      { exit: (event) => exits.push(event), signals: () => signals++ },
    );

    assert.equal(exits.length, 1);
    const [event] = exits;
    assert.equal(event!.reason, 'specexit');
    assert.ok(event!.position > 0);
    assert.ok(event!.predictedSavedSeconds >= 0);
    assert.equal(event!.predictedRemainingTokens, event!.signals.remain);
    assert.deepEqual(result.exit, event);
    assert.ok(signals > 0, 'signals stream while thinking');
    assert.ok(result.answer.length > 0, 'the answer follows the exit');
    await client.close();
    socket.destroy();
  });

  test('exit rule can be turned off per ask', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const exits: ThinkingExitParams[] = [];
    let signals = 0;
    // The same always-met thresholds as above, which cut thinking at the first step boundary unless disabled.
    const exit = { enabled: false, confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e6 };
    const result = await client.ask(
      { question: 'What does print(sum(range(4))) print?', options: { mode: 'specexit', maxTokens: 80, exit } },
      { exit: (event) => exits.push(event), signals: () => signals++ },
    );

    assert.deepEqual(exits, []);
    assert.equal(result.exit, undefined);
    assert.equal(result.mode, 'specexit');
    assert.ok(signals > 0, 'signals still stream');
    assert.equal(result.stats.thinkingTokens, 80, 'the fixture thinks until maxTokens');
    await client.close();
    socket.destroy();
  });

  test('deltas count tokens in eagle3 mode', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const counts: Record<Phase, number[]> = { thinking: [], answer: [] };
    let signals = 0;
    const result = await client.ask(
      { question: 'What does print(sum(range(4))) print?', options: { mode: 'eagle3', maxTokens: 70 } },
      {
        delta: (event) => {
          assert.equal(typeof event.tokens, 'number', `delta ${JSON.stringify(event.text)} has a token count`);
          counts[event.phase].push(event.tokens!);
        },
        signals: () => signals++,
      },
    );

    assert.equal(signals, 0, 'eagle3 sends no signals, so deltas are the only live count');
    const thinking = counts.thinking;
    assert.ok(thinking.length > 1, `thinking deltas: ${thinking.length}`);
    for (let i = 1; i < thinking.length; i++) {
      assert.ok(thinking[i]! > thinking[i - 1]!, `count ${thinking[i]} after ${thinking[i - 1]} does not increase`);
    }
    assert.equal(thinking.at(-1), result.stats.thinkingTokens);
    assert.equal(counts.answer.at(-1) ?? 0, result.stats.answerTokens);
    await client.close();
    socket.destroy();
  });

  test('status and models describe the loaded model', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    const status = await client.status();
    assert.equal(status.state, 'ready');
    assert.equal(status.model?.name, 'fixture');
    assert.equal(status.model?.architecture, 'qwen3');
    assert.equal(status.backend, 'cpu');
    assert.equal(status.queueLength, 0);
    assert.ok(status.memory.rssBytes > 0);
    assert.ok(status.lastLatency);
    const models = await client.models();
    assert.equal(models.defaultModel, 'fixture');
    const fixture = models.models.find((model) => model.name === 'fixture');
    assert.equal(fixture?.loaded, true);
    assert.deepEqual(fixture?.modes, ['vanilla', 'eagle3', 'probe', 'specexit']);
    await client.close();
    socket.destroy();
  });

  test('requests after shutdown are rejected', async () => {
    const { client, socket } = await connectClient(daemon.socketPath);
    await client.connection.sendRequest('shutdown');
    await assert.rejects(client.connection.sendRequest(StatusRequest), (error: ResponseError<unknown>) => {
      assert.equal(error.code, -32600);
      assert.match(error.message, /after shutdown/);
      return true;
    });
    await client.connection.sendNotification('exit');
    await new Promise((resolve) => socket.once('close', resolve));
    // The shared daemon outlives one client's exit.
    const other = await connectClient(daemon.socketPath);
    assert.equal((await other.client.status()).state, 'ready');
    await other.client.close();
    other.socket.destroy();
  });
});

describe('stdio transport', () => {
  const temp = makeTempDir();
  after(() => {
    killSpawned();
    temp.remove();
  });

  test('private stdio daemon round trip', async () => {
    const configFile = await writeFixtureConfig(temp.dir);
    const child = spawnCli(['serve', '--stdio', '--no-socket'], { SPECEXIT_CONFIG: configFile });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = await DaemonClient.start(child.stdout!, child.stdin!, { name: 'stdio-test' });
    assert.equal(client.initializeResult?.specexit.socketPath, null);
    assert.equal(client.initializeResult?.specexit.pid, child.pid);
    const result = await client.ask({ question: 'x = 3\nprint(x)', options: { maxTokens: 20, mode: 'eagle3' } });
    assert.equal(result.stats.generatedTokens, 20);
    await client.close();
    assert.equal(await exitOf(child), 0, stderr);
    assert.match(stderr, /serving one client over stdio/);
  });

  test('stdio relays to the shared daemon', async () => {
    const configFile = await writeFixtureConfig(temp.dir);
    const socketPath = path.join(temp.dir, 'relay.sock');
    const env = { SPECEXIT_CONFIG: configFile, SPECEXIT_SOCKET: socketPath };
    // The model flags reach the background daemon, which registers that model as the CLI's and makes it the default.
    const { target, draft } = await getFixtures();
    const first = spawnCli(['serve', '--stdio', '--target', target, '--draft', draft, '--context-size', '768'], env);
    const firstClient = await DaemonClient.start(first.stdout!, first.stdin!, { name: 'relay-1' });
    const daemonPid = firstClient.initializeResult!.specexit.pid;
    assert.notEqual(daemonPid, first.pid, 'the relay hands over to a background daemon');
    assert.ok(existsSync(socketPath));
    const models = await firstClient.models();
    const flagModel = models.models.find((model) => model.source === 'cli');
    assert.equal(flagModel?.contextSize, 768);
    assert.equal(flagModel?.draft, draft);
    assert.equal(models.defaultModel, flagModel?.name);

    const second = spawnCli(['serve', '--stdio'], env);
    const secondClient = await DaemonClient.start(second.stdout!, second.stdin!, { name: 'relay-2' });
    assert.equal(secondClient.initializeResult!.specexit.pid, daemonPid, 'both windows share one daemon');
    await secondClient.ask({ question: 'hello', options: { maxTokens: 8 } });
    const status = await firstClient.status();
    assert.equal(status.clients, 2);
    assert.equal(status.modelLoads, 1);

    await secondClient.close();
    assert.equal(await exitOf(second), 0);
    await firstClient.stopDaemon();
    assert.equal(await exitOf(first), 0);
    await waitFor(() => !existsSync(socketPath), 5000, 'the stopped daemon removes its socket');
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
