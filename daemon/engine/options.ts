/** Options of Engine.load and Engine.generate, with their defaults. */
import type { Logger } from '../log.ts';

/**
 * `trace` is `vanilla` decoding that also streams, at each step boundary inside the thinking, the hidden states a
 * signal head reads (`features` events) and optionally the answer that forcing `</think>` there gives
 * (`forcedAnswer` events). Calibration fits signal heads on them.
 */
export type Mode = 'vanilla' | 'eagle3' | 'specexit' | 'probe' | 'trace';

export interface LoadOptions {
  /** GGUF of the target model (Llama, Qwen2 or Qwen3 family). */
  targetPath: string;
  /** GGUF of an EAGLE-3 draft made for this target. Needed by modes `eagle3` and `specexit`. */
  draftPath?: string;
  /** Signal-head sidecar (safetensors) for the target. Needed by mode `specexit`. */
  signalsPath?: string;
  /** Threads for token-by-token decoding. Default: half the available cores, at least 1. */
  threads?: number;
  /** Threads for prompt and verification batches. Default: `threads`. */
  threadsBatch?: number;
  /** KV cache size in tokens. Default 4096. llama.cpp rounds it up to a multiple of 256; `description.contextSize` gives the size used. */
  contextSize?: number;
  /** Largest batch handed to llama_decode, in tokens. Default 512. */
  batchSize?: number;
  /** Layers to offload to a GPU; -1 offloads all when a GPU backend loads, else none. Default -1. */
  gpuLayers?: number;
  /**
   * Flash attention: `auto` lets llama.cpp decide per device. Default: `off` on CPU, where it makes the small
   * batches of drafts and probes several times slower, and `auto` with a GPU.
   */
  flashAttention?: 'auto' | 'on' | 'off';
  /** Set false to skip loading GPU backends. Default true. */
  gpu?: boolean;
  /** Receives load progress and llama.cpp's log lines. */
  logger?: Logger;
}

export interface SamplingOptions {
  /** Greedy decoding. Default true; false samples with temperature and top-p. */
  greedy?: boolean;
  /** Default 0.8. */
  temperature?: number;
  /** Default 0.95. */
  topP?: number;
  /** Seed of the sampler's random generator. Default 0. */
  seed?: number;
}

export interface ExitOptions {
  /** Default true in mode `specexit`; false runs it like `eagle3` while still reporting signals. */
  enabled?: boolean;
  /** EWMA weight of the newest step. Default: the sidecar's, else 0.1. */
  alpha?: number;
  /** Default: the sidecar's, else 0.8. */
  confidenceThreshold?: number;
  /** Default: the sidecar's, else 0.3. */
  progressThreshold?: number;
  /** Predicted remaining tokens must be below this. Default: the sidecar's, else 200. */
  remainThreshold?: number;
  /** Token ids that end a reasoning step. Default: the vocabulary's "\n\n", ".\n\n", " \n\n" and three-newline tokens. */
  boundaryTokens?: number[];
}

export interface ProbeOptions {
  /** Greedy tokens decoded per probe. Default 4. */
  tokens?: number;
  /** Exit when their mean probability exceeds this. Default 0.9. */
  threshold?: number;
  /** Text forced after `</think>` before the probe tokens. Default DEFAULT_ANSWER_PREFIX. */
  answerPrefix?: string;
}

export interface TraceOptions {
  /** Target layer inputs to record, three indices. Default: the draft's `eagle3.target_layers`, else the signal head's. */
  layers?: [number, number, number];
  /** Greedy tokens of the forced answer decoded at each boundary, 0 to 4096. Default 0: no forced answers. */
  answerTokens?: number;
  /** Text forced after `</think>` before each forced answer. Default none, as a SpecExit exit forces only `</think>`. */
  answerPrefix?: string;
}

export interface GenerateOptions {
  /** Default `vanilla`. */
  mode?: Mode;
  sampling?: SamplingOptions;
  /** Generated tokens, thinking and answer together. Default 512. */
  maxTokens?: number;
  /** Thinking tokens before the wrap-up sentence and `</think>` are forced. Default: no budget. */
  thinkingBudget?: number;
  /** The rendered prompt already opened `<think>`. Default false. */
  startInThinking?: boolean;
  /** Maximum draft tokens per step. Default 4. */
  draftTokens?: number;
  exit?: ExitOptions;
  probe?: ProbeOptions;
  /** Mode `trace` only. */
  trace?: TraceOptions;
  /** Also stream the generated token ids as `tokens` events. Default false. */
  reportTokens?: boolean;
  /** Aborting stops the generation within one step; the stream then ends with reason `aborted`. */
  signal?: AbortSignal;
}

/** Qwen3's wrap-up sentence for a spent thinking budget, forced before `</think>`. */
export const BUDGET_WRAPUP =
  '\n\nConsidering the limited time by the user, I have to give the solution based on the thinking directly now.\n';

/** The answer prefix DEER-style probes append after `</think>`. */
export const DEFAULT_ANSWER_PREFIX = '\n\n**Final Answer**\n';

export const DEFAULT_CONTEXT_SIZE = 4096;
