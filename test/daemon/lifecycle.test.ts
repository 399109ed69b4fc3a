/** Daemon processes: hand-over, crash and restart, stale sockets, idle exit, the CLI, and model errors. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { ResponseError } from 'vscode-jsonrpc';

import { ensurePrivateDir } from '../../daemon/paths.ts';
import { SpecExitErrorCodes, type ModelFileMissingData } from '../../daemon/protocol.ts';
import { isDaemonListening } from '../../daemon/transport/socket.ts';
import { getFixtures } from '../engine/helpers.ts';
import { connectClient, exitOf, fixtureModel, killSpawned, makeTempDir, spawnCli, startDaemon, writeFixtureConfig } from './helpers.ts';

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function collectOutput(child: import('node:child_process').ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { text: () => text };
}

function collectStreams(child: import('node:child_process').ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { stdout: () => stdout, stderr: () => stderr };
}

/** Returns the `error` of the last stdout line, which `--json` prints as `{"type": "error", "error": {...}}`. */
function parseErrorLine(stdout: string): { code: string; message: string; rpcCode?: number } {
  const last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { type: string; error: { code: string; message: string; rpcCode?: number } };
  assert.equal(last.type, 'error', stdout);
  return last.error;
}

describe('daemon processes', () => {
  const temp = makeTempDir();
  after(() => {
    killSpawned();
    temp.remove();
  });

  test('second daemon hands over', async () => {
    const socketPath = path.join(temp.dir, 'handover.sock');
    const env = { SPECEXIT_CONFIG: await writeFixtureConfig(temp.dir), SPECEXIT_SOCKET: socketPath };
    const first = spawnCli(['serve'], env);
    const firstOutput = collectOutput(first);
    await waitFor(() => isDaemonListening(socketPath), 15_000, `the first daemon listens\n${firstOutput.text()}`);

    const second = spawnCli(['serve'], env);
    const secondOutput = collectOutput(second);
    assert.equal(await exitOf(second), 0, secondOutput.text());
    assert.match(secondOutput.text(), /already listens on the socket; handing over/);
    assert.ok(await isDaemonListening(socketPath), 'the first daemon still serves');

    first.kill('SIGTERM');
    assert.equal(await exitOf(first), 0, firstOutput.text());
    assert.equal(existsSync(socketPath), false, 'a clean stop removes the socket');
  });

  test('crash mid-request, then restart', async () => {
    const socketPath = path.join(temp.dir, 'crash.sock');
    const env = { SPECEXIT_CONFIG: await writeFixtureConfig(temp.dir, { contextSize: 4096 }), SPECEXIT_SOCKET: socketPath };
    const daemon = spawnCli(['serve'], env);
    const output = collectOutput(daemon);
    await waitFor(() => isDaemonListening(socketPath), 15_000, `the daemon listens\n${output.text()}`);

    const { client, socket } = await connectClient(socketPath);
    const asked = client.ask({ question: 'long', options: { maxTokens: 3500 } }, { delta: () => daemon.kill('SIGKILL') });
    await assert.rejects(asked, /disposed|closed/);
    await exitOf(daemon);
    socket.destroy();
    assert.ok(existsSync(socketPath), 'SIGKILL leaves a stale socket file');

    const restarted = spawnCli(['serve'], env);
    const restartedOutput = collectOutput(restarted);
    await waitFor(() => isDaemonListening(socketPath), 15_000, `the restarted daemon listens\n${restartedOutput.text()}`);
    const again = await connectClient(socketPath);
    const result = await again.client.ask({ question: 'again', options: { maxTokens: 6 } });
    assert.equal(result.finishReason, 'max_tokens');
    await again.client.stopDaemon();
    assert.equal(await exitOf(restarted), 0, restartedOutput.text());
  });

  test('cli ask starts a daemon and streams', async () => {
    const socketPath = path.join(temp.dir, 'cli.sock');
    const env = { SPECEXIT_CONFIG: await writeFixtureConfig(temp.dir), SPECEXIT_SOCKET: socketPath, NO_COLOR: '1' };
    const ask = spawnCli(['ask', 'What does print(2) print?', '--max-tokens', '120', '--budget', '8', '--mode', 'specexit'], env);
    const output = collectOutput(ask);
    assert.equal(await exitOf(ask), 0, output.text());
    const text = output.text();
    assert.match(text, /^Thinking$/m);
    assert.match(text, /-- thinking cut at token \d+ \(budget\): thinking budget spent --/);
    assert.match(text, /^Answer$/m);
    assert.match(text, /time to answer [\d.]+ s \| [\d.]+ tokens\/s \| \d+ thinking \+ \d+ answer tokens/);
    assert.ok(await isDaemonListening(socketPath), 'the daemon stays for the next ask');

    const json = spawnCli(['ask', 'again', '--max-tokens', '6', '--json'], env);
    const jsonOutput = collectOutput(json);
    assert.equal(await exitOf(json), 0, jsonOutput.text());
    const lines = jsonOutput.text().trim().split('\n').map((line) => JSON.parse(line) as { type: string; finishReason?: string });
    assert.equal(lines.at(-1)?.type, 'result');
    assert.equal(lines.at(-1)?.finishReason, 'max_tokens');
    assert.ok(lines.some((line) => line.type === 'delta'));

    const status = spawnCli(['status', '--json'], env);
    const statusOutput = collectOutput(status);
    assert.equal(await exitOf(status), 0, statusOutput.text());
    assert.equal((JSON.parse(statusOutput.text()) as { modelLoads: number }).modelLoads, 1);

    // A target with the GGUF magic that the engine rejects fails in the daemon, which names the file and the flag.
    const truncated = path.join(temp.dir, 'truncated.gguf');
    writeFileSync(truncated, Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.from('cut short')]));
    const invalid = spawnCli(['ask', 'q', '--target', truncated, '--json'], env);
    const invalidOutput = collectStreams(invalid);
    assert.equal(await exitOf(invalid), 1, invalidOutput.stderr());
    const error = parseErrorLine(invalidOutput.stdout());
    assert.equal(error.code, 'modelInvalid');
    assert.equal(error.rpcCode, 1002);
    assert.match(error.message, /target model .*truncated\.gguf: not a valid GGUF file.*; fix the --target or --draft flag$/);
    assert.doesNotMatch(error.message, /specexit\.models/);

    const unknown = spawnCli(['ask', 'q', '--model', 'nope'], env);
    const unknownOutput = collectStreams(unknown);
    assert.equal(await exitOf(unknown), 1, unknownOutput.stderr());
    assert.match(unknownOutput.stderr(), /^error: no model named "nope" is registered/m, 'without --json an error stays on stderr');
    assert.equal(unknownOutput.stdout(), '');

    const stop = spawnCli(['stop'], env);
    const stopOutput = collectOutput(stop);
    assert.equal(await exitOf(stop), 0, stopOutput.text());
    await waitFor(async () => !(await isDaemonListening(socketPath)), 5000, 'the daemon stops');
  });

  test('cli rejects bad flags', async () => {
    const notGguf = path.join(temp.dir, 'notes.gguf');
    writeFileSync(notGguf, 'not a model\n');
    const missingConfig = path.join(temp.dir, 'no-such-config.json');
    const cases: [string[], RegExp][] = [
      [['ask', 'q', '--context-size', '512'], /--context-size needs --target/],
      [['serve', '--context-size', '512'], /--context-size needs --target/],
      [['ask', 'q', '--target', notGguf], /--target .*notes\.gguf is not a GGUF file \(it starts with the bytes 6e 6f 74 20, not with "GGUF"\); fix the --target path/],
      [['ask', 'q', '--target', notGguf.replace('notes', 'absent')], /cannot read --target .*absent\.gguf: file not found; fix the --target path/],
      [['ask', 'q', '--target', (await getFixtures()).target, '--draft', notGguf.replace('notes', 'absent')], /cannot read --draft .*absent\.gguf: file not found; fix the --draft path/],
      [['serve', '--target', '/nope.gguf'], /cannot read --target \/nope\.gguf: file not found; fix the --target path/],
      [['serve', '--config', missingConfig], /--config .*no-such-config\.json: file not found; fix the --config path/],
      [['ask', 'q', '--config', missingConfig], /--config .*no-such-config\.json: file not found/],
      [['ask', 'q', '--mode', 'fast'], /--mode to be one of vanilla, eagle3, specexit, probe/],
      [['ask', 'q', '--lines', '3-1', '--file', 'package.json'], /--lines to be A-B/],
      [['ask', 'q', '--file', 'no/such/file.py'], /cannot read --file no\/such\/file.py: file not found/],
      [['ask'], /ask needs a question/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['ask', 'q', '--no-such-flag'], /Unknown option '--no-such-flag'/],
    ];
    for (const [args, pattern] of cases) {
      const child = spawnCli(args, { SPECEXIT_SOCKET: path.join(temp.dir, 'unused.sock') });
      const output = collectOutput(child);
      assert.equal(await exitOf(child), 2, `${args.join(' ')}: ${output.text()}`);
      assert.match(output.text(), pattern);
    }
  });

  test('cli --json errors are JSON lines', async () => {
    const cases: [string[], string, RegExp][] = [
      [['ask', 'q', '--json', '--mode', 'fast'], 'usage', /Expected --mode to be one of/],
      [['ask', 'q', '--json', '--no-such-flag'], 'usage', /Unknown option '--no-such-flag'/],
      [['ask', 'q', '--json', '--config', path.join(temp.dir, 'absent.json')], 'config', /absent\.json: file not found/],
      [['status', '--json'], 'usage', /no daemon is running/],
    ];
    for (const [args, code, pattern] of cases) {
      const child = spawnCli(args, { SPECEXIT_SOCKET: path.join(temp.dir, 'unused.sock') });
      const output = collectStreams(child);
      assert.equal(await exitOf(child), 2, `${args.join(' ')}: ${output.stderr()}`);
      assert.equal(output.stderr(), '', args.join(' '));
      const error = parseErrorLine(output.stdout());
      assert.equal(error.code, code, args.join(' '));
      assert.match(error.message, pattern);
    }
  });

  test('auto-started daemon reports a bad config', async () => {
    const configFile = path.join(temp.dir, 'broken-config.json');
    writeFileSync(configFile, '{ "threads": 0 }');
    const socketPath = path.join(temp.dir, 'broken.sock');
    const ask = spawnCli(['ask', 'q'], { SPECEXIT_CONFIG: configFile, SPECEXIT_SOCKET: socketPath });
    const output = collectOutput(ask);
    assert.equal(await exitOf(ask), 1, output.text());
    assert.match(output.text(), /the daemon stopped during startup \(exit code 2\): invalid config file .*broken-config\.json: Expected `threads` to be a positive integer, got 0; its log is /);
  });

  test('idle daemon exits', async () => {
    const dir = path.join(temp.dir, 'idle');
    mkdirSync(dir);
    const daemon = await startDaemon(dir, { idleTimeoutMs: 300 });
    const { client, socket } = await connectClient(daemon.socketPath);
    await client.status();
    await client.close();
    socket.destroy();
    const started = Date.now();
    await daemon.stopped;
    assert.ok(Date.now() - started < 5000);
    assert.ok(daemon.logLines.some((line) => line.includes('no client and no work')));
    assert.equal(existsSync(daemon.socketPath), false);
  });

  test('runtime folder must be private', () => {
    const dir = path.join(temp.dir, 'open');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    assert.throws(() => ensurePrivateDir(dir), /open to other users \(mode 755\)/);
    chmodSync(dir, 0o700);
    assert.doesNotThrow(() => ensurePrivateDir(dir));
  });
});

describe('model errors', () => {
  const temp = makeTempDir();
  after(() => temp.remove());

  test('missing embedded model', async () => {
    const dir = path.join(temp.dir, 'embedded');
    mkdirSync(dir);
    const embedded = { name: 'embedded', target: path.join(dir, 'models', 'pytrace-target.gguf'), draft: path.join(dir, 'models', 'pytrace-draft.gguf') };
    const daemon = await startDaemon(dir, { models: [], defaultModel: undefined }, { embedded });
    const { client, socket } = await connectClient(daemon.socketPath);
    await assert.rejects(client.ask({ question: 'q' }), (error: ResponseError<ModelFileMissingData>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelFileMissing);
      assert.match(error.message, /embedded model's target file .*pytrace-target\.gguf does not exist/);
      assert.match(error.message, /training\/README\.md/);
      assert.equal(error.data?.role, 'target');
      assert.equal(error.data?.path, embedded.target);
      return true;
    });
    const models = await client.models();
    assert.equal(models.defaultModel, 'embedded');
    assert.deepEqual(models.models[0]?.modes, []);
    await assert.rejects(client.ask({ question: 'q', options: { model: 'nope' } }), (error: ResponseError<unknown>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelNotFound);
      assert.match(error.message, /no model named "nope"/);
      return true;
    });
    await client.close();
    socket.destroy();
    await daemon.close();
  });

  test('cli model errors name the flags', async () => {
    const dir = path.join(temp.dir, 'cli');
    mkdirSync(dir);
    const commandLineModel = await fixtureModel({ name: 'cli-missing', target: path.join(dir, 'missing.gguf') });
    const daemon = await startDaemon(dir, { models: [], defaultModel: 'cli-missing', commandLineModel });
    const { client, socket } = await connectClient(daemon.socketPath);
    assert.equal((await client.models()).models.find((model) => model.name === 'cli-missing')?.source, 'cli');
    await assert.rejects(client.ask({ question: 'q' }), (error: ResponseError<ModelFileMissingData>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelFileMissing);
      assert.match(error.message, /target file .*missing\.gguf of model "cli-missing" does not exist; fix the --target flag$/);
      return true;
    });

    const missingDraft = await fixtureModel({ name: 'cli-no-draft', draft: path.join(dir, 'missing-draft.gguf') });
    await assert.rejects(client.loadModel({ spec: missingDraft, source: 'cli' }), (error: ResponseError<unknown>) => {
      assert.match(error.message, /draft file .*missing-draft\.gguf of model "cli-no-draft" does not exist; fix the --draft flag$/);
      return true;
    });

    const notGguf = path.join(dir, 'notes.gguf');
    writeFileSync(notGguf, 'not a model\n');
    await assert.rejects(client.loadModel({ spec: await fixtureModel({ name: 'cli-notes', target: notGguf }), source: 'cli' }), (error: ResponseError<unknown>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelInvalid);
      assert.match(error.message, /notes\.gguf: not a valid GGUF file.*; fix the --target or --draft flag$/);
      assert.doesNotMatch(error.message, /specexit\.models/);
      return true;
    });

    const { draftWrongHidden } = await getFixtures();
    await client.loadModel({ spec: await fixtureModel({ name: 'cli-wrong-draft', draft: draftWrongHidden }), source: 'cli' });
    const notices: string[] = [];
    await client.ask({ question: 'q', options: { model: 'cli-wrong-draft', mode: 'eagle3', maxTokens: 2 } }, { notice: (event) => notices.push(event.message) });
    assert.match(notices[0] ?? '', /its draft failed to load \(.+; fix the --draft flag\)/);

    await assert.rejects(client.loadModel({ model: 'cli-missing', source: 'shell' as 'cli' }), /Expected `source` to be "cli" or "client", got "shell"/);
    await client.close();
    socket.destroy();
    await daemon.close();
  });

  test('missing sidecar falls back to eagle3', async () => {
    const dir = path.join(temp.dir, 'sidecar');
    mkdirSync(dir);
    const model = await fixtureModel({ name: 'nosignals', signals: path.join(dir, 'missing.safetensors') });
    const daemon = await startDaemon(dir, { models: [model], defaultModel: 'nosignals' });
    const { client, socket } = await connectClient(daemon.socketPath);
    const notices: string[] = [];
    const result = await client.ask({ question: 'q', options: { mode: 'specexit', maxTokens: 8 } }, { notice: (event) => notices.push(event.message) });
    assert.equal(result.mode, 'eagle3');
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /signal sidecar .*missing\.safetensors is missing; running as eagle3/);

    const spec = await fixtureModel({ name: 'bad-draft', draft: path.join(dir, 'no-draft.gguf') });
    await assert.rejects(client.loadModel({ spec }), (error: ResponseError<ModelFileMissingData>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelFileMissing);
      assert.match(error.message, /draft file .*no-draft\.gguf of model "bad-draft" does not exist/);
      return true;
    });
    const invalid = await fixtureModel({ name: 'not-gguf', target: path.join(dir, '..', 'sidecar') });
    await assert.rejects(client.loadModel({ spec: invalid }), (error: ResponseError<unknown>) => {
      assert.equal(error.code, SpecExitErrorCodes.modelInvalid);
      assert.match(error.message, /loading model "not-gguf" failed/);
      return true;
    });
    assert.equal((await client.status()).state, 'error');

    const { draftWrongHidden } = await getFixtures();
    const wrongDraft = await fixtureModel({ name: 'wrong-draft', draft: draftWrongHidden });
    await client.loadModel({ spec: wrongDraft });
    const fallbackNotices: string[] = [];
    const fallback = await client.ask(
      { question: 'q', options: { model: 'wrong-draft', mode: 'eagle3', maxTokens: 4 } },
      { notice: (event) => fallbackNotices.push(event.message) },
    );
    assert.equal(fallback.mode, 'vanilla', 'a draft that fails to load leaves the target usable');
    assert.match(fallbackNotices[0] ?? '', /runs mode eagle3 as vanilla .* because its draft failed to load \(.+\)/);

    const badSidecar = await fixtureModel({ name: 'bad-sidecar', signals: (await getFixtures()).signalsWrongShape });
    await client.loadModel({ spec: badSidecar });
    const sidecarNotices: string[] = [];
    const kept = await client.ask(
      { question: 'q', options: { model: 'bad-sidecar', mode: 'specexit', maxTokens: 4 } },
      { notice: (event) => sidecarNotices.push(event.message) },
    );
    assert.equal(kept.mode, 'eagle3', 'a sidecar that fails to load leaves the draft usable');
    assert.match(sidecarNotices[0] ?? '', /cannot exit early because its signal sidecar failed to load \(.+\); running as eagle3/);
    const recovered = await client.ask({ question: 'q', options: { maxTokens: 4 } });
    assert.equal(recovered.finishReason, 'max_tokens', 'a failed load leaves the daemon usable');
    await client.close();
    socket.destroy();
    await daemon.close();
  });
});
