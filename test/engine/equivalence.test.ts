import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import { chatPrompt, collect, loadFixtureEngine, QUESTIONS } from './helpers.ts';

const MAX_TOKENS = 160;

describe('speculative decoding keeps the target output', () => {
  let engine: Engine;
  before(async () => {
    engine = await loadFixtureEngine();
  });
  after(() => engine.dispose());

  for (const [index, question] of QUESTIONS.entries()) {
    test(`greedy modes agree on prompt ${index + 1}`, async () => {
      const prompt = chatPrompt(engine, question);
      const common = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true };
      const vanilla = await collect(engine.generate(prompt, { ...common, mode: 'vanilla' }));
      const eagle3 = await collect(engine.generate(prompt, { ...common, mode: 'eagle3' }));
      const specexitOff = await collect(engine.generate(prompt, { ...common, mode: 'specexit', exit: { enabled: false } }));
      const probeNever = await collect(engine.generate(prompt, { ...common, mode: 'probe', probe: { threshold: 1.5 } }));

      assert.equal(vanilla.tokens.length, MAX_TOKENS);
      assert.deepEqual(eagle3.tokens, vanilla.tokens);
      assert.deepEqual(specexitOff.tokens, vanilla.tokens);
      assert.deepEqual(probeNever.tokens, vanilla.tokens, 'probes that do not exit must leave no trace');
      assert.equal(eagle3.thinking, vanilla.thinking);
      assert.equal(eagle3.answer, vanilla.answer);
      assert.equal(specexitOff.exits.length, 0);
      assert.ok(probeNever.stats.probes > 0, 'the fixture text has step boundaries, so probes must run');
    });
  }

  test('flash attention on gives the same tokens', async () => {
    const flash = await loadFixtureEngine({ flashAttention: 'on' });
    try {
      const prompt = chatPrompt(flash, QUESTIONS[3]!);
      const common = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true };
      const vanilla = await collect(flash.generate(prompt, { ...common, mode: 'vanilla' }));
      const eagle3 = await collect(flash.generate(prompt, { ...common, mode: 'eagle3' }));
      const reference = await collect(engine.generate(prompt, { ...common, mode: 'vanilla' }));
      assert.deepEqual(eagle3.tokens, vanilla.tokens);
      assert.deepEqual(vanilla.tokens, reference.tokens);
    } finally {
      flash.dispose();
    }
  });

  test('the draft is accepted', async () => {
    const result = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: MAX_TOKENS }));
    assert.equal(result.stats.generatedTokens, MAX_TOKENS);
    assert.ok(result.stats.meanAcceptedPerStep > 1.5, `mean accepted per step ${result.stats.meanAcceptedPerStep}`);
    assert.ok(result.stats.steps < MAX_TOKENS / 1.5);
    assert.equal(result.stats.acceptedDraftTokens + result.stats.steps, MAX_TOKENS);
  });

  test('seeded sampling is the same with and without the draft', async () => {
    // Each emitted token is one draw from the target's distribution at its
    // position, so with one seed both modes consume the same random numbers.
    const prompt = chatPrompt(engine, QUESTIONS[1]!);
    const sampling = { greedy: false, temperature: 4, topP: 1, seed: 7 };
    const common = { maxTokens: 80, reportTokens: true, startInThinking: true, sampling };
    const vanilla = await collect(engine.generate(prompt, { ...common, mode: 'vanilla' }));
    const eagle3 = await collect(engine.generate(prompt, { ...common, mode: 'eagle3' }));
    const greedy = await collect(engine.generate(prompt, { ...common, mode: 'vanilla', sampling: { greedy: true } }));
    assert.deepEqual(eagle3.tokens, vanilla.tokens);
    assert.notDeepEqual(vanilla.tokens, greedy.tokens, 'temperature 4 must move the fixture off its greedy path');
  });

  test('deltas reassemble the detokenized text', async () => {
    const result = await collect(engine.generate(chatPrompt(engine, QUESTIONS[2]!), { mode: 'eagle3', maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true }));
    assert.equal(result.thinking, engine.detokenize(result.tokens));
    for (const event of result.events) {
      if (event.type === 'delta') assert.ok(!event.text.includes('\uFFFD'), `delta ${JSON.stringify(event.text)} splits a character`);
    }
  });
});
