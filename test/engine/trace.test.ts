import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import type { FeaturesEvent, ForcedAnswerEvent } from '../../daemon/engine/events.ts';
import { readSignalSidecar, writeSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { chatPrompt, collect, getFixtures, loadFixtureEngine, QUESTIONS } from './helpers.ts';

const MAX_TOKENS = 120;
const HIDDEN_SIZE = 64;
const ANSWER_TOKENS = 6;

function featureEvents(events: readonly { type: string }[]): FeaturesEvent[] {
  return events.filter((event): event is FeaturesEvent => event.type === 'features');
}

function forcedAnswers(events: readonly { type: string }[]): ForcedAnswerEvent[] {
  return events.filter((event): event is ForcedAnswerEvent => event.type === 'forcedAnswer');
}

describe('trace mode', () => {
  let engine: Engine;
  before(async () => {
    engine = await loadFixtureEngine();
  });
  after(() => engine.dispose());

  test('features at every thinking boundary', async () => {
    const options = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true } as const;
    const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { ...options, mode: 'trace' }));
    const boundaries = new Set(engine.description.boundaryTokens);
    const features = featureEvents(run.events);

    // A boundary's rows exist once it has been decoded, so the last token of the run has none.
    const expected = run.tokens.slice(0, -1).flatMap((token, index) => (boundaries.has(token) ? [index + 1] : []));
    assert.ok(expected.length >= 5, 'the fixture writes a boundary every 11 to 13 tokens');
    assert.deepEqual(features.map((event) => event.thinkingPosition), expected);

    let segmentTotal = 0;
    for (const event of features) {
      assert.equal(event.features.length, 3 * HIDDEN_SIZE);
      assert.equal(event.segmentMean.length, 3 * HIDDEN_SIZE);
      assert.equal(event.token, run.tokens[event.thinkingPosition - 1]);
      assert.ok(event.features.every(Number.isFinite));
      assert.ok(event.features.some((value) => value !== 0));
      segmentTotal += event.segmentTokens;
      assert.equal(segmentTotal, event.thinkingPosition, 'segments tile the thinking');
    }
  });

  test('trace tokens equal vanilla with forced answers', async () => {
    const prompt = chatPrompt(engine, QUESTIONS[1]!);
    const options = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true } as const;
    const vanilla = await collect(engine.generate(prompt, { ...options, mode: 'vanilla' }));
    const trace = await collect(engine.generate(prompt, { ...options, mode: 'trace', trace: { answerTokens: ANSWER_TOKENS } }));

    assert.deepEqual(trace.tokens, vanilla.tokens, 'forced answers must leave no trace in the KV cache');
    assert.equal(trace.thinking, vanilla.thinking);

    const answers = forcedAnswers(trace.events);
    const boundaries = new Set(engine.description.boundaryTokens);
    const expected = trace.tokens.flatMap((token, index) => (boundaries.has(token) ? [index + 1] : []));
    assert.deepEqual(answers.map((event) => event.thinkingPosition), expected);
    assert.equal(trace.stats.probes, answers.length);
    for (const answer of answers) {
      assert.equal(answer.tokens.length, ANSWER_TOKENS);
      assert.equal(answer.text, engine.detokenize(answer.tokens));
    }
  });

  test('forced answer continues after </think>', async () => {
    // The fixture continues "</think>" with " \n\n" and then "Yes that matches ...", whatever came before.
    const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[2]!), {
      mode: 'trace',
      maxTokens: 40,
      startInThinking: true,
      trace: { answerTokens: 3 },
    }));
    const answers = forcedAnswers(run.events);
    assert.ok(answers.length > 0);
    for (const answer of answers) assert.equal(answer.text, ' \n\nYes that');
  });

  test('features are identical for the same prompt', async () => {
    const prompt = chatPrompt(engine, QUESTIONS[3]!);
    const options = { maxTokens: 60, startInThinking: true, mode: 'trace' } as const;
    const first = featureEvents((await collect(engine.generate(prompt, options))).events);
    const second = featureEvents((await collect(engine.generate(prompt, { ...options, trace: { answerTokens: 4 } }))).events);
    assert.equal(first.length, second.length);
    first.forEach((event, i) => assert.deepEqual(event.features, second[i]!.features));
  });

  test('trace layers choose the column blocks', async () => {
    const prompt = chatPrompt(engine, QUESTIONS[0]!);
    const options = { maxTokens: 40, startInThinking: true, mode: 'trace' } as const;
    const [a, b, c] = engine.description.draft!.targetLayers as [number, number, number];
    const forward = featureEvents((await collect(engine.generate(prompt, { ...options, trace: { layers: [a, b, c] } }))).events);
    const reversed = featureEvents((await collect(engine.generate(prompt, { ...options, trace: { layers: [c, b, a] } }))).events);
    assert.ok(forward.length > 0);
    const block = (values: Float32Array, k: number) => Array.from(values.subarray(k * HIDDEN_SIZE, (k + 1) * HIDDEN_SIZE));
    assert.deepEqual(block(reversed[0]!.features, 0), block(forward[0]!.features, 2));
    assert.deepEqual(block(reversed[0]!.features, 2), block(forward[0]!.features, 0));
    assert.notDeepEqual(block(forward[0]!.features, 0), block(forward[0]!.features, 2));
  });

  test('invalid trace layers throw', () => {
    const prompt = chatPrompt(engine, QUESTIONS[0]!);
    assert.throws(() => engine.generate(prompt, { mode: 'trace', trace: { layers: [0, 1, 99] } }), /options\.trace\.layers\[2\]/);
    assert.throws(() => engine.generate(prompt, { mode: 'trace', trace: { answerTokens: -1 } }), /options\.trace\.answerTokens/);
    assert.throws(() => engine.generate(prompt, { mode: 'trace', trace: { layer: [1, 2, 3] } as never }), /Unknown option `options\.trace\.layer`/);
  });

  test('trace without draft or sidecar needs layers', async () => {
    const bare = await loadFixtureEngine({ withDraft: false, withSignals: false });
    try {
      const prompt = chatPrompt(bare, QUESTIONS[0]!);
      assert.throws(() => bare.generate(prompt, { mode: 'trace' }), /needs options\.trace\.layers/);
      const run = await collect(bare.generate(prompt, { mode: 'trace', maxTokens: 30, startInThinking: true, trace: { layers: [1, 2, 3] } }));
      assert.ok(featureEvents(run.events).length > 0);
    } finally {
      bare.dispose();
    }
  });
});

describe('signal head bias', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-bias-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('bias shifts the raw signals', async () => {
    const fixtures = await getFixtures();
    const sidecar = await readSignalSidecar(fixtures.signals);
    const biased = path.join(dir, 'biased.safetensors');
    const bias = new Float32Array([1.5, -2, Math.log(40)]);
    await writeSignalSidecar(biased, { ...sidecar, weight: new Float32Array(sidecar.weight.length), bias });
    assert.deepEqual((await readSignalSidecar(biased)).bias, bias);

    const engine = await loadFixtureEngine({ signalsPath: biased });
    try {
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'specexit', maxTokens: 40, startInThinking: true, exit: { enabled: false } }));
      assert.ok(run.signals.length > 0);
      for (const event of run.signals) {
        assert.ok(Math.abs(event.raw.confidence - 1 / (1 + Math.exp(-1.5))) < 1e-6);
        assert.ok(Math.abs(event.raw.progress - 1 / (1 + Math.exp(2))) < 1e-6);
        assert.ok(Math.abs(event.raw.remain - 40) < 1e-4);
      }
    } finally {
      engine.dispose();
    }
  });
});
