/**
 * The JSON-RPC protocol between the SpecExit daemon and its clients (the VS Code extension and the `specexit` CLI).
 *
 * Every method and notification is declared here once, and both sides import these constants; no other file
 * spells a method name. Transport framing is the LSP one (`Content-Length` headers). The lifecycle is LSP's:
 * `initialize`, `initialized`, then any request, then `shutdown` and `exit`. On a shared socket daemon `exit`
 * closes only the connection that sent it; a daemon started for one client over stdio exits with it.
 *
 * Streamed notifications of an ask carry the `askId` the client chose in `AskParams`, because JSON-RPC request ids
 * are not visible to notification handlers. Times are milliseconds and sizes are bytes unless a field states
 * otherwise.
 */
import { NotificationType, NotificationType0, RequestType, RequestType0 } from 'vscode-jsonrpc';

import type {
  ExitEvent,
  FinishReason,
  GenerationStats,
  Phase,
  ProbeEvent,
  SignalsEvent,
} from './engine/events.ts';
export type { ExitEvent, FinishReason, GenerationStats, Phase, ProbeEvent, SignalsEvent };
export type { SignalValues } from './engine/events.ts';

/** Version of this protocol. `initialize` returns it, so a client can reject a daemon with another major version. */
export const PROTOCOL_VERSION = '1.0.0';

/**
 * Decoding mode of an ask: `vanilla` (target only), `eagle3` (speculative decoding), `specexit` (speculative
 * decoding plus the early thinking exit) or `probe` (a DEER-style probing exit). The engine's other modes are
 * not offered to clients.
 */
export type Mode = 'vanilla' | 'eagle3' | 'specexit' | 'probe';

/** Every `Mode`, in the order above. */
export const MODES: readonly Mode[] = ['vanilla', 'eagle3', 'specexit', 'probe'];

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Application error codes, outside the range JSON-RPC reserves (-32768 to -32000). Protocol errors use the
 * standard codes: -32700 parse error (malformed JSON, invalid UTF-8, an oversized message), -32600 invalid
 * request (a request after `shutdown`), -32601 method not found, -32602 invalid params, -32002 server not
 * initialized, and -32800 request cancelled.
 */
export const SpecExitErrorCodes = {
  /** A model file does not exist. The message names the file and how to get it. */
  modelFileMissing: 1001,
  /** A model file exists but the engine rejected it (not a GGUF, a draft for another target, a bad sidecar). */
  modelInvalid: 1002,
  /** No model of that name is registered with the daemon. */
  modelNotFound: 1003,
  /** The ask's mode needs a file the model lacks, such as a draft for `eagle3`. */
  modeUnavailable: 1004,
  /** The queue already contains `DaemonLimits.maxQueueLength` asks. */
  queueFull: 1005,
  /** The engine failed during the generation; the message carries its error. */
  generationFailed: 1006,
  /** The daemon is shutting down and takes no new work. */
  daemonStopping: 1007,
  /** The question and selection alone do not fit the context; the message gives both token counts. */
  promptTooLong: 1008,
} as const;

export type SpecExitErrorCode = (typeof SpecExitErrorCodes)[keyof typeof SpecExitErrorCodes];

/** The LSP error codes the daemon uses besides JSON-RPC's own. */
export const LspErrorCodes = {
  /** A request other than `initialize` came before `initialize`. */
  serverNotInitialized: -32002,
  /** The request was cancelled with `$/cancelRequest` or because its client disconnected. */
  requestCancelled: -32800,
} as const;

/** The `data` of a `ResponseError` with code `modelFileMissing`. */
export interface ModelFileMissingData {
  /** Absolute path of the missing file. */
  path: string;
  /** Role of the file in the model. */
  role: 'target' | 'draft' | 'signals';
}

// ---------------------------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------------------------

/** A model's files, as settings, CLI flags or a config file give them. Relative paths resolve against the daemon's working directory. */
export interface ModelSpec {
  /** Unique name used by `AskOptions.model` and `LoadModelParams.model`. `embedded` is taken by the embedded model. */
  name: string;
  /** GGUF of the target model. */
  target: string;
  /** GGUF of an EAGLE-3 draft for the target; needed by modes `eagle3`, `specexit` and `probe`. */
  draft?: string;
  /** Signal-head sidecar (safetensors); needed by mode `specexit`. Without it `specexit` runs as `eagle3` with a notice. */
  signals?: string;
  /** KV cache size in tokens. Default 4096. */
  contextSize?: number;
}

/** Daemon settings a client may pass as `initializationOptions` (the extension sends its `specexit.*` settings). */
export interface InitializationOptions {
  /** Models to register besides the embedded one. A registered name is replaced, but a loaded model keeps its files. */
  models?: ModelSpec[];
  /** Model used by asks that name none. Default: the daemon's default (the embedded model unless configured). */
  defaultModel?: string;
}

/** The subset of LSP's `InitializeParams` the daemon reads. Other fields are accepted and ignored. */
export interface InitializeParams {
  /** Process id of the client, or null. */
  processId: number | null;
  clientInfo?: { name: string; version?: string };
  initializationOptions?: InitializationOptions;
  /** LSP client capabilities; the daemon uses none of them. */
  capabilities?: object;
}

export interface InitializeResult {
  /** LSP server capabilities: empty, because the daemon implements no language features. */
  capabilities: Record<string, never>;
  serverInfo: { name: 'specexit-daemon'; version: string };
  /** The daemon's own facts, so a client need not send `status` first. */
  specexit: {
    protocolVersion: string;
    /** Process id of the daemon, which differs from the stdio process when that relays to a shared daemon. */
    pid: number;
    /** Socket or named pipe the daemon listens on, or null when it serves stdio only. */
    socketPath: string | null;
  };
}

export const InitializeRequest = new RequestType<InitializeParams, InitializeResult, void>('initialize');
export const InitializedNotification = new NotificationType<object>('initialized');
/** After `shutdown` the connection rejects every request with -32600 until `exit`. */
export const ShutdownRequest = new RequestType0<null, void>('shutdown');
export const ExitNotification = new NotificationType0('exit');

/**
 * Stops the shared daemon for every client, after sending the response. The extension's "Restart daemon" sends it and then
 * reconnects, which starts a fresh daemon.
 */
export const StopDaemonRequest = new RequestType0<null, void>('specexit/stopDaemon');

// ---------------------------------------------------------------------------------------------------------------
// Ask
// ---------------------------------------------------------------------------------------------------------------

/** Code the question is about. Every field is optional; a context with only `path` names the file. */
export interface CodeContext {
  /** File path as the user sees it (workspace-relative or absolute). */
  path?: string;
  /** VS Code language id, such as `python`. */
  languageId?: string;
  /** The selected text. It is never cut when the prompt is too long; the surrounding lines go first. */
  selection?: {
    text: string;
    /** First selected line, counted from 1. */
    startLine: number;
    /** Last selected line, counted from 1, inclusive. */
    endLine: number;
  };
  /** Lines before the selection, in file order. When the prompt is too long they are cut from the top. */
  before?: string;
  /** Lines after the selection, in file order. When the prompt is too long they are cut from the bottom. */
  after?: string;
}

/** Sampling settings; `temperature` 0 (the default) is greedy decoding. */
export interface SamplingSettings {
  /** 0 for greedy decoding, else 0.01 to 2. Default 0. */
  temperature?: number;
  /** Nucleus sampling mass, 0 to 1 exclusive of 0. Default 0.95. Ignored when greedy. */
  topP?: number;
  /** Seed of the sampler. Default 0. */
  seed?: number;
}

export interface AskOptions extends SamplingSettings {
  /**
   * Decoding mode. Default `specexit`. A model without a signal sidecar runs it as `eagle3`, and one without a
   * draft runs every mode as `vanilla`, each with a notice.
   */
  mode?: Mode;
  /** Let the model think before answering. Default true. False renders the template with `enable_thinking` false. */
  thinking?: boolean;
  /** Thinking tokens before Qwen's wrap-up sentence and `</think>` are forced. Default: no budget. */
  thinkingBudget?: number;
  /** Generated tokens, thinking and answer together. Default 1024. */
  maxTokens?: number;
  /** Name of a registered model (see `ModelsRequest`). Default: the daemon's default model. */
  model?: string;
  /** The SpecExit exit rule (mode `specexit` only). Each field defaults to the signal sidecar's value. */
  exit?: ExitRuleSettings;
}

/** The exit rule: thinking is cut at a step boundary once confidence and progress exceed and remain falls below their thresholds. */
export interface ExitRuleSettings {
  /** False runs `specexit` like `eagle3` while still streaming signals. Default true. */
  enabled?: boolean;
  /** Smoothed confidence must exceed this, 0 to 1. Default: the sidecar's, else 0.8. */
  confidenceThreshold?: number;
  /** Smoothed progress must exceed this, 0 to 1. Default: the sidecar's, else 0.3. */
  progressThreshold?: number;
  /** Smoothed predicted remaining thinking tokens must be below this. Default: the sidecar's, else 200. */
  remainThreshold?: number;
}

export interface AskParams {
  /** Client-chosen id, unique among this client's running asks; every streamed notification of the ask carries it. */
  askId: string;
  question: string;
  context?: CodeContext;
  options?: AskOptions;
}

/** Time spent in the daemon around the engine's own statistics. */
export interface AskTimings {
  /** From receiving the ask to the start of its generation: queue wait and any model load. */
  queueMs: number;
  /** From receiving the ask to the first answer text, or to the end when there was none. */
  timeToAnswerMs: number;
  /** From receiving the ask to its result. */
  totalMs: number;
}

export interface AskResult {
  askId: string;
  finishReason: FinishReason;
  /** The whole thinking text, as streamed. */
  thinking: string;
  /** The whole answer text, as streamed. */
  answer: string;
  /** The mode that ran (`eagle3` when `specexit` fell back for lack of a signal sidecar). */
  mode: Mode;
  /** Name of the model that answered. */
  model: string;
  /** Set when thinking was cut. */
  exit?: ThinkingExitParams;
  stats: GenerationStats;
  timings: AskTimings;
  /** Set when the prompt was cut to fit the context. */
  trimmed?: ContextTrimmedParams;
}

/**
 * Asks a question. The result comes when the answer is complete; meanwhile the daemon streams the notifications
 * below. Cancel with `$/cancelRequest`: a queued ask leaves the queue, a running one stops within one engine step,
 * and the request fails with -32800.
 */
export const AskRequest = new RequestType<AskParams, AskResult, void>('specexit/ask');

/** Stage of an ask. Phases come in this order, and any of them may be skipped. */
export type AskPhase = 'queued' | 'loading' | 'prefill' | 'thinking' | 'answer' | 'done';

export interface AskPhaseParams {
  askId: string;
  phase: AskPhase;
}
export const AskPhaseNotification = new NotificationType<AskPhaseParams>('specexit/askPhase');

export interface QueuePositionParams {
  askId: string;
  /** Asks ahead of this one, the running one included; 0 means it runs now. */
  position: number;
  /** Asks waiting or running in total. */
  queueLength: number;
}
/** Sent when an ask is queued and whenever its position changes. */
export const QueuePositionNotification = new NotificationType<QueuePositionParams>('specexit/queuePosition');

export interface PrefillProgressParams {
  askId: string;
  /** Prompt tokens processed so far. */
  processed: number;
  /** Prompt tokens in all. */
  total: number;
}
export const PrefillProgressNotification = new NotificationType<PrefillProgressParams>('specexit/prefillProgress');

export interface DeltaParams {
  askId: string;
  phase: Phase;
  /** New text. It never splits a UTF-8 character and never contains `<think>` or `</think>`. */
  text: string;
  /**
   * Tokens of this phase generated so far, those of `text` included, in every mode. The phase markers count in
   * neither phase, and a forced budget wrap-up counts as thinking, as in `GenerationStats`. A token without text
   * of its own is counted at the next delta, so the last count of a phase can fall short of the final statistics.
   * Older daemons omit it.
   */
  tokens?: number;
}
export const DeltaNotification = new NotificationType<DeltaParams>('specexit/delta');

/** Smoothed and raw signals of one verification step while thinking (mode `specexit` only). */
export type SignalsParams = Omit<SignalsEvent, 'type'> & { askId: string };
export const SignalsNotification = new NotificationType<SignalsParams>('specexit/signals');

/** One probe at a step boundary (mode `probe` only). */
export type ProbeParams = Omit<ProbeEvent, 'type'> & { askId: string };
export const ProbeNotification = new NotificationType<ProbeParams>('specexit/probe');

/** Thinking was cut: the engine's exit event plus the savings it implies. */
export type ThinkingExitParams = Omit<ExitEvent, 'type'> & {
  askId: string;
  /**
   * Seconds the predicted remaining thinking would have taken at this ask's decode rate so far
   * (`predictedRemainingTokens` over tokens per second). An estimate from the model's own prediction.
   */
  predictedSavedSeconds: number;
};
export const ThinkingExitNotification = new NotificationType<ThinkingExitParams>('specexit/exit');

export interface NoticeParams {
  askId: string;
  /** Something degraded but the ask goes on, such as `specexit` running as `eagle3`. */
  message: string;
}
export const NoticeNotification = new NotificationType<NoticeParams>('specexit/notice');

export interface ContextTrimmedParams {
  askId: string;
  /** Lines cut from the top of `context.before`. */
  beforeLinesRemoved: number;
  /** Lines cut from the bottom of `context.after`. */
  afterLinesRemoved: number;
  /** Prompt tokens after cutting. */
  promptTokens: number;
  /** Tokens the prompt may use: the context size less `maxTokens`. */
  promptTokenLimit: number;
}
/** Sent before generation when the surrounding lines did not fit and were cut. */
export const ContextTrimmedNotification = new NotificationType<ContextTrimmedParams>('specexit/contextTrimmed');

export interface StatsParams {
  askId: string;
  stats: GenerationStats;
  timings: AskTimings;
}
/** Final statistics, sent once just before the ask's result. */
export const StatsNotification = new NotificationType<StatsParams>('specexit/stats');

// ---------------------------------------------------------------------------------------------------------------
// Daemon state, status and models
// ---------------------------------------------------------------------------------------------------------------

/** Activity of the daemon, for the status bar. `error` is the state after a failed model load. */
export type DaemonState = 'starting' | 'loading' | 'ready' | 'thinking' | 'answering' | 'error';

export interface StateParams {
  state: DaemonState;
  /** Name of the loaded or loading model, if any. */
  model?: string;
  /** The error that led to state `error`. */
  message?: string;
}
/** Broadcast to every client on each state change. */
export const StateNotification = new NotificationType<StateParams>('specexit/state');

/** Latency of the last completed ask. */
export interface LastLatency {
  timeToFirstTokenMs: number;
  timeToAnswerMs: number;
  decodeTokensPerSecond: number;
  thinkingTokens: number;
  /** Predicted thinking tokens saved by the exit over thinking tokens written plus saved, 0 without an exit. */
  thinkingSavedShare: number;
}

export interface StatusResult {
  state: DaemonState;
  protocolVersion: string;
  pid: number;
  uptimeMs: number;
  /** The loaded model, if any. */
  model: LoadedModelInfo | null;
  /** Model loads since the daemon started; two clients sharing one daemon cause one load. */
  modelLoads: number;
  /** `gpu` when the loaded model has layers offloaded to a GPU; `none` before a model is loaded. */
  backend: 'cpu' | 'gpu' | 'none';
  /** Devices llama.cpp registered, such as `CPU` or `CUDA0`; empty before a model is loaded. */
  devices: string[];
  /** Asks waiting or running. */
  queueLength: number;
  /** Open client connections. */
  clients: number;
  memory: { rssBytes: number; heapUsedBytes: number };
  lastLatency: LastLatency | null;
  socketPath: string | null;
  /** The daemon exits after this long with no client and no work; 0 disables it. */
  idleTimeoutMs: number;
}
export const StatusRequest = new RequestType0<StatusResult, void>('specexit/status');

export interface ModelInfo {
  name: string;
  /** Origin of the registration: the embedded model, a config file, CLI flags, or a client request. */
  source: 'embedded' | 'config' | 'cli' | 'client';
  target: string;
  draft: string | null;
  signals: string | null;
  contextSize: number;
  /** Files named by the spec that do not exist. A model with a missing target cannot load. */
  missing: string[];
  loaded: boolean;
  isDefault: boolean;
  /** Modes this model's files allow (without the sidecar, `specexit` runs as `eagle3`). */
  modes: Mode[];
}

export interface LoadedModelInfo extends ModelInfo {
  /** The engine's description: architecture, layers, vocabulary, context and GPU layers. */
  architecture: string;
  layers: number;
  vocabularySize: number;
  gpuLayers: number;
  /** Time the load took. */
  loadMs: number;
}

export interface ModelsResult {
  defaultModel: string;
  models: ModelInfo[];
}
export const ModelsRequest = new RequestType0<ModelsResult, void>('specexit/models');

export interface LoadModelParams {
  /** A registered model's name. Ignored when `spec` is given. Default: the default model. */
  model?: string;
  /** Registers (or replaces) this model, then loads it. */
  spec?: ModelSpec;
  /**
   * Origin of `spec`, which decides the fix that error messages name: `cli` for the `specexit` command's
   * `--target/--draft/--signals` flags, `client` for an editor's settings. Default `client`.
   */
  source?: 'cli' | 'client';
  /** Also make it the default model. Default false. */
  makeDefault?: boolean;
}

/**
 * Loads a model, queued behind running asks; it unloads the model loaded before. Progress goes to every client
 * as `LoadProgressNotification`. A model already loaded returns at once.
 */
export const LoadModelRequest = new RequestType<LoadModelParams, LoadedModelInfo, void>('specexit/loadModel');

export interface LoadProgressParams {
  model: string;
  kind: 'begin' | 'end' | 'failed';
  /** Label for a progress bar. */
  message: string;
  /** Milliseconds since the load began; set on `end` and `failed`. */
  elapsedMs?: number;
}
/**
 * Broadcast at the start and end of every model load. The native loader reports no fraction done, so this
 * carries no percentage.
 */
export const LoadProgressNotification = new NotificationType<LoadProgressParams>('specexit/loadProgress');

// ---------------------------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------------------------

/** Limits the daemon enforces, with their defaults. */
export const DaemonLimits = {
  /** Largest message body accepted; a larger one gets a -32700 error and is skipped. */
  maxMessageBytes: 4 * 1024 * 1024,
  /** Asks waiting or running before new ones fail with `queueFull`. */
  maxQueueLength: 256,
  /** Longest `question`, in characters. */
  maxQuestionChars: 100_000,
  /** Default idle time before the daemon exits: 10 minutes. */
  idleTimeoutMs: 10 * 60 * 1000,
} as const;
