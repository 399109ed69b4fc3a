/** The engine the daemon drives: a target model with an optional EAGLE-3 draft and SpecExit signal head. */
import { availableParallelism } from 'node:os';

import { createLogger, type Logger } from '../log.ts';
import type { EngineEvent } from './events.ts';
import { loadNative, type BackendReport, type NativeAddon, type NativeDescription, type NativeEngine } from './native.ts';
import {
  BUDGET_WRAPUP,
  DEFAULT_ANSWER_PREFIX,
  DEFAULT_CONTEXT_SIZE,
  type GenerateOptions,
  type LoadOptions,
} from './options.ts';
import { readSignalSidecar, type SignalSidecar } from './sidecar.ts';

// ggml level numbers, as llama.cpp's log callback reports them.
const GGML_LOG_WARN = 3;
const GGML_LOG_ERROR = 4;

export class Engine {
  /** Models, context and special tokens as loaded. */
  readonly description: NativeDescription;
  /** Devices llama.cpp registered, and GPU libraries that failed. */
  readonly backends: BackendReport;
  /** The signal head, when one was loaded. */
  readonly sidecar: SignalSidecar | undefined;

  private readonly native: NativeEngine;
  private readonly addon: NativeAddon;
  private readonly logger: Logger;
  private readonly wrapupTokens: Int32Array;
  private readonly defaultAnswerPrefixTokens: Int32Array;
  private disposed = false;

  private constructor(native: NativeEngine, addon: NativeAddon, backends: BackendReport, sidecar: SignalSidecar | undefined, logger: Logger) {
    this.native = native;
    this.addon = addon;
    this.backends = backends;
    this.sidecar = sidecar;
    this.logger = logger;
    this.description = native.describe();
    this.wrapupTokens = native.tokenize(BUDGET_WRAPUP, false, false);
    this.defaultAnswerPrefixTokens = native.tokenize(DEFAULT_ANSWER_PREFIX, false, false);
  }

  /** Loads the models off the JavaScript thread. Rejects with an error naming the file and the fix on bad input. */
  static async load(options: LoadOptions): Promise<Engine> {
    checkOptionKeys(options, LOAD_OPTION_KEYS, 'options');
    if (options.gpu !== undefined && typeof options.gpu !== 'boolean') {
      throw new TypeError(`Expected \`options.gpu\` to be a boolean, got ${JSON.stringify(options.gpu)}`);
    }
    const logger = options.logger ?? createLogger('engine');
    const { addon, backends } = loadNative({ gpu: options.gpu });

    const gpus = backends.devices.filter((device) => device.type === 'gpu' || device.type === 'igpu');
    if (gpus.length > 0) {
      logger.info(`GPU backend: ${gpus.map((device) => `${device.name} (${device.description})`).join(', ')}`);
    } else {
      const reasons = backends.failures.map((failure) => failure.reason).join('; ');
      logger.info(`no GPU backend loaded${reasons ? ` (${reasons})` : ''}; running on CPU`);
    }

    const sidecar = options.signalsPath ? await readSignalSidecar(options.signalsPath) : undefined;
    const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / 2));
    const started = Date.now();
    let native: NativeEngine;
    try {
      native = await addon.Engine.load({
        targetPath: options.targetPath,
        draftPath: options.draftPath,
        threads,
        threadsBatch: options.threadsBatch ?? threads,
        contextSize: options.contextSize ?? DEFAULT_CONTEXT_SIZE,
        batchSize: options.batchSize,
        gpuLayers: options.gpuLayers,
        flashAttention: options.flashAttention,
        signalHead: sidecar && {
          hiddenSize: sidecar.hiddenSize,
          targetLayers: sidecar.targetLayers,
          weight: sidecar.weight,
          bias: sidecar.bias,
          activations: sidecar.activations,
        },
      });
    } finally {
      forwardLog(addon, logger);
    }
    const engine = new Engine(native, addon, backends, sidecar, logger);
    const { target, draft, gpuLayers } = engine.description;
    logger.info(
      `loaded ${target.path} (${target.architecture}, ${target.layers} layers, ${target.vocabularySize} tokens)` +
        (draft ? ` with draft ${draft.path}` : '') +
        (sidecar ? ` and signal head ${options.signalsPath}` : '') +
        `, ${gpuLayers} layers on GPU, ${threads} threads, in ${Date.now() - started} ms`,
    );
    return engine;
  }

  /** Tokenizes text. With `parseSpecial` false (the default), `<|im_end|>` or `</think>` in the text stay plain text. */
  tokenize(text: string, options: { addSpecial?: boolean; parseSpecial?: boolean } = {}): Int32Array {
    return this.native.tokenize(text, options.addSpecial ?? false, options.parseSpecial ?? false);
  }

  detokenize(tokens: Int32Array | number[], options: { special?: boolean } = {}): string {
    return this.native.detokenize(tokens, options.special ?? false);
  }

  /**
   * Starts a generation and returns its event stream. Invalid options, a prompt longer than the context and a
   * disposed engine throw here, before anything runs. One generation runs at a time.
   */
  generate(promptTokens: Int32Array | number[], options: GenerateOptions | null = {}): AsyncIterableIterator<EngineEvent> {
    const { signal, probe, exit, trace, ...rest } = options ?? {};
    checkOptionKeys(options ?? {}, GENERATE_OPTION_KEYS, 'options');
    for (const [name, value, keys] of [['exit', exit, EXIT_OPTION_KEYS], ['probe', probe, PROBE_OPTION_KEYS], ['trace', trace, TRACE_OPTION_KEYS], ['sampling', rest.sampling, SAMPLING_OPTION_KEYS]] as const) {
      if (value !== undefined && value !== null && typeof value === 'object') checkOptionKeys(value, keys, `options.${name}`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`Expected \`options.signal\` to be an AbortSignal, got ${typeof signal}`);
    }
    if (probe?.answerPrefix !== undefined && typeof probe.answerPrefix !== 'string') {
      throw new TypeError(`Expected \`options.probe.answerPrefix\` to be a string, got ${typeof probe.answerPrefix}`);
    }
    if (trace?.answerPrefix !== undefined && typeof trace.answerPrefix !== 'string') {
      throw new TypeError(`Expected \`options.trace.answerPrefix\` to be a string, got ${typeof trace.answerPrefix}`);
    }
    if (signal?.aborted) {
      throw new Error('the generation was aborted before it started');
    }
    const nativeOptions = {
      ...rest,
      budgetWrapupTokens: this.wrapupTokens,
      exit: {
        alpha: this.sidecar?.ewmaAlpha,
        confidenceThreshold: this.sidecar?.confidenceThreshold,
        progressThreshold: this.sidecar?.progressThreshold,
        remainThreshold: this.sidecar?.remainThreshold,
        ...withoutUndefined(exit ?? {}),
      },
      probe: {
        tokens: probe?.tokens,
        threshold: probe?.threshold,
        answerPrefixTokens: probe?.answerPrefix === undefined ? this.defaultAnswerPrefixTokens : this.tokenize(probe.answerPrefix),
      },
      trace: trace && withoutUndefined({
        layers: trace.layers,
        answerTokens: trace.answerTokens,
        answerPrefixTokens: trace.answerPrefix === undefined ? undefined : this.tokenize(trace.answerPrefix),
      }),
    };

    const stream = new EventStream(() => this.native.abort());
    this.native.generate(promptTokens, withoutUndefined(nativeOptions), (events) => {
      stream.push(events);
      if (events.some((event) => event.type === 'done')) {
        signal?.removeEventListener('abort', onAbort);
        forwardLog(this.addon, this.logger);
        const stats = events.find((event) => event.type === 'stats');
        if (stats) this.logger.debug(`generation stats ${JSON.stringify(stats.stats)}`);
      }
    });
    const onAbort = () => this.native.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    return stream;
  }

  /** Stops a running generation within one step. */
  abort(): void {
    this.native.abort();
  }

  /** Aborts any generation, waits for its thread, and frees the models. Later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.native.dispose();
  }
}

function forwardLog(addon: NativeAddon, logger: Logger): void {
  for (const line of addon.takeLog()) {
    if (line.level >= GGML_LOG_ERROR) logger.warn(`llama.cpp: ${line.text}`);
    else if (line.level === GGML_LOG_WARN) logger.debug(`llama.cpp warning: ${line.text}`);
    else logger.debug(`llama.cpp: ${line.text}`);
  }
}

const LOAD_OPTION_KEYS = [
  'targetPath', 'draftPath', 'signalsPath', 'threads', 'threadsBatch', 'contextSize', 'batchSize', 'gpuLayers',
  'flashAttention', 'gpu', 'logger',
];
const GENERATE_OPTION_KEYS = [
  'mode', 'sampling', 'maxTokens', 'thinkingBudget', 'startInThinking', 'draftTokens', 'exit', 'probe', 'trace', 'reportTokens', 'signal',
];
const SAMPLING_OPTION_KEYS = ['greedy', 'temperature', 'topP', 'seed'];
const EXIT_OPTION_KEYS = ['enabled', 'alpha', 'confidenceThreshold', 'progressThreshold', 'remainThreshold', 'boundaryTokens'];
const PROBE_OPTION_KEYS = ['tokens', 'threshold', 'answerPrefix'];
const TRACE_OPTION_KEYS = ['layers', 'answerTokens', 'answerPrefix'];

/** Rejects keys an options object does not know, so that a typo such as `max_tokens` is not silently ignored. */
function checkOptionKeys(options: object, known: readonly string[], name: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option \`${name}.${key}\`; expected one of ${known.join(', ')}`);
    }
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** An async iterator over event batches pushed by the native thread. Leaving the loop early aborts the generation. */
class EventStream implements AsyncIterableIterator<EngineEvent> {
  private readonly queue: EngineEvent[] = [];
  private waiting: ((result: IteratorResult<EngineEvent>) => void) | undefined;
  private finished = false;
  private onFinished: (() => void) | undefined;

  constructor(private readonly onEarlyReturn: () => void) {}

  push(events: EngineEvent[]): void {
    for (const event of events) {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve({ value: event, done: false });
      } else {
        this.queue.push(event);
      }
      if (event.type === 'done') {
        this.finished = true;
        this.onFinished?.();
      }
    }
  }

  next(): Promise<IteratorResult<EngineEvent>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Aborts the generation and resolves once it has ended, so the engine is free for the next one. */
  async return(): Promise<IteratorResult<EngineEvent>> {
    if (!this.finished) {
      const ended = new Promise<void>((resolve) => {
        this.onFinished = resolve;
      });
      this.onEarlyReturn();
      await ended;
    }
    this.queue.length = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EngineEvent> {
    return this;
  }
}
