/** Events a generation streams, in order: prefill progress, then deltas and per-step signals, at most one exit, then stats and done. */

/** The three exit signals. */
export interface SignalValues {
  /** Probability that the answer is already settled, 0 to 1. */
  confidence: number;
  /** Estimated fraction of the thinking done, 0 to 1. */
  progress: number;
  /** Predicted thinking tokens still to come. */
  remain: number;
}

export type Phase = 'thinking' | 'answer';

/** Text of one phase. Deltas never split a UTF-8 character and never contain `<think>` or `</think>`. */
export interface DeltaEvent {
  type: 'delta';
  phase: Phase;
  text: string;
  /** Tokens of this phase generated so far, those of `text` included; counted as `GenerationStats` counts them. */
  tokens: number;
}

/** Generated token ids in order, forced ones and phase markers included (only with `reportTokens`). */
export interface TokensEvent {
  type: 'tokens';
  tokens: number[];
}

/** Prompt processing progress, after each batch. */
export interface PrefillEvent {
  type: 'prefill';
  /** Prompt tokens processed so far. */
  processed: number;
  /** Prompt tokens to process (the prompt's last token is decoded with the first step). */
  total: number;
}

/** SpecExit signals after a verification step while thinking (mode `specexit` only). */
export interface SignalsEvent {
  type: 'signals';
  /** Verification step, counted from 1. */
  step: number;
  /** Tokens generated up to and including this step. */
  position: number;
  /** Mean over the tokens this step accepted, before smoothing. */
  raw: SignalValues;
  /** Exponential moving average after folding this step in. */
  smoothed: SignalValues;
}

/** A probe at a step boundary (mode `probe` only). */
export interface ProbeEvent {
  type: 'probe';
  step: number;
  position: number;
  /** Mean probability of the greedy probe tokens. */
  score: number;
}

/** Thinking was cut: `</think>` is forced after `position` generated tokens. */
export interface ExitEvent {
  type: 'exit';
  /** Cause of the cut: the SpecExit signals, a probe, or the thinking budget. */
  reason: 'specexit' | 'probe' | 'budget';
  step: number;
  /** Tokens generated before the forced `</think>`. */
  position: number;
  /** Smoothed signals that allowed the exit (zeros without a signal head). */
  signals: SignalValues;
  /** Thinking tokens the model predicted it would still write (`signals.remain`). */
  predictedRemainingTokens: number;
  /** Probe score for probe exits, else 0. */
  probeScore: number;
}

/** Something degraded but the generation goes on, such as a draft that failed. */
export interface NoticeEvent {
  type: 'notice';
  message: string;
}

export interface GenerationStats {
  promptTokens: number;
  prefillMs: number;
  /** From the call to the first generated token. */
  timeToFirstTokenMs: number;
  decodeMs: number;
  /** `generatedTokens` over `decodeMs`; forced tokens, decoded in one batch, count too. */
  decodeTokensPerSecond: number;
  /** Target verification passes, forced-token passes excluded. */
  steps: number;
  draftedTokens: number;
  acceptedDraftTokens: number;
  /** Tokens gained per verification pass, the target's own token included (1 without a draft). */
  meanAcceptedPerStep: number;
  /** Tokens shown as thinking, a forced budget wrap-up included. */
  thinkingTokens: number;
  answerTokens: number;
  /** Every generated or forced token: thinking, answer, and the `<think>` and `</think>` markers, which count in neither phase. */
  generatedTokens: number;
  /** Probes, or forced answers in mode `trace`. */
  probes: number;
  probeMs: number;
}

export interface StatsEvent {
  type: 'stats';
  stats: GenerationStats;
}

export type FinishReason = 'eos' | 'max_tokens' | 'context' | 'aborted' | 'error';

/** The last event of every generation. */
export interface DoneEvent {
  type: 'done';
  reason: FinishReason;
  /** Set when `reason` is `error`. */
  error?: string;
}

/**
 * Mode `trace`: hidden states at a step-boundary token inside the thinking. Each array holds the rows entering the
 * three trace layers, concatenated: `[3][hiddenSize]`, the layout a signal head's weight rows read.
 */
export interface FeaturesEvent {
  type: 'features';
  /** Thinking tokens up to and including the boundary token. */
  thinkingPosition: number;
  /** The boundary token's id. */
  token: number;
  /** Rows of the boundary token. */
  features: Float32Array;
  /** Mean rows of the thinking tokens after the previous boundary, up to and including this one. */
  segmentMean: Float32Array;
  /** Tokens in `segmentMean`. */
  segmentTokens: number;
}

/** Mode `trace` with `trace.answerTokens`: the answer forced right after a boundary, decoded greedily and then removed from the KV cache. */
export interface ForcedAnswerEvent {
  type: 'forcedAnswer';
  /** Thinking tokens up to and including the boundary token, as in the matching `features` event. */
  thinkingPosition: number;
  /** Answer text after `</think>` and the answer prefix. */
  text: string;
  tokens: number[];
}

export type EngineEvent =
  | DeltaEvent
  | TokensEvent
  | PrefillEvent
  | SignalsEvent
  | ProbeEvent
  | ExitEvent
  | NoticeEvent
  | StatsEvent
  | DoneEvent
  | FeaturesEvent
  | ForcedAnswerEvent;
