/** One daemon shared by several clients: one model load, FIFO order, cancellation and disconnects. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ResponseError } from 'vscode-jsonrpc';

import { CancellationTokenSource, type DaemonClient } from '../../daemon/client/daemon-client.ts';
import type { AskResult, LoadProgressParams, QueuePositionParams } from '../../daemon/protocol.ts';
import { connectClient, makeTempDir, startDaemon, type TestDaemon } from './helpers.ts';

const CANCELLED = -32800;

describe('shared daemon scheduling', () => {
  const temp = makeTempDir();
  let daemon: TestDaemon;
  const clients: { client: DaemonClient; socket: import('node:net').Socket }[] = [];

  before(async () => {
    // A context of 4096 tokens lets the cancellation tests start long generations.
    daemon = await startDaemon(temp.dir, { contextSize: 4096 });
    daemon.daemon.registry.register({ ...daemon.daemon.registry.get('fixture').spec, contextSize: 4096 }, 'config');
    for (let index = 0; index < 5; index++) clients.push(await connectClient(daemon.socketPath, `client-${index}`));
  });
  after(async () => {
    for (const { client, socket } of clients) {
      await client.close();
      socket.destroy();
    }
    await daemon.close();
    temp.remove();
  });

  test('two clients share one model load', async () => {
    const loads: LoadProgressParams[][] = [[], []];
    clients[0]!.client.onLoadProgress((event) => loads[0]!.push(event));
    clients[1]!.client.onLoadProgress((event) => loads[1]!.push(event));
    const [first, second] = await Promise.all([
      clients[0]!.client.ask({ question: 'first', options: { maxTokens: 16 } }),
      clients[1]!.client.ask({ question: 'second', options: { maxTokens: 16 } }),
    ]);
    assert.equal(first.finishReason, 'max_tokens');
    assert.equal(second.finishReason, 'max_tokens');
    const status = await clients[2]!.client.status();
    assert.equal(status.modelLoads, 1);
    assert.equal(status.clients, 5);
    for (const events of loads) {
      assert.deepEqual(events.map((event) => event.kind), ['begin', 'end'], 'every client sees the one load');
    }
  });

  test('cancel stops a running ask within one step', async () => {
    const { client } = clients[0]!;
    const source = new CancellationTokenSource();
    let cancelledAt = 0;
    let deltasAfterCancel = 0;
    const asked = client.ask(
      { question: 'long', options: { maxTokens: 3500, mode: 'eagle3' } },
      {
        delta: () => {
          if (cancelledAt) {
            deltasAfterCancel++;
          } else {
            cancelledAt = performance.now();
            source.cancel();
          }
        },
      },
      source.token,
    );

    const error = await asked.then(
      () => assert.fail('the cancelled ask must fail'),
      (reason: unknown) => reason as ResponseError<AskResult>,
    );
    const latencyMs = performance.now() - cancelledAt;
    assert.ok(error instanceof ResponseError);
    assert.equal(error.code, CANCELLED);
    assert.ok(latencyMs < 2000, `the ask ended ${latencyMs.toFixed(0)} ms after cancel`);
    const partial = error.data as AskResult | undefined;
    assert.ok(partial, 'the error carries the partial result');
    assert.equal(partial.finishReason, 'aborted');
    assert.ok(partial.stats.generatedTokens < 1000, `generated ${partial.stats.generatedTokens} tokens before stopping`);
    // Events already queued when cancel arrived may still come; a handful of steps at most.
    assert.ok(deltasAfterCancel < 50, `${deltasAfterCancel} deltas after cancel`);
    const after = await client.ask({ question: 'next', options: { maxTokens: 4 } });
    assert.equal(after.finishReason, 'max_tokens', 'the engine is free again');
  });

  test('cancel removes a queued ask', async () => {
    const blocker = new CancellationTokenSource();
    const running = clients[0]!.client.ask({ question: 'blocker', options: { maxTokens: 3500 } }, {}, blocker.token).catch((error: unknown) => error);
    const queuedSource = new CancellationTokenSource();
    const positions: QueuePositionParams[] = [];
    const queued = clients[1]!.client.ask(
      { question: 'queued', options: { maxTokens: 4 } },
      {
        queuePosition: (event) => {
          positions.push(event);
          if (event.position > 0) queuedSource.cancel();
        },
      },
      queuedSource.token,
    );
    await assert.rejects(queued, (error: ResponseError<unknown>) => error.code === CANCELLED);
    assert.equal(positions[0]?.position, 1);
    assert.ok(positions.every((event) => event.position > 0), 'the cancelled ask never ran');
    blocker.cancel();
    const blockerError = (await running) as ResponseError<unknown>;
    assert.equal(blockerError.code, CANCELLED);
  });

  test('disconnect cancels the client asks', async () => {
    const leaving = await connectClient(daemon.socketPath, 'leaving');
    const pending = leaving.client.ask({ question: 'never mind', options: { maxTokens: 3500 } }, {
      delta: () => leaving.socket.destroy(),
    });
    await assert.rejects(pending);
    const started = performance.now();
    const next = await clients[2]!.client.ask({ question: 'after disconnect', options: { maxTokens: 4 } });
    assert.equal(next.finishReason, 'max_tokens');
    assert.ok(performance.now() - started < 3000, 'the disconnected client no longer holds the engine');
    assert.ok(daemon.logLines.some((line) => /client disconnected .*client=leaving .*cancelledJobs=1/.test(line)), daemon.logLines.filter((line) => line.includes('disconnected')).join('\n'));
  });

  test('50 asks from 5 clients run in order', async () => {
    // Record the order in which the daemon's queue starts jobs. Notifications cannot show it, because each
    // client has its own socket and arrival order across sockets is not defined.
    const { scheduler } = daemon.daemon;
    const submit = scheduler.submit.bind(scheduler);
    const startOrder: number[] = [];
    let submittedJobs = 0;
    scheduler.submit = (job) => {
      const index = submittedJobs++;
      const run = (signal: AbortSignal) => {
        startOrder.push(index);
        return job.run(signal);
      };
      return submit({ ...job, run });
    };
    const order: string[] = [];
    const submitted: string[] = [];
    const asks: Promise<{ result: AskResult; text: string; askId: string }>[] = [];
    for (let index = 0; index < 50; index++) {
      const { client } = clients[index % 5]!;
      const askId = `load-${index}`;
      let text = '';
      let enqueued!: () => void;
      const isEnqueued = new Promise<void>((resolve) => {
        enqueued = resolve;
      });
      asks.push(
        client
          .ask(
            { askId, question: `question ${index}`, options: { maxTokens: 8 + (index % 7), mode: index % 2 === 0 ? 'specexit' : 'vanilla' } },
            {
              queuePosition: (event) => {
                enqueued();
                if (event.position === 0) order.push(event.askId);
              },
              delta: (event) => {
                text += event.text;
              },
            },
          )
          .then((result) => ({ result, text, askId })),
      );
      // The next ask is sent once the daemon has queued this one, so the submission order is known.
      await isEnqueued;
      submitted.push(askId);
    }
    const results = await Promise.all(asks);
    assert.equal(results.length, 50);
    for (const [index, { result, text, askId }] of results.entries()) {
      assert.equal(result.askId, askId);
      assert.equal(result.finishReason, 'max_tokens', askId);
      assert.equal(result.stats.generatedTokens, 8 + (index % 7), askId);
      assert.equal(result.thinking + result.answer, text, `no delta of ${askId} was lost`);
    }
    scheduler.submit = submit;
    assert.deepEqual(startOrder, [...startOrder].sort((a, b) => a - b), 'the queue started jobs in submission order');
    assert.equal(startOrder.length, 50);
    for (let client = 0; client < 5; client++) {
      const ofClient = (askId: string) => Number(askId.slice('load-'.length)) % 5 === client;
      assert.deepEqual(order.filter(ofClient), submitted.filter(ofClient), `client ${client} saw its asks start in order`);
    }
    assert.equal((await clients[0]!.client.status()).queueLength, 0);
  });
});
