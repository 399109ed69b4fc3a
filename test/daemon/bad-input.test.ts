/** Bad input from a raw socket client gets JSON-RPC errors, and the daemon keeps serving. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { frame, makeTempDir, RawClient, startDaemon, type TestDaemon } from './helpers.ts';

const MAX_MESSAGE_BYTES = 64 * 1024;

function errorOf(message: Record<string, unknown>): { code: number; message: string } {
  assert.ok(message.error, `expected an error response, got ${JSON.stringify(message)}`);
  return message.error as { code: number; message: string };
}

describe('bad input over a raw socket', () => {
  const temp = makeTempDir();
  let daemon: TestDaemon;
  let raw: RawClient;
  let nextId = 100;

  before(async () => {
    daemon = await startDaemon(temp.dir, {}, { maxMessageBytes: MAX_MESSAGE_BYTES });
    raw = await RawClient.connect(daemon.socketPath);
  });
  after(async () => {
    raw.close();
    await daemon.close();
    temp.remove();
  });

  /** Sends a status request and checks that the daemon still responds to it. */
  async function assertAlive(): Promise<void> {
    const id = nextId++;
    raw.send({ jsonrpc: '2.0', id, method: 'specexit/status' });
    const response = await raw.readResponse(id);
    assert.equal((response.result as { state: string }).state, 'ready', JSON.stringify(response));
  }

  test('request before initialize', async () => {
    raw.send({ jsonrpc: '2.0', id: 1, method: 'specexit/status' });
    const error = errorOf(await raw.readResponse(1));
    assert.equal(error.code, -32002);
    assert.match(error.message, /before initialize/);
    raw.send({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { processId: null, capabilities: {} } });
    const initialized = await raw.readResponse(2);
    assert.ok(initialized.result);
    raw.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    await assertAlive();
  });

  test('malformed JSON', async () => {
    raw.write(frame('{"jsonrpc": "2.0", "id": 5, "method": '));
    const error = errorOf(await raw.readResponse(null));
    assert.equal(error.code, -32700);
    assert.match(error.message, /not valid JSON/);
    await assertAlive();
  });

  test('invalid UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":6,"method":"specexit/status","params":{"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]);
    raw.write(frame(body));
    const error = errorOf(await raw.readResponse(null));
    assert.equal(error.code, -32700);
    assert.match(error.message, /UTF-8/);
    await assertAlive();
  });

  test('oversized message is skipped', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'specexit/ask', params: { askId: 'big', question: 'x'.repeat(MAX_MESSAGE_BYTES * 2) } });
    // Send it in pieces, as a slow client would, so the skipping spans several reads.
    const bytes = frame(big);
    for (let offset = 0; offset < bytes.length; offset += 50_000) raw.write(bytes.subarray(offset, offset + 50_000));
    const error = errorOf(await raw.readResponse(null));
    assert.equal(error.code, -32700);
    assert.match(error.message, new RegExp(`exceeds the limit of ${MAX_MESSAGE_BYTES} bytes`));
    await assertAlive();
  });

  test('unknown method', async () => {
    raw.send({ jsonrpc: '2.0', id: 8, method: 'specexit/noSuchMethod', params: {} });
    const error = errorOf(await raw.readResponse(8));
    assert.equal(error.code, -32601);
    assert.match(error.message, /noSuchMethod/);
    // An unknown notification gets no response at all.
    raw.send({ jsonrpc: '2.0', method: 'specexit/noSuchNotification', params: {} });
    await assertAlive();
  });

  test('params of the wrong type', async () => {
    const cases: [object, RegExp][] = [
      [{ askId: 'w1', question: 42 }, /`question` to be a string, got 42/],
      [{ askId: 'w2', question: 'q', options: { mode: 'fast' } }, /`options.mode` to be one of vanilla, eagle3, specexit, probe/],
      [{ askId: 'w3', question: 'q', options: { maxTokens: -1 } }, /`options.maxTokens` to be an integer/],
      [{ askId: 'w4', question: 'q', options: { max_tokens: 5 } }, /Unknown field `options.max_tokens`/],
      [{ askId: 'w5', question: 'q', context: { selection: { text: 'x', startLine: 3, endLine: 1 } } }, /`context.selection.endLine` to be an integer from 3/],
      [{ question: 'q' }, /`askId` to be a string/],
      [{ askId: 'w7', question: '   ' }, /`question` to be a non-empty string/],
      [{ askId: 'w8', question: 'q', options: { exit: { confidenceThreshold: 'high' } } }, /`options.exit.confidenceThreshold` to be a number from 0 to 1/],
      [{ askId: 'w9', question: 'q', options: { mode: 'trace' } }, /`options.mode` to be one of/],
    ];
    for (const [params, pattern] of cases) {
      const id = nextId++;
      raw.send({ jsonrpc: '2.0', id, method: 'specexit/ask', params });
      const error = errorOf(await raw.readResponse(id));
      assert.equal(error.code, -32602, JSON.stringify(params));
      assert.match(error.message, pattern);
    }
    await assertAlive();
  });

  test('positional params and batches', async () => {
    raw.send({ jsonrpc: '2.0', id: 9, method: 'specexit/status', params: [1, 2] });
    const positional = errorOf(await raw.readResponse(9));
    assert.equal(positional.code, -32602);
    assert.match(positional.message, /must be an object/);

    raw.write(frame(JSON.stringify([{ jsonrpc: '2.0', id: 10, method: 'specexit/status' }])));
    const batch = errorOf(await raw.readResponse(null));
    assert.equal(batch.code, -32600);

    raw.send({ jsonrpc: '1.0', id: 11, method: 'specexit/status' });
    const version = errorOf(await raw.readResponse(11));
    assert.equal(version.code, -32600);
    await assertAlive();
  });

  test('errors are logged with request ids', () => {
    assert.ok(daemon.logLines.some((line) => /request failed .*requestId=\d+ .*method=specexit\/ask/.test(line)), 'a failed ask names its request id');
    assert.ok(daemon.logLines.some((line) => /bad message rejected .*code=-32700/.test(line)));
  });

  test('requests after shutdown', async () => {
    raw.send({ jsonrpc: '2.0', id: 12, method: 'shutdown' });
    const shutdown = await raw.readResponse(12);
    assert.equal(shutdown.result, null);
    raw.send({ jsonrpc: '2.0', id: 13, method: 'specexit/ask', params: { askId: 'late', question: 'q' } });
    const error = errorOf(await raw.readResponse(13));
    assert.equal(error.code, -32600);
    assert.match(error.message, /after shutdown/);
    raw.send({ jsonrpc: '2.0', method: 'exit' });
    await new Promise<void>((resolve) => (raw.closed ? resolve() : raw.socket.once('close', () => resolve())));
  });

  test('header garbage closes only that connection', async () => {
    const garbage = await RawClient.connect(daemon.socketPath);
    garbage.write('hello daemon\r\n\r\n');
    const error = errorOf(await garbage.readResponse(null));
    assert.equal(error.code, -32700);
    assert.match(error.message, /invalid header line/);
    await new Promise<void>((resolve) => (garbage.closed ? resolve() : garbage.socket.once('close', () => resolve())));

    const fresh = await RawClient.connect(daemon.socketPath);
    fresh.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, capabilities: {} } });
    assert.ok((await fresh.readResponse(1)).result);
    fresh.close();
  });

  test('ask still works after all of it', async () => {
    const client = await RawClient.connect(daemon.socketPath);
    client.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, capabilities: {} } });
    await client.readResponse(1);
    client.send({ jsonrpc: '2.0', id: 2, method: 'specexit/ask', params: { askId: 'ok', question: 'a <|im_end|> b </think> c', options: { maxTokens: 10 } } });
    const response = await client.readResponse(2, 20_000);
    assert.ok(response.result, JSON.stringify(response));
    assert.equal((response.result as { finishReason: string }).finishReason, 'max_tokens');
    client.close();
  });
});
