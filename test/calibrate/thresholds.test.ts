import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { seededRandom } from '../../daemon/calibrate/split.ts';
import {
  DEFAULT_GRID,
  evaluateRule,
  NEVER_EXIT,
  searchThresholds,
  simulateExit,
  type SimulatedTrace,
  type Smoothing,
} from '../../daemon/calibrate/thresholds.ts';

const INSTANT: Smoothing = { alpha: 1, tokensPerStep: 1e9 };

function boundary(thinkingPosition: number, confidence: number, correct: boolean, segmentTokens = 10) {
  return { thinkingPosition, segmentTokens, signals: { confidence, progress: 0.5, remain: 50 }, correct };
}

/**
 * Traces whose answer settles at a random boundary: the forced answer is correct from there on. The confidence
 * signal rises to 0.9 one boundary later, or (for `early` traces) two boundaries before it settles, and then
 * grows by `slope` per boundary. The replay checks each boundary with the previous segment's value.
 */
function settlingTraces(count: number, earlyShare: number, seed: number, slope = 0.01): SimulatedTrace[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const settle = 2 + Math.floor(random() * 6);
    const early = random() < earlyShare;
    const boundaries = Array.from({ length: 10 }, (_, i) => {
      const rise = early ? settle - 2 : settle + 1;
      return boundary((i + 1) * 10, i >= rise ? 0.9 + slope * (i - rise) : 0.3, i >= settle);
    });
    return { thinkingTokens: 110, fullCorrect: true, boundaries };
  });
}

describe('exit replay', () => {
  test('checks before folding the current segment', () => {
    const trace = { thinkingTokens: 40, fullCorrect: true, boundaries: [boundary(10, 0.9, true), boundary(20, 0.9, true), boundary(30, 0.2, true)] };
    const rule = { confidenceThreshold: 0.8, progressThreshold: 0, remainThreshold: 100 };
    // With one step per segment there is no earlier value at the first boundary.
    assert.equal(simulateExit(trace, rule, INSTANT), 1);
    // With ten one-token steps per segment, nine of them are folded before the check.
    assert.equal(simulateExit(trace, rule, { alpha: 1, tokensPerStep: 1 }), 0);
  });

  test('EWMA delays the exit', () => {
    const boundaries = [boundary(10, 0, false), ...Array.from({ length: 8 }, (_, i) => boundary(20 + 10 * i, 1, true))];
    const trace = { thinkingTokens: 100, fullCorrect: true, boundaries };
    const rule = { confidenceThreshold: 0.8, progressThreshold: 0, remainThreshold: 100 };
    // One step per segment, alpha 0.5: smoothed confidence 0, 0.5, 0.75, 0.875 after boundaries 0..3, and
    // boundary 4 is the first checked with a value above 0.8.
    assert.equal(simulateExit(trace, rule, { alpha: 0.5, tokensPerStep: 10 }), 4);
  });

  test('never-exit rule keeps full thinking', () => {
    const traces = settlingTraces(20, 0, 1);
    const outcome = evaluateRule(traces, NEVER_EXIT, INSTANT);
    assert.equal(outcome.exits, 0);
    assert.equal(outcome.thinkingSaved, 0);
    assert.equal(outcome.accuracy, outcome.baselineAccuracy);
  });
});

describe('threshold search', () => {
  for (const [earlyShare, maxLoss] of [[0, 0.01], [0.3, 0.01], [0.3, 0.1], [0.05, 0.02]] as const) {
    test(`respects ${maxLoss * 100} point loss with ${earlyShare * 100} % early signals`, () => {
      const traces = settlingTraces(200, earlyShare, 7);
      const search = searchThresholds(traces, INSTANT, maxLoss);
      const outcome = evaluateRule(traces, search.rule, INSTANT);
      assert.deepEqual(outcome, search.outcome);
      assert.ok(outcome.baselineAccuracy - outcome.accuracy <= maxLoss + 1e-9, `loss ${outcome.baselineAccuracy - outcome.accuracy}`);

      // No grid point within the constraint saves more.
      for (const confidenceThreshold of DEFAULT_GRID.confidence) {
        for (const progressThreshold of DEFAULT_GRID.progress) {
          for (const remainThreshold of DEFAULT_GRID.remain) {
            const other = evaluateRule(traces, { confidenceThreshold, progressThreshold, remainThreshold }, INSTANT);
            if (other.baselineAccuracy - other.accuracy <= maxLoss + 1e-9) {
              assert.ok(other.thinkingSaved <= outcome.thinkingSaved + 1e-9);
            }
          }
        }
      }
    });
  }

  test('late signals save thinking at no loss', () => {
    const search = searchThresholds(settlingTraces(100, 0, 3), INSTANT, 0.01);
    assert.ok(search.found);
    assert.ok(search.outcome.thinkingSaved > 0.3, `saved ${search.outcome.thinkingSaved}`);
    assert.equal(search.outcome.accuracy, 1);
  });

  test('early signals in every trace give no exit', () => {
    const search = searchThresholds(settlingTraces(100, 1, 4, 0), INSTANT, 0.01);
    // Confidence 0.9 arrives before the answer settles, so thresholds under 0.9 fire too early and higher ones never fire.
    assert.equal(search.found, false);
    assert.deepEqual(search.rule, NEVER_EXIT);
    assert.equal(search.outcome.thinkingSaved, 0);
  });
});
