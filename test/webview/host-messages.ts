/** Builders of the host messages a streamed turn sends, for the webview tests. */
import type { HostToWebviewMessage } from '../../media/messages.ts';
import type { SignalPoint, TurnStats } from '../../media/turn.ts';

type Message = HostToWebviewMessage;

export function init(keepThinkingExpanded = false): Message {
  return { type: 'init', turns: [], settings: { keepThinkingExpanded }, daemon: { state: 'ready' } };
}

export function turnStart(turnId: string, question = 'What does this print?'): Message {
  return { type: 'turnStart', turnId, question, createdAt: Date.now() };
}

/** `tokens` is the daemon's count of the phase's tokens so far; omitted, the delta carries none, as from an older daemon. */
export function delta(turnId: string, phase: 'thinking' | 'answer', text: string, timeMs: number, tokens?: number): Message {
  return { type: 'turnEvent', turnId, event: { type: 'delta', phase, text, timeMs, ...(tokens === undefined ? {} : { tokens }) } };
}

export function signals(turnId: string, point: SignalPoint, timeMs: number): Message {
  return { type: 'turnEvent', turnId, event: { type: 'signals', point, timeMs } };
}

export function exit(turnId: string, step: number, position: number, predictedRemainingTokens: number, timeMs: number): Message {
  return {
    type: 'turnEvent',
    turnId,
    event: { type: 'exit', timeMs, exit: { reason: 'specexit', step, position, confidence: 0.9, progress: 0.7, predictedRemainingTokens } },
  };
}

export function stats(turnId: string, values: Partial<TurnStats>, timeMs: number): Message {
  const full: TurnStats = {
    promptTokens: 40,
    timeToFirstTokenMs: 100,
    decodeTokensPerSecond: 200,
    thinkingTokens: 0,
    answerTokens: 0,
    meanAcceptedPerStep: 2,
    ...values,
  };
  return { type: 'turnEvent', turnId, event: { type: 'stats', stats: full, timeMs } };
}

export function done(turnId: string, timeMs: number, reason: 'finished' | 'stopped' | 'error' = 'finished'): Message {
  return { type: 'turnEvent', turnId, event: { type: 'done', reason, timeMs } };
}

/** Splits text into chunks of `size` characters, the way deltas arrive. */
export function chunks(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}
