/** Plain-text summaries of a turn, shared by the chat webview and the inline answers in the editor. */
import { estimateExitSaving, isTurnActive, thinkingSeconds, type Turn } from './turn.ts';

/** Describes where thinking was cut and, for a signal or probe exit, about how many tokens and seconds that saved. */
export function describeExit(turn: Turn): string | undefined {
  const exit = turn.exit;
  if (!exit) return undefined;
  const where = `at token ${formatCount(exit.position)} (step ${exit.step})`;
  if (exit.reason === 'budget') return `thinking budget reached ${where}`;
  const saving = estimateExitSaving(turn);
  const cause = exitCause(exit.reason);
  if (!saving || saving.tokens === 0) return `${cause} stopped thinking ${where}`;
  const seconds = saving.seconds > 0 ? ` and ${saving.seconds.toFixed(1)} s` : '';
  return `${cause} stopped thinking ${where}, saving about ${formatCount(saving.tokens)} tokens${seconds}`;
}

export function exitCause(reason: 'specexit' | 'probe' | 'budget'): string {
  if (reason === 'specexit') return 'SpecExit';
  if (reason === 'probe') return 'A probe';
  return 'The thinking budget';
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Returns the line under a finished answer: time to answer, decoding rate and the share of thinking saved. */
export function describeStats(turn: Turn): string {
  const stats = turn.stats;
  if (!stats || isTurnActive(turn)) return '';
  const parts: string[] = [];
  if (stats.timeToAnswerMs !== undefined) parts.push(`answer after ${(stats.timeToAnswerMs / 1000).toFixed(1)} s`);
  parts.push(`${stats.decodeTokensPerSecond.toFixed(1)} tokens/s`);
  parts.push(`${stats.thinkingTokens} thinking + ${stats.answerTokens} answer tokens`);
  const saving = estimateExitSaving(turn);
  if (saving && saving.tokens > 0) parts.push(`${Math.round(saving.share * 100)}% of thinking saved`);
  return parts.join(' · ');
}

/**
 * Returns the thinking block's title: a live count while `nowMs` (ms since the ask) is given, else the time and
 * tokens thinking took.
 */
export function summarizeThinking(turn: Turn, nowMs?: number): string {
  const seconds = thinkingSeconds(turn, nowMs);
  const tokens = turn.thinkingTokens > 0 ? ` · ${formatCount(turn.thinkingTokens)} tokens` : '';
  if (nowMs !== undefined) return `Thinking… ${seconds.toFixed(1)} s${tokens}`;
  if (turn.status === 'stopped' && !turn.answer) return `Stopped after ${seconds.toFixed(1)} s of thinking${tokens}`;
  return `Thought for ${seconds.toFixed(1)} s${tokens}`;
}
