import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Engine } from '../../daemon/engine/engine.ts';
import type { Phase } from '../../daemon/engine/events.ts';
import type { GenerateOptions } from '../../daemon/engine/options.ts';
import { chatPrompt, collect, loadFixtureEngine, QUESTIONS, type Collected } from './helpers.ts';

/** Returns the token counts of each phase's deltas, in stream order. */
function deltaCounts(run: Collected): Record<Phase, number[]> {
  const counts: Record<Phase, number[]> = { thinking: [], answer: [] };
  for (const event of run.events) {
    if (event.type === 'delta') counts[event.phase].push(event.tokens);
  }
  return counts;
}

function assertIncreasing(counts: number[], phase: Phase): void {
  for (let i = 1; i < counts.length; i++) {
    assert.ok(counts[i]! > counts[i - 1]!, `${phase} count ${counts[i]} follows ${counts[i - 1]}`);
  }
}

const CASES: [string, GenerateOptions][] = [
  ['vanilla', { mode: 'vanilla' }],
  ['eagle3', { mode: 'eagle3' }],
  // Thresholds every step meets cut the thinking at the first step boundary.
  ['specexit exit', { mode: 'specexit', exit: { confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e6 } }],
  ['budget wrap-up', { mode: 'eagle3', thinkingBudget: 20 }],
];

describe('delta token counts', () => {
  let engine: Engine;
  before(async () => {
    engine = await loadFixtureEngine();
  });
  after(() => engine.dispose());

  for (const [name, options] of CASES) {
    test(`counts match the stats in ${name}`, async () => {
      const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { maxTokens: 100, startInThinking: true, ...options }));
      const counts = deltaCounts(run);

      assert.ok(counts.thinking.length > 0, 'thinking text streams');
      assertIncreasing(counts.thinking, 'thinking');
      assertIncreasing(counts.answer, 'answer');
      assert.equal(counts.thinking.at(-1), run.stats.thinkingTokens);
      assert.equal(counts.answer.at(-1) ?? 0, run.stats.answerTokens);
    });
  }
});
