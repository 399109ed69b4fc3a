import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import { BUDGET_WRAPUP } from '../../daemon/engine/options.ts';
import { chatPrompt, collect, loadFixtureEngine, QUESTIONS } from './helpers.ts';

describe('thinking budget', () => {
  let engine: Engine;
  before(async () => {
    engine = await loadFixtureEngine();
  });
  after(() => engine.dispose());

  for (const mode of ['vanilla', 'eagle3'] as const) {
    test(`budget forces the wrap-up in ${mode}`, async () => {
      const budget = 30;
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode, maxTokens: 120, thinkingBudget: budget, startInThinking: true, reportTokens: true }));
      const wrapup = Array.from(engine.tokenize(BUDGET_WRAPUP));
      assert.equal(run.exits.length, 1);
      assert.equal(run.exits[0]!.reason, 'budget');
      assert.equal(run.exits[0]!.position, budget);
      assert.deepEqual(run.tokens.slice(budget, budget + wrapup.length), wrapup);
      assert.equal(run.tokens[budget + wrapup.length], engine.description.thinkEndToken);
      assert.equal(run.stats.thinkingTokens, budget + wrapup.length);
      assert.ok(run.thinking.endsWith(BUDGET_WRAPUP));
      assert.ok(run.answer.length > 0);
    });
  }
});

describe('thinking budget edges', () => {
  test('budget 0 wraps up before any thinking', async () => {
    const engine = await loadFixtureEngine();
    try {
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: 120, thinkingBudget: 0, startInThinking: true, reportTokens: true }));
      const wrapup = Array.from(engine.tokenize(BUDGET_WRAPUP));
      assert.equal(run.exits[0]?.position, 0);
      assert.deepEqual(run.tokens.slice(0, wrapup.length), wrapup);
      assert.equal(run.tokens[wrapup.length], engine.description.thinkEndToken);
    } finally {
      engine.dispose();
    }
  });

  test('wrap-up longer than the batch', async () => {
    const engine = await loadFixtureEngine({ batchSize: 16 });
    try {
      const wrapup = engine.tokenize(BUDGET_WRAPUP);
      assert.ok(wrapup.length > 16, 'the wrap-up must exceed the batch for this test');
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: 150, thinkingBudget: 10, startInThinking: true, reportTokens: true }));
      assert.equal(run.reason, 'max_tokens', run.error);
      assert.equal(run.tokens[10 + wrapup.length], engine.description.thinkEndToken);
    } finally {
      engine.dispose();
    }
  });
});

describe('cancellation', () => {
  let engine: Engine;
  before(async () => {
    engine = await loadFixtureEngine({ contextSize: 4096 });
  });
  after(() => engine.dispose());

  test('AbortSignal stops a generation', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    let generatedBeforeAbort = 0;
    const stream = engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: 4000, reportTokens: true, signal: controller.signal });
    const events = [];
    for await (const event of stream) {
      events.push(event);
      if (event.type === 'tokens' && !abortedAt) {
        generatedBeforeAbort += event.tokens.length;
        if (generatedBeforeAbort >= 20) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
    }
    const latencyMs = performance.now() - abortedAt;
    const done = events.at(-1);
    assert.equal(done?.type, 'done');
    assert.equal(done.type === 'done' && done.reason, 'aborted');
    const stats = events.find((event) => event.type === 'stats');
    assert.equal(stats?.type, 'stats');
    const generated = stats.type === 'stats' ? stats.stats.generatedTokens : Infinity;
    assert.ok(generated < 1000, `the loop must stop long before maxTokens, generated ${generated}`);
    assert.ok(latencyMs < 2000, `done arrived ${latencyMs.toFixed(0)} ms after abort`);
  });

  test('leaving the loop early aborts', async () => {
    for await (const event of engine.generate(chatPrompt(engine, QUESTIONS[1]!), { mode: 'eagle3', maxTokens: 4000 })) {
      if (event.type === 'delta') break;
    }
    // Leaving the loop waits for the aborted generation to end, so the engine is free.
    const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[1]!), { mode: 'vanilla', maxTokens: 10 }));
    assert.equal(run.stats.generatedTokens, 10);
  });

  test('busy engine rejects a second generation', async () => {
    const first = collect(engine.generate(chatPrompt(engine, QUESTIONS[2]!), { mode: 'vanilla', maxTokens: 200 }));
    assert.throws(() => engine.generate(chatPrompt(engine, QUESTIONS[2]!), { mode: 'vanilla', maxTokens: 5 }), /busy/);
    assert.equal((await first).stats.generatedTokens, 200);
  });

  test('dispose during a generation stops it', async () => {
    const other = await loadFixtureEngine({ contextSize: 4096 });
    const run = collect(other.generate(chatPrompt(other, QUESTIONS[3]!), { mode: 'eagle3', maxTokens: 4000 }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    other.dispose();
    const result = await run;
    assert.ok(result.reason === 'aborted' || result.reason === 'max_tokens');
    assert.throws(() => other.generate([1, 2], { maxTokens: 5 }), /after dispose/);
  });
});
