import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import type { GenerateOptions } from '../../daemon/engine/options.ts';
import { chatPrompt, collect, loadFixtureEngine, QUESTIONS, type Collected } from './helpers.ts';

const MAX_TOKENS = 160;

/**
 * Lowest allowed ratio of a forcing run's mean accepted tokens per step to the same run without forcing.
 * Measured with the fixture draft at 4 draft tokens: both runs gain 3.3 to 3.6 tokens per step. A drafter
 * that fails after the forced tokens falls back to plain decoding, and the ratio then drops to 0.3 to 0.4.
 */
const MIN_ACCEPTANCE_RATIO = 0.8;

/** An exit rule that every smoothed signal meets, so the exit fires at the first boundary after step 1. */
const ALWAYS_EXIT = { confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e9 };

function notices(run: Collected): string[] {
  return run.events.flatMap((event) => (event.type === 'notice' ? [event.message] : []));
}

function acceptanceRatio(run: Collected, reference: Collected): number {
  return run.stats.meanAcceptedPerStep / reference.stats.meanAcceptedPerStep;
}

describe('draft after forced tokens', () => {
  let engine: Engine;
  let prompt: Int32Array;
  const base: GenerateOptions = { maxTokens: MAX_TOKENS, startInThinking: true, reportTokens: true };
  before(async () => {
    engine = await loadFixtureEngine();
    prompt = chatPrompt(engine, QUESTIONS[0]!);
  });
  after(() => engine.dispose());

  // Twelve consecutive budgets start the wrap-up at every offset inside a 4-token draft, so several of
  // them cut a step while the drafter's cache still contains positions after the cut.
  test('budget wrap-up at every draft offset', async () => {
    const reference = await collect(engine.generate(prompt, { ...base, mode: 'eagle3' }));
    for (let budget = 1; budget <= 12; budget++) {
      const run = await collect(engine.generate(prompt, { ...base, mode: 'eagle3', thinkingBudget: budget }));
      const vanilla = await collect(engine.generate(prompt, { ...base, mode: 'vanilla', thinkingBudget: budget }));
      assert.deepEqual(notices(run), [], `budget ${budget}: the draft must keep working after the wrap-up`);
      assert.equal(run.exits.length, 1, `budget ${budget}: one wrap-up`);
      assert.deepEqual(run.tokens, vanilla.tokens, `budget ${budget}: tokens must equal vanilla's`);
      const ratio = acceptanceRatio(run, reference);
      assert.ok(ratio >= MIN_ACCEPTANCE_RATIO, `budget ${budget}: mean accepted per step ${run.stats.meanAcceptedPerStep.toFixed(2)} against ${reference.stats.meanAcceptedPerStep.toFixed(2)} without a budget`);
    }
  });

  test('SpecExit exit at several draft lengths', async () => {
    for (const draftTokens of [2, 3, 4, 6]) {
      const options: GenerateOptions = { ...base, mode: 'specexit', draftTokens };
      const reference = await collect(engine.generate(prompt, { ...options, exit: { enabled: false } }));
      const run = await collect(engine.generate(prompt, { ...options, exit: ALWAYS_EXIT }));
      assert.equal(run.exits.length, 1, `draftTokens ${draftTokens}: one exit`);
      assert.deepEqual(notices(run), [], `draftTokens ${draftTokens}: the draft must keep working after </think>`);
      const ratio = acceptanceRatio(run, reference);
      assert.ok(ratio >= MIN_ACCEPTANCE_RATIO, `draftTokens ${draftTokens}: mean accepted per step ${run.stats.meanAcceptedPerStep.toFixed(2)} against ${reference.stats.meanAcceptedPerStep.toFixed(2)} without the exit`);
    }
  });

  test('probe exit keeps the draft', async () => {
    const reference = await collect(engine.generate(prompt, { ...base, mode: 'eagle3' }));
    const run = await collect(engine.generate(prompt, { ...base, mode: 'probe', probe: { threshold: 0 } }));
    assert.equal(run.exits.length, 1);
    assert.equal(run.exits[0]!.reason, 'probe');
    assert.deepEqual(notices(run), []);
    const ratio = acceptanceRatio(run, reference);
    assert.ok(ratio >= MIN_ACCEPTANCE_RATIO, `mean accepted per step ${run.stats.meanAcceptedPerStep.toFixed(2)} against ${reference.stats.meanAcceptedPerStep.toFixed(2)} in eagle3`);
  });
});

describe('draft after a wrap-up longer than the batch', () => {
  test('wrap-up in batch pieces', async () => {
    const engine = await loadFixtureEngine({ batchSize: 16 });
    try {
      const prompt = chatPrompt(engine, QUESTIONS[0]!);
      const base: GenerateOptions = { maxTokens: MAX_TOKENS, startInThinking: true, reportTokens: true };
      const reference = await collect(engine.generate(prompt, { ...base, mode: 'eagle3' }));
      for (const budget of [1, 2, 3, 4]) {
        const run = await collect(engine.generate(prompt, { ...base, mode: 'eagle3', thinkingBudget: budget }));
        const vanilla = await collect(engine.generate(prompt, { ...base, mode: 'vanilla', thinkingBudget: budget }));
        assert.deepEqual(notices(run), [], `budget ${budget}: the draft must keep working after the wrap-up`);
        assert.deepEqual(run.tokens, vanilla.tokens, `budget ${budget}: tokens must equal vanilla's`);
        const ratio = acceptanceRatio(run, reference);
        assert.ok(ratio >= MIN_ACCEPTANCE_RATIO, `budget ${budget}: mean accepted per step ${run.stats.meanAcceptedPerStep.toFixed(2)} against ${reference.stats.meanAcceptedPerStep.toFixed(2)} without a budget`);
      }
    } finally {
      engine.dispose();
    }
  });
});
