/** A fake `specexit/ask` handler that streams a short thinking, an early exit and an answer. */
import type { CancellationToken } from 'vscode-jsonrpc';

import {
  DeltaNotification,
  PrefillProgressNotification,
  SignalsNotification,
  StatsNotification,
  ThinkingExitNotification,
  type AskParams,
  type AskResult,
  type GenerationStats,
} from '../../daemon/protocol.ts';
import type { FakeDaemon } from './fake-daemon.ts';

export const STATS: GenerationStats = {
  promptTokens: 50,
  prefillMs: 20,
  timeToFirstTokenMs: 30,
  decodeMs: 1000,
  decodeTokensPerSecond: 80,
  steps: 30,
  draftedTokens: 90,
  acceptedDraftTokens: 50,
  meanAcceptedPerStep: 2.6,
  thinkingTokens: 60,
  answerTokens: 20,
  generatedTokens: 82,
  probes: 0,
  probeMs: 0,
};

export interface ScriptOptions {
  answer?: string;
  /** Wait for cancellation after the thinking instead of answering. */
  hangAfterThinking?: boolean;
}

/** Returns a handler for `specexit/ask` that streams notifications for each ask it gets. */
export function scriptedAsk(options: ScriptOptions = {}) {
  return async (raw: unknown, token: CancellationToken | undefined, daemon: FakeDaemon): Promise<AskResult> => {
    const { askId } = raw as AskParams;
    daemon.notify(PrefillProgressNotification, { askId, processed: 50, total: 50 });
    for (let step = 1; step <= 3; step++) {
      daemon.notify(DeltaNotification, { askId, phase: 'thinking', text: `Thought ${step}.\n\n`, tokens: 20 * step });
      const values = { confidence: 0.3 * step, progress: 0.2 * step, remain: 100 - 20 * step };
      daemon.notify(SignalsNotification, { askId, step, position: 20 * step, raw: values, smoothed: values });
    }

    if (options.hangAfterThinking) {
      await new Promise<void>((resolve) => token?.onCancellationRequested(() => resolve()));
      throw Object.assign(new Error('request cancelled'), { code: -32800 });
    }

    const exit = {
      askId,
      reason: 'specexit' as const,
      step: 3,
      position: 60,
      signals: { confidence: 0.9, progress: 0.6, remain: 40 },
      predictedRemainingTokens: 40,
      probeScore: 0,
      predictedSavedSeconds: 0.5,
    };
    daemon.notify(ThinkingExitNotification, exit);
    const answer = options.answer ?? 'It prints `8`.';
    daemon.notify(DeltaNotification, { askId, phase: 'answer', text: answer, tokens: STATS.answerTokens });
    const timings = { queueMs: 1, timeToAnswerMs: 900, totalMs: 1200 };
    daemon.notify(StatsNotification, { askId, stats: STATS, timings });
    return {
      askId,
      finishReason: 'eos',
      thinking: 'Thought 1.\n\nThought 2.\n\nThought 3.\n\n',
      answer,
      mode: 'specexit',
      model: 'embedded',
      exit,
      stats: STATS,
      timings,
    };
  };
}
