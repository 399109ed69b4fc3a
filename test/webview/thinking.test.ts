import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { HostToWebviewMessage } from '../../media/messages.ts';
import { applyTurnEvent, createTurn } from '../../media/turn.ts';
import { startWebviewHarness, type ChatPage, type WebviewHarness } from './harness.ts';
import { delta, done, exit, init, signals, stats, turnStart } from './host-messages.ts';

const STEPS = 20;

/** Streams 20 thinking steps of 6 tokens each, 60 ms apart, with their signals. */
async function streamThinking(chat: ChatPage, turnId: string): Promise<void> {
  for (let step = 1; step <= STEPS; step++) {
    const timeMs = (step - 1) * 60;
    await chat.send(
      delta(turnId, 'thinking', `Step ${step}: the loop adds ${step}.\n\n`, timeMs),
      signals(turnId, { step, position: 6 * step, confidence: step / STEPS, progress: step / (2 * STEPS), remain: 400 - 10 * step }, timeMs),
    );
  }
}

/** 120 thinking tokens in 1.2 s is 100 tokens/s, so 300 predicted tokens are about 3 s. */
function exitAndAnswer(turnId: string): HostToWebviewMessage[] {
  return [exit(turnId, STEPS, 120, 300, 1200), delta(turnId, 'answer', 'It prints **8**.', 1250)];
}

async function isOpen(chat: ChatPage): Promise<boolean> {
  return chat.page.locator('[data-testid=thinking]').evaluate((element) => (element as HTMLDetailsElement).open);
}

describe('thinking block', () => {
  let harness: WebviewHarness;

  before(async () => {
    harness = await startWebviewHarness();
  });

  after(async () => {
    await harness?.close();
  });

  test('live while thinking, collapsed after the exit', async () => {
    const chat = await harness.openChat();
    await chat.send(init(), turnStart('t1'));
    await streamThinking(chat, 't1');

    const summary = chat.page.getByTestId('thinking-summary');
    await chat.page.waitForFunction(() => document.querySelector('.thinking-text')?.textContent?.includes('Step 20'));
    assert.equal(await isOpen(chat), true);
    assert.match((await summary.textContent()) ?? '', /^Thinking… \d+\.\d s · 120 tokens$/);

    await chat.send(...exitAndAnswer('t1'));
    await chat.page.waitForSelector('[data-testid=answer] strong');
    assert.equal(await isOpen(chat), false);
    assert.equal(await summary.textContent(), 'Thought for 1.2 s · 120 tokens');
    assert.equal(
      await chat.page.getByTestId('thinking-exit').textContent(),
      ' · SpecExit stopped thinking at token 120 (step 20), saving about 300 tokens and 3.0 s',
    );

    await chat.send(stats('t1', { thinkingTokens: 120, answerTokens: 6, timeToAnswerMs: 1250 }, 1300), done('t1', 1300));
    await chat.page.waitForFunction(() => document.querySelector('[data-testid=turn-stats]')?.textContent !== '');
    assert.equal(await chat.page.getByTestId('turn-stats').textContent(), 'answer after 1.3 s · 200.0 tokens/s · 120 thinking + 6 answer tokens · 71% of thinking saved');

    await summary.click();
    assert.equal(await isOpen(chat), true, 'a click opens the collapsed block');
    assert.equal(await chat.page.locator('.thinking-exit-marker').isVisible(), true);
    assert.deepEqual(chat.errors, []);
    await chat.page.close();
  });

  test('delta token counts drive the live count', async () => {
    const chat = await harness.openChat();
    await chat.send(init(), turnStart('t1'));
    const summary = chat.page.getByTestId('thinking-summary');

    // An eagle3 or vanilla answer: no signals, so the deltas' counts are the only live count.
    await chat.send(delta('t1', 'thinking', 'First, ', 0, 3));
    await chat.page.waitForFunction(() => document.querySelector('[data-testid=thinking-summary]')?.textContent?.endsWith('3 tokens'));
    assert.match((await summary.textContent()) ?? '', /^Thinking… \d+\.\d s · 3 tokens$/);

    await chat.send(delta('t1', 'thinking', 'the loop runs 1,250 times.\n\n', 400, 1250));
    await chat.page.waitForFunction(() => document.querySelector('[data-testid=thinking-summary]')?.textContent?.endsWith('1,250 tokens'));
    assert.match((await summary.textContent()) ?? '', /^Thinking… \d+\.\d s · 1,250 tokens$/);

    await chat.send(delta('t1', 'answer', 'It prints **8**.', 500, 6));
    await chat.page.waitForSelector('[data-testid=answer] strong');
    assert.equal(await summary.textContent(), 'Thought for 0.5 s · 1,250 tokens', 'answer counts stay out of the thinking count');
    assert.deepEqual(chat.errors, []);
    await chat.page.close();
  });

  test('keep-expanded setting keeps it open', async () => {
    const chat = await harness.openChat();
    await chat.send(init(true), turnStart('t1'));
    await streamThinking(chat, 't1');
    await chat.send(...exitAndAnswer('t1'), done('t1', 1300));
    await chat.page.waitForSelector('[data-testid=answer] strong');
    assert.equal(await isOpen(chat), true);

    await chat.send({ type: 'settings', settings: { keepThinkingExpanded: false } });
    await chat.page.waitForFunction(() => !(document.querySelector('[data-testid=thinking]') as HTMLDetailsElement).open);
    await chat.page.close();
  });

  test('keyboard toggles the block', async () => {
    const chat = await harness.openChat();
    await chat.send(init(), turnStart('t1'));
    await streamThinking(chat, 't1');
    await chat.send(...exitAndAnswer('t1'), done('t1', 1300));
    await chat.page.waitForSelector('[data-testid=answer] strong');

    await chat.page.locator('[data-testid=thinking] summary').focus();
    await chat.page.keyboard.press('Enter');
    assert.equal(await isOpen(chat), true);
    await chat.page.keyboard.press('Space');
    assert.equal(await isOpen(chat), false);
    await chat.page.close();
  });

  test('signal plot draws the three signals and the exit', async () => {
    const chat = await harness.openChat();
    await chat.send(init(), turnStart('t1'));
    await streamThinking(chat, 't1');
    await chat.send(...exitAndAnswer('t1'), done('t1', 1300));
    await chat.page.waitForSelector('[data-testid=signal-plot] .signal-exit', { state: 'attached' });

    const plot = await chat.page.locator('[data-testid=signal-plot]').evaluate((svg) => ({
      lines: [...svg.querySelectorAll('polyline')].map((line) => ({
        series: line.getAttribute('data-series'),
        points: (line.getAttribute('points') ?? '').split(' ').map((pair) => pair.split(',').map(Number)),
      })),
      exitX: Number(svg.querySelector('.signal-exit')?.getAttribute('x1')),
      label: svg.getAttribute('aria-label'),
      stroke: getComputedStyle(svg.querySelector('.signal-confidence')!).stroke,
    }));

    assert.deepEqual(plot.lines.map((line) => line.series), ['confidence', 'progress', 'remain']);
    for (const line of plot.lines) assert.equal(line.points.length, STEPS, `${line.series} has a point per step`);
    const [confidence, progress, remain] = plot.lines.map((line) => line.points.map(([, y]) => y!));
    assert.ok(confidence![STEPS - 1]! < confidence![0]!, 'rising confidence goes up the plot');
    assert.ok(progress![STEPS - 1]! < progress![0]!, 'rising progress goes up the plot');
    assert.ok(remain![STEPS - 1]! > remain![0]!, 'falling remain goes down the plot');
    assert.equal(confidence![STEPS - 1], 2, 'confidence 1 is at the top edge');
    assert.equal(plot.exitX, 238, 'the exit marker is at the last step');
    assert.match(plot.label ?? '', /over 20 steps.*thinking stopped at step 20/);
    assert.equal(plot.stroke, 'rgb(55, 148, 255)', 'the confidence line takes --vscode-charts-blue');
    assert.match((await chat.page.locator('.signal-legend').textContent()) ?? '', /remain \(max 390 tokens\)/);
    await chat.page.close();
  });

  test('history turns render collapsed', async () => {
    const turn = createTurn('old', 'Earlier question');
    applyTurnEvent(turn, { type: 'delta', phase: 'thinking', text: 'Earlier thinking.', timeMs: 100 });
    applyTurnEvent(turn, { type: 'exit', timeMs: 600, exit: { reason: 'budget', step: 5, position: 50, confidence: 0, progress: 0, predictedRemainingTokens: 0 } });
    applyTurnEvent(turn, { type: 'delta', phase: 'answer', text: 'Earlier answer.', timeMs: 700 });
    applyTurnEvent(turn, { type: 'done', reason: 'finished', timeMs: 800 });

    const chat = await harness.openChat();
    await chat.send({ type: 'init', turns: [turn], settings: { keepThinkingExpanded: false }, daemon: { state: 'ready' } });
    await chat.page.waitForSelector('[data-testid=answer] p');
    assert.equal(await isOpen(chat), false);
    assert.equal(await chat.page.getByTestId('thinking-summary').textContent(), 'Thought for 0.5 s');
    assert.equal(await chat.page.getByTestId('thinking-exit').textContent(), ' · thinking budget reached at token 50 (step 5)');
    assert.equal(await chat.page.getByTestId('answer').textContent(), 'Earlier answer.\n');
    await chat.page.close();
  });
});
