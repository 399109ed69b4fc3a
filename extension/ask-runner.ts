/**
 * Runs asks over the daemon connection and turns each ask's notifications into the chat's turn events. The
 * notification handlers are registered once and dispatch by `askId`, because JSON-RPC notifications carry no
 * request id.
 */
import { randomUUID } from 'node:crypto';

import type { CancellationToken, NotificationType } from 'vscode-jsonrpc';

import {
  AskPhaseNotification,
  AskRequest,
  ContextTrimmedNotification,
  DeltaNotification,
  NoticeNotification,
  PrefillProgressNotification,
  SignalsNotification,
  StatsNotification,
  ThinkingExitNotification,
  type AskParams,
  type AskResult,
  type StatsParams,
} from '../daemon/protocol.ts';
import type { TurnEvent, TurnStats } from '../media/turn.ts';
import type { DaemonApi, Subscription } from './daemon-api.ts';

/** JSON-RPC's code for a cancelled request. */
const REQUEST_CANCELLED = -32800;

export interface AskOutcome {
  reason: 'finished' | 'stopped' | 'error';
  result?: AskResult;
  error?: string;
}

/** A turn event before the runner stamps its time. */
type UntimedEvent = TurnEvent extends infer E ? (E extends TurnEvent ? Omit<E, 'timeMs'> : never) : never;

export class AskRunner {
  private readonly sinks = new Map<string, (event: UntimedEvent) => void>();
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly daemon: DaemonApi) {
    this.route(AskPhaseNotification, (params) => (params.phase === 'loading' ? { type: 'notice', message: 'Loading the model…' } : undefined));
    this.route(PrefillProgressNotification, (params) => ({ type: 'prefill', processed: params.processed, total: params.total }));
    this.route(DeltaNotification, (params) => ({
      type: 'delta',
      phase: params.phase,
      text: params.text,
      ...(params.tokens === undefined ? {} : { tokens: params.tokens }),
    }));
    this.route(SignalsNotification, (params) => ({ type: 'signals', point: { step: params.step, position: params.position, ...params.smoothed } }));
    this.route(ThinkingExitNotification, (params) => ({
      type: 'exit',
      exit: {
        reason: params.reason,
        step: params.step,
        position: params.position,
        confidence: params.signals.confidence,
        progress: params.signals.progress,
        predictedRemainingTokens: params.predictedRemainingTokens,
        predictedSavedSeconds: params.predictedSavedSeconds,
      },
    }));
    this.route(NoticeNotification, (params) => ({ type: 'notice', message: params.message }));
    this.route(ContextTrimmedNotification, (params) => ({
      type: 'notice',
      message: `The code around the selection was cut to fit the context: ${params.beforeLinesRemoved} lines above and ${params.afterLinesRemoved} below.`,
    }));
    this.route(StatsNotification, (params) => ({ type: 'stats', stats: toTurnStats(params) }));
  }

  private route<P extends { askId: string }>(type: NotificationType<P>, convert: (params: P) => UntimedEvent | undefined): void {
    const subscription = this.daemon.onNotification(type, (params) => {
      const sink = this.sinks.get(params.askId);
      const event = sink && convert(params);
      if (sink && event) sink(event);
    });
    this.subscriptions.push(subscription);
  }

  /**
   * Sends the ask and calls `onEvent` with each streamed event, times in ms since the call, ending with one
   * `done` event. Never rejects: a failure or a cancellation becomes the outcome.
   */
  async run(params: Omit<AskParams, 'askId'>, onEvent: (event: TurnEvent) => void, token?: CancellationToken): Promise<AskOutcome> {
    const askId = randomUUID();
    const started = Date.now();
    const emit = (event: UntimedEvent) => onEvent({ ...event, timeMs: Date.now() - started } as TurnEvent);
    this.sinks.set(askId, emit);
    try {
      const result = await this.daemon.sendRequest(AskRequest, { ...params, askId }, token);
      let reason: AskOutcome['reason'] = 'finished';
      if (result.finishReason === 'aborted') reason = 'stopped';
      if (result.finishReason === 'error') reason = 'error';
      emit({ type: 'done', reason });
      return { reason, result };
    } catch (error) {
      const cancelled = (error as { code?: number }).code === REQUEST_CANCELLED || token?.isCancellationRequested === true;
      const message = (error as Error).message ?? String(error);
      emit({ type: 'done', reason: cancelled ? 'stopped' : 'error', ...(cancelled ? {} : { error: message }) });
      return cancelled ? { reason: 'stopped' } : { reason: 'error', error: message };
    } finally {
      this.sinks.delete(askId);
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.sinks.clear();
  }
}

export function toTurnStats({ stats, timings }: StatsParams): TurnStats {
  return {
    promptTokens: stats.promptTokens,
    timeToFirstTokenMs: stats.timeToFirstTokenMs,
    timeToAnswerMs: timings.timeToAnswerMs,
    decodeTokensPerSecond: stats.decodeTokensPerSecond,
    thinkingTokens: stats.thinkingTokens,
    answerTokens: stats.answerTokens,
    meanAcceptedPerStep: stats.meanAcceptedPerStep,
  };
}
