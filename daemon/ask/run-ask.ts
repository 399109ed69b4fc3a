/** Runs one ask on a loaded engine and turns the engine's events into the protocol's notifications. */
import { ResponseError, type NotificationType } from 'vscode-jsonrpc';

import type { GenerateOptions } from '../engine/options.ts';
import type { StructuredLogger } from '../log.ts';
import type { LoadedModel } from '../models/host.ts';
import { buildPrompt } from '../prompt/build-prompt.ts';
import { ChatTemplate } from '../prompt/chat-template.ts';
import {
  AskPhaseNotification,
  ContextTrimmedNotification,
  DeltaNotification,
  LspErrorCodes,
  NoticeNotification,
  PrefillProgressNotification,
  ProbeNotification,
  SignalsNotification,
  SpecExitErrorCodes,
  StatsNotification,
  ThinkingExitNotification,
  type AskParams,
  type AskPhase,
  type AskResult,
  type ContextTrimmedParams,
  type GenerationStats,
  type Mode,
  type ThinkingExitParams,
} from '../protocol.ts';

/** Generated tokens when `options.maxTokens` is not given. */
export const DEFAULT_MAX_TOKENS = 1024;

/** Sends one notification to the client that made the ask. */
export type Notify = <P>(type: NotificationType<P>, params: P) => void;

export interface AskRun {
  params: AskParams;
  model: LoadedModel;
  notify: Notify;
  /** Aborts the generation within one engine step. */
  signal: AbortSignal;
  /** `Date.now()` when the daemon received the ask. */
  receivedAt: number;
  logger: StructuredLogger;
  /** Called on each phase change, for the daemon's state. */
  onPhase(phase: AskPhase): void;
}

const templates = new WeakMap<object, ChatTemplate>();

function templateFor(model: LoadedModel): ChatTemplate {
  let template = templates.get(model.engine);
  if (!template) {
    template = new ChatTemplate(model.engine);
    templates.set(model.engine, template);
  }
  return template;
}

/** Picks the mode that can run with the model's files, and the notice to send when it differs from the request. */
export function resolveMode(requested: Mode, model: LoadedModel): { mode: Mode; notice?: string } {
  const { files, name } = model;
  if (requested !== 'vanilla' && !files.hasDraft) {
    const why = files.draftError ? `its draft failed to load (${files.draftError})` : 'it has no draft';
    return { mode: 'vanilla', notice: `model "${name}" runs mode ${requested} as vanilla (no speculative decoding) because ${why}` };
  }
  if (requested === 'specexit' && !files.hasSignals) {
    const why = files.signalsError
      ? `its signal sidecar failed to load (${files.signalsError})`
      : files.signalsMissing
        ? `its signal sidecar ${files.signalsMissing} is missing`
        : 'it has no signal sidecar';
    return { mode: 'eagle3', notice: `model "${name}" cannot exit early because ${why}; running as eagle3` };
  }
  return { mode: requested };
}

/**
 * Runs the ask to its end and returns its result. Throws a ResponseError: -32800 when `signal` aborted it
 * (its `data` contains the partial result), `promptTooLong` or `generationFailed`.
 */
export async function runAsk(run: AskRun): Promise<AskResult> {
  const { params, model, notify, signal, receivedAt, logger } = run;
  const { askId } = params;
  const options = params.options ?? {};
  const engine = model.engine;
  const log = logger.child({ askId, model: model.name });

  let phase: AskPhase | undefined;
  const setPhase = (next: AskPhase) => {
    if (phase === next) return;
    phase = next;
    notify(AskPhaseNotification, { askId, phase: next });
    run.onPhase(next);
  };

  const { mode, notice } = resolveMode(options.mode ?? 'specexit', model);
  if (notice) {
    log.info(notice);
    notify(NoticeNotification, { askId, message: notice });
  }

  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const contextSize = engine.description.contextSize;
  const tokenLimit = contextSize - maxTokens;
  if (tokenLimit < 1) {
    throw new ResponseError(-32602, `maxTokens ${maxTokens} leaves no room for the prompt in the context of ${contextSize} tokens; lower maxTokens`);
  }
  const thinking = options.thinking ?? true;
  const prompt = buildPrompt(templateFor(model), params.question, params.context, thinking, tokenLimit);
  log.debug('prompt built', { promptTokens: prompt.tokens.length, prompt: engine.detokenize(prompt.tokens, { special: true }) });
  let trimmed: ContextTrimmedParams | undefined;
  if (prompt.trimmed) {
    trimmed = { askId, ...prompt.trimmed, promptTokens: prompt.tokens.length, promptTokenLimit: tokenLimit };
    log.info('surrounding lines cut to fit the context', { ...prompt.trimmed, promptTokens: prompt.tokens.length });
    notify(ContextTrimmedNotification, trimmed);
  }

  const temperature = options.temperature ?? 0;
  const generateOptions: GenerateOptions = {
    mode,
    maxTokens,
    thinkingBudget: options.thinkingBudget,
    startInThinking: prompt.startInThinking,
    sampling: temperature === 0 ? { greedy: true } : { greedy: false, temperature, topP: options.topP, seed: options.seed },
    exit: options.exit ? { ...options.exit } : undefined,
    signal,
  };

  const startedAt = Date.now();
  let firstTokenAt: number | undefined;
  let answerAt: number | undefined;
  let thinkingText = '';
  let answerText = '';
  let exit: ThinkingExitParams | undefined;
  let stats: GenerationStats | undefined;
  let finishReason: AskResult['finishReason'] = 'error';
  let error: string | undefined;

  setPhase('prefill');
  for await (const event of engine.generate(prompt.tokens, generateOptions)) {
    switch (event.type) {
      case 'prefill':
        notify(PrefillProgressNotification, { askId, processed: event.processed, total: event.total });
        break;
      case 'delta':
        firstTokenAt ??= Date.now();
        if (event.phase === 'thinking') {
          thinkingText += event.text;
          setPhase('thinking');
        } else {
          answerText += event.text;
          answerAt ??= Date.now();
          setPhase('answer');
        }
        notify(DeltaNotification, { askId, phase: event.phase, text: event.text, tokens: event.tokens });
        break;
      case 'signals': {
        const { type: _type, ...rest } = event;
        notify(SignalsNotification, { askId, ...rest });
        break;
      }
      case 'probe': {
        const { type: _type, ...rest } = event;
        notify(ProbeNotification, { askId, ...rest });
        break;
      }
      case 'exit': {
        const { type: _type, ...rest } = event;
        const elapsedSeconds = (Date.now() - (firstTokenAt ?? startedAt)) / 1000;
        const tokensPerSecond = elapsedSeconds > 0 ? event.position / elapsedSeconds : 0;
        const predictedSavedSeconds = tokensPerSecond > 0 ? event.predictedRemainingTokens / tokensPerSecond : 0;
        exit = { askId, ...rest, predictedSavedSeconds };
        log.debug('thinking cut', { reason: event.reason, position: event.position, predictedRemainingTokens: event.predictedRemainingTokens });
        notify(ThinkingExitNotification, exit);
        break;
      }
      case 'notice':
        log.info(`engine notice: ${event.message}`);
        notify(NoticeNotification, { askId, message: event.message });
        break;
      case 'stats':
        stats = event.stats;
        break;
      case 'done':
        finishReason = event.reason;
        error = event.error;
        break;
      case 'tokens':
        break;
    }
  }
  setPhase('done');

  const finishedAt = Date.now();
  const timings = {
    queueMs: startedAt - receivedAt,
    timeToAnswerMs: (answerAt ?? finishedAt) - receivedAt,
    totalMs: finishedAt - receivedAt,
  };
  const result: AskResult = {
    askId,
    finishReason,
    thinking: thinkingText,
    answer: answerText,
    mode,
    model: model.name,
    exit,
    stats: stats ?? emptyStats(prompt.tokens.length),
    timings,
    trimmed,
  };

  if (finishReason === 'error') {
    log.error('generation failed', { error });
    throw new ResponseError(SpecExitErrorCodes.generationFailed, `the generation failed: ${error ?? 'unknown engine error'}`);
  }
  if (finishReason === 'aborted') {
    throw new ResponseError(LspErrorCodes.requestCancelled, 'the ask was cancelled', result);
  }
  log.debug('ask finished', { finishReason, stats: result.stats, timings });
  notify(StatsNotification, { askId, stats: result.stats, timings });
  return result;
}

function emptyStats(promptTokens: number): GenerationStats {
  return {
    promptTokens,
    prefillMs: 0,
    timeToFirstTokenMs: 0,
    decodeMs: 0,
    decodeTokensPerSecond: 0,
    steps: 0,
    draftedTokens: 0,
    acceptedDraftTokens: 0,
    meanAcceptedPerStep: 0,
    thinkingTokens: 0,
    answerTokens: 0,
    generatedTokens: 0,
    probes: 0,
    probeMs: 0,
  };
}
