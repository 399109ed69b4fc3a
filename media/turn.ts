/**
 * One question and its streamed reply, as the chat shows it and the history stores it. Pure data and
 * functions without DOM or `vscode`, so the extension host and the webview build the same state.
 */

/** The three SpecExit signals after one verification step, smoothed. */
export interface SignalPoint {
  step: number;
  /** Tokens generated up to and including this step. */
  position: number;
  /** Probability that the answer is already settled, 0 to 1. */
  confidence: number;
  /** Estimated fraction of the thinking done, 0 to 1. */
  progress: number;
  /** Predicted thinking tokens still to come. */
  remain: number;
}

/** The position of a thinking cut and the signals that allowed it. */
export interface ExitInfo {
  /** Cause of the cut: the SpecExit signals, a probe, or the thinking budget. */
  reason: 'specexit' | 'probe' | 'budget';
  step: number;
  /** Tokens generated before the forced `</think>`. */
  position: number;
  confidence: number;
  progress: number;
  /** Thinking tokens the model predicted it would still write. */
  predictedRemainingTokens: number;
  /** The daemon's estimate of the seconds those tokens would have taken, at the decode rate before the exit. */
  predictedSavedSeconds?: number;
  /** Milliseconds from the ask to the exit. */
  timeMs: number;
}

/** Final statistics of one answer. */
export interface TurnStats {
  promptTokens: number;
  timeToFirstTokenMs: number;
  /** Milliseconds from the ask to the first answer token (after thinking). */
  timeToAnswerMs?: number;
  decodeTokensPerSecond: number;
  thinkingTokens: number;
  answerTokens: number;
  meanAcceptedPerStep: number;
}

/** The code a question is about. */
export interface CodeLocation {
  /** Workspace-relative path, or the file name of an untitled document. */
  file: string;
  languageId: string;
  /** First and last line, counted from 1. */
  startLine: number;
  endLine: number;
}

export type TurnStatus = 'queued' | 'prefill' | 'thinking' | 'answering' | 'done' | 'stopped' | 'error';

export interface Turn {
  id: string;
  question: string;
  context?: CodeLocation;
  status: TurnStatus;
  thinking: string;
  answer: string;
  /** Thinking tokens so far, as the daemon counted them. */
  thinkingTokens: number;
  /** Milliseconds from the ask to the first thinking token and to the end of thinking. */
  thinkingStartMs?: number;
  thinkingEndMs?: number;
  /** Prompt tokens processed and to process, while the prompt is read. */
  prefill?: { processed: number; total: number };
  signals: SignalPoint[];
  exit?: ExitInfo;
  stats?: TurnStats;
  notices: string[];
  error?: string;
  /** Wall-clock time of the ask, ms since the Unix epoch. */
  createdAt: number;
}

/** Stream events of one turn. `timeMs` is milliseconds since the ask was sent, on the host's clock. */
export type TurnEvent =
  | { type: 'prefill'; timeMs: number; processed: number; total: number }
  | { type: 'delta'; timeMs: number; phase: 'thinking' | 'answer'; text: string; /** Thinking or answer tokens of this phase so far. */ tokens?: number }
  | { type: 'signals'; timeMs: number; point: SignalPoint }
  | { type: 'exit'; timeMs: number; exit: Omit<ExitInfo, 'timeMs'> }
  | { type: 'notice'; timeMs: number; message: string }
  | { type: 'stats'; timeMs: number; stats: TurnStats }
  | { type: 'done'; timeMs: number; reason: 'finished' | 'stopped' | 'error'; error?: string };

export function createTurn(id: string, question: string, context?: CodeLocation, createdAt = Date.now()): Turn {
  return { id, question, context, status: 'queued', thinking: '', answer: '', thinkingTokens: 0, signals: [], notices: [], createdAt };
}

/** Folds one stream event into the turn, in place. */
export function applyTurnEvent(turn: Turn, event: TurnEvent): void {
  switch (event.type) {
    case 'prefill':
      turn.status = 'prefill';
      turn.prefill = { processed: event.processed, total: event.total };
      break;
    case 'delta':
      applyDelta(turn, event);
      break;
    case 'signals':
      turn.signals.push(event.point);
      turn.thinkingTokens = Math.max(turn.thinkingTokens, event.point.position);
      break;
    case 'exit':
      turn.exit = { ...event.exit, timeMs: event.timeMs };
      turn.thinkingEndMs ??= event.timeMs;
      break;
    case 'notice':
      turn.notices.push(event.message);
      break;
    case 'stats':
      turn.stats = { ...event.stats, timeToAnswerMs: event.stats.timeToAnswerMs ?? turn.thinkingEndMs };
      turn.thinkingTokens = event.stats.thinkingTokens;
      break;
    case 'done':
      turn.status = event.reason === 'finished' ? 'done' : event.reason;
      if (event.error) turn.error = event.error;
      if (turn.thinkingStartMs !== undefined) turn.thinkingEndMs ??= event.timeMs;
      break;
  }
}

function applyDelta(turn: Turn, event: Extract<TurnEvent, { type: 'delta' }>): void {
  if (event.phase === 'thinking') {
    turn.status = 'thinking';
    turn.thinkingStartMs ??= event.timeMs;
    turn.thinking += event.text;
    if (event.tokens !== undefined) turn.thinkingTokens = Math.max(turn.thinkingTokens, event.tokens);
    return;
  }
  turn.status = 'answering';
  if (turn.thinkingStartMs !== undefined) turn.thinkingEndMs ??= event.timeMs;
  turn.answer += event.text;
}

/** Returns true while the turn still streams. */
export function isTurnActive(turn: Turn): boolean {
  return turn.status === 'queued' || turn.status === 'prefill' || turn.status === 'thinking' || turn.status === 'answering';
}

/** Estimated saving of an early exit. */
export interface ExitSaving {
  /** Thinking tokens not generated, from the model's remain prediction. */
  tokens: number;
  /** Those tokens at the measured thinking rate, in seconds. */
  seconds: number;
  /** Saved tokens over all thinking tokens the model would have written, 0 to 1. */
  share: number;
}

/**
 * Estimates what an exit saved: the model's own prediction of the thinking tokens still to come, timed at the
 * measured rate. The rate is the daemon's (`predictedSavedSeconds`) when it sent one, else thinking tokens
 * over thinking time, else the decode rate of the final statistics. Returns undefined without an exit.
 */
export function estimateExitSaving(turn: Turn): ExitSaving | undefined {
  const exit = turn.exit;
  if (!exit) return undefined;
  const tokens = Math.max(0, Math.round(exit.predictedRemainingTokens));
  const rate = measuredTokensPerSecond(turn);
  const seconds = exit.predictedSavedSeconds ?? (rate > 0 ? tokens / rate : 0);
  const thought = Math.max(exit.position, turn.thinkingTokens);
  const share = tokens + thought > 0 ? tokens / (tokens + thought) : 0;
  return { tokens, seconds, share };
}

function measuredTokensPerSecond(turn: Turn): number {
  const exit = turn.exit;
  const startMs = turn.thinkingStartMs;
  const endMs = exit?.timeMs ?? turn.thinkingEndMs;
  const tokens = exit?.position ?? turn.thinkingTokens;
  if (startMs !== undefined && endMs !== undefined && endMs > startMs && tokens > 0) return tokens / ((endMs - startMs) / 1000);
  return turn.stats?.decodeTokensPerSecond ?? 0;
}

/** Seconds spent thinking: until the exit or the first answer token, or until `nowMs` while still thinking. */
export function thinkingSeconds(turn: Turn, nowMs?: number): number {
  if (turn.thinkingStartMs === undefined) return 0;
  const endMs = turn.thinkingEndMs ?? nowMs ?? turn.thinkingStartMs;
  return Math.max(0, (endMs - turn.thinkingStartMs) / 1000);
}

/**
 * Keeps at most `max` points, evenly spread, always the first and the last. The history stores downsampled
 * signals, because a long answer has thousands of steps.
 */
export function downsampleSignals(points: SignalPoint[], max: number): SignalPoint[] {
  if (points.length <= max || max < 2) return points.slice(0, Math.max(max, 0));
  const result: SignalPoint[] = [];
  const stride = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) result.push(points[Math.round(i * stride)]!);
  return result;
}
