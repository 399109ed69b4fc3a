import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import type { SignalValues } from '../../daemon/engine/events.ts';
import { readSignalSidecar, writeSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { chatPrompt, collect, getFixtures, loadFixtureEngine, QUESTIONS, type Collected } from './helpers.ts';

const MAX_TOKENS = 200;

interface Rule {
  confidenceThreshold: number;
  progressThreshold: number;
  remainThreshold: number;
}

function ruleMet(s: SignalValues, rule: Rule): boolean {
  return s.confidence > rule.confidenceThreshold && s.progress > rule.progressThreshold && s.remain < rule.remainThreshold;
}

/**
 * Computes where the exit must fire from a run with the exit off. The exit step is the first whose preceding
 * smoothed signals meet the rule and whose tokens contain a boundary, and the exit follows its first boundary token.
 * Returns the number of tokens generated up to and including that boundary, or undefined for no exit.
 */
function expectedExitPosition(run: Collected, rule: Rule, boundaries: Set<number>): number | undefined {
  for (let i = 1; i < run.signals.length; i++) {
    if (!ruleMet(run.signals[i - 1]!.smoothed, rule)) continue;
    const start = run.signals[i - 1]!.position;
    const end = run.signals[i]!.position;
    for (let position = start; position < end; position++) {
      if (boundaries.has(run.tokens[position]!)) return position + 1;
    }
  }
  return undefined;
}

describe('SpecExit exit rule', () => {
  let dir: string;
  let zeroSidecar: string;
  before(async () => {
    const fixtures = await getFixtures();
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-exit-'));
    // All-zero weights give confidence 0.5, progress 0.5 and remain exp(0) = 1 at every token.
    const sidecar = await readSignalSidecar(fixtures.signals);
    zeroSidecar = path.join(dir, 'zero.safetensors');
    await writeSignalSidecar(zeroSidecar, { ...sidecar, weight: new Float32Array(sidecar.weight.length) });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('with a constant sidecar', () => {
    let engine: Engine;
    before(async () => {
      engine = await loadFixtureEngine({ signalsPath: zeroSidecar });
    });
    after(() => engine.dispose());

    test('signals are the activations of zero', async () => {
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'specexit', maxTokens: 60, startInThinking: true, exit: { enabled: false } }));
      assert.ok(run.signals.length > 3);
      for (const event of run.signals) {
        assert.ok(Math.abs(event.raw.confidence - 0.5) < 1e-6);
        assert.ok(Math.abs(event.raw.progress - 0.5) < 1e-6);
        assert.ok(Math.abs(event.raw.remain - 1) < 1e-6);
      }
    });

    test('exit fires at the first boundary after step 1', async () => {
      const prompt = chatPrompt(engine, QUESTIONS[1]!);
      const options = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true } as const;
      const rule = { confidenceThreshold: 0.4, progressThreshold: 0.4, remainThreshold: 2 };
      const reference = await collect(engine.generate(prompt, { ...options, mode: 'specexit', exit: { enabled: false } }));
      const boundaries = new Set(engine.description.boundaryTokens);
      const expected = expectedExitPosition(reference, rule, boundaries);
      assert.ok(expected !== undefined, 'the fixture run must contain a boundary after its first step');
      assert.ok(expected > reference.signals[0]!.position, 'no exit may fire in the first step: there are no earlier signals');

      const run = await collect(engine.generate(prompt, { ...options, mode: 'specexit', exit: rule }));
      assert.equal(run.exits.length, 1);
      const exit = run.exits[0]!;
      assert.equal(exit.reason, 'specexit');
      assert.equal(exit.position, expected);
      assert.ok(Math.abs(exit.predictedRemainingTokens - 1) < 1e-6);
      assert.deepEqual(run.tokens.slice(0, expected), reference.tokens.slice(0, expected));
      assert.equal(run.tokens[expected], engine.description.thinkEndToken, '</think> is forced right after the boundary');
      assert.equal(run.stats.thinkingTokens, expected);
      assert.equal(run.thinking, engine.detokenize(reference.tokens.slice(0, expected)));
      assert.ok(run.answer.length > 0, 'the answer continues after the forced </think>');
      assert.ok(!run.answer.includes('</think>'));
    });

    test('exit waits while confidence is below its threshold', async () => {
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[1]!), {
        mode: 'specexit',
        maxTokens: MAX_TOKENS,
        startInThinking: true,
        exit: { confidenceThreshold: 0.5, progressThreshold: 0.4, remainThreshold: 2 },
      }));
      assert.equal(run.exits.length, 0, 'confidence 0.5 is not above 0.5');
      assert.equal(run.stats.thinkingTokens, MAX_TOKENS);
    });
  });

  describe('with a random sidecar', () => {
    let engine: Engine;
    before(async () => {
      engine = await loadFixtureEngine();
    });
    after(() => engine.dispose());

    test('smoothing is an EWMA of the step means', async () => {
      const alpha = 0.25;
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[2]!), { mode: 'specexit', maxTokens: 100, startInThinking: true, exit: { enabled: false, alpha } }));
      assert.ok(run.signals.length > 5);
      assert.deepEqual(run.signals[0]!.smoothed, run.signals[0]!.raw);
      for (let i = 1; i < run.signals.length; i++) {
        const previous = run.signals[i - 1]!.smoothed;
        const { raw, smoothed } = run.signals[i]!;
        for (const key of ['confidence', 'progress', 'remain'] as const) {
          const expected = alpha * raw[key] + (1 - alpha) * previous[key];
          assert.ok(Math.abs(smoothed[key] - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${key} at step ${i + 1}`);
        }
      }
    });

    for (const quantile of [0.3, 0.6]) {
      test(`exit matches the rule at confidence quantile ${quantile}`, async () => {
        const prompt = chatPrompt(engine, QUESTIONS[3]!);
        const options = { maxTokens: MAX_TOKENS, reportTokens: true, startInThinking: true } as const;
        const reference = await collect(engine.generate(prompt, { ...options, mode: 'specexit', exit: { enabled: false } }));
        const confidences = reference.signals.map((event) => event.smoothed.confidence).sort((a, b) => a - b);
        const rule = {
          confidenceThreshold: confidences[Math.floor(confidences.length * quantile)]!,
          progressThreshold: 0,
          remainThreshold: 1e9,
        };
        const expected = expectedExitPosition(reference, rule, new Set(engine.description.boundaryTokens));
        assert.ok(expected !== undefined, 'the chosen threshold must allow an exit somewhere in the run');

        const run = await collect(engine.generate(prompt, { ...options, mode: 'specexit', exit: rule }));
        assert.equal(run.exits.length, 1);
        assert.equal(run.exits[0]!.position, expected);
        assert.equal(run.tokens[expected], engine.description.thinkEndToken);
      });
    }
  });
});
