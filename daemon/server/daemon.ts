/**
 * The daemon: the model registry, the loaded engine, the FIFO queue and the client sessions. Transports hand it
 * connections (`attach`); everything that touches the engine goes through the queue, one job at a time.
 */
import type { Readable, Writable } from 'node:stream';

import { ResponseError, type CancellationToken, type NotificationType } from 'vscode-jsonrpc';

import { runAsk } from '../ask/run-ask.ts';
import type { DaemonConfig } from '../config.ts';
import type { StructuredLogger } from '../log.ts';
import { EngineHost, type LoadedModel } from '../models/host.ts';
import { ModelRegistry, type ModelSource, type RegisteredModel } from '../models/registry.ts';
import {
  AskPhaseNotification,
  DaemonLimits,
  LoadProgressNotification,
  LspErrorCodes,
  PROTOCOL_VERSION,
  QueuePositionNotification,
  SpecExitErrorCodes,
  StateNotification,
  type AskParams,
  type AskPhase,
  type AskResult,
  type DaemonState,
  type InitializationOptions,
  type LastLatency,
  type LoadedModelInfo,
  type ModelSpec,
  type ModelsResult,
  type StatusResult,
} from '../protocol.ts';
import { JobCancelledError, Scheduler } from '../scheduler.ts';
import { parseModelSpec } from '../config.ts';
import { ClientSession, type TransportKind } from './session.ts';

export interface DaemonOptions {
  config: DaemonConfig;
  /** The socket the daemon listens on, or null when it serves stdio only. */
  socketPath: string | null;
  /** The embedded model's spec; undefined when `models/embedded.json` is absent. */
  embedded: ModelSpec | undefined;
  logger: StructuredLogger;
  version: string;
  /** Default `DaemonLimits.maxMessageBytes`. */
  maxMessageBytes?: number;
  /** Exit after the idle time with no client and no work. Default true; a stdio-only daemon sets false. */
  idleExit?: boolean;
  /** Called once `stop` has freed everything; the process entry point exits here. */
  onStopped(): void;
}

export class Daemon {
  readonly logger: StructuredLogger;
  readonly scheduler = new Scheduler();
  readonly registry: ModelRegistry;
  readonly socketPath: string | null;
  readonly version: string;
  readonly maxMessageBytes: number;
  stopping = false;

  private readonly host: EngineHost;
  private readonly sessions = new Set<ClientSession>();
  private readonly startedAt = Date.now();
  private state: DaemonState = 'starting';
  private stateMessage: string | undefined;
  private lastLatency: LastLatency | null = null;
  private modelLoads = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly stopHooks: (() => void | Promise<void>)[] = [];

  constructor(private readonly options: DaemonOptions) {
    const { config } = options;
    this.logger = options.logger;
    this.socketPath = options.socketPath;
    this.version = options.version;
    this.maxMessageBytes = options.maxMessageBytes ?? DaemonLimits.maxMessageBytes;
    this.registry = new ModelRegistry(options.embedded, config.contextSize ?? 4096);
    for (const spec of config.models) this.registry.register(spec, 'config');
    if (config.commandLineModel) this.registry.register(config.commandLineModel, 'cli');
    if (config.defaultModel) this.registry.setDefault(config.defaultModel);
    this.host = new EngineHost(this.registry, {
      threads: config.threads,
      gpu: config.gpu,
      logger: this.logger,
      onLoadProgress: (event) => {
        if (event.kind === 'begin') this.modelLoads++;
        this.broadcast(LoadProgressNotification, event);
        if (event.kind === 'begin') this.setState('loading', event.model);
        else if (event.kind === 'failed') this.setState('error', event.model, event.message);
        else this.setState('ready', event.model);
      },
    });
    this.scheduler.onIdle(() => {
      if (this.state !== 'error') this.setState('ready', this.host.current?.name);
      this.updateIdleTimer();
    });
    this.setState('ready');
    this.updateIdleTimer();
  }

  /** Serves one client over a pair of streams (a socket, or stdin and stdout). */
  attach(input: Readable, output: Writable, transport: TransportKind): ClientSession {
    const session = new ClientSession(this, input, output, transport);
    this.sessions.add(session);
    session.onClosed(() => {
      this.sessions.delete(session);
      this.updateIdleTimer();
    });
    this.updateIdleTimer();
    return session;
  }

  /** Registers cleanup to run on stop, such as closing the socket server. */
  onStop(hook: () => void | Promise<void>): void {
    this.stopHooks.push(hook);
  }

  registerModel(spec: ModelSpec, source: ModelSource): void {
    if (this.host.current?.name === spec.name) {
      const current = this.registry.get(spec.name).spec;
      if (JSON.stringify(current) === JSON.stringify(spec)) return;
      throw new ResponseError(-32602, `model "${spec.name}" is loaded with other files; choose another name for the new spec`);
    }
    this.registry.register(spec, source);
    this.logger.info('model registered', { model: spec.name, source, target: spec.target });
  }

  /** Applies a client's settings: its models are registered and its default model chosen. */
  applyInitializationOptions(options: InitializationOptions | undefined): void {
    if (!options) return;
    if (options.models !== undefined) {
      if (!Array.isArray(options.models)) throw new Error(`Expected \`models\` to be an array, got ${JSON.stringify(options.models)}`);
      options.models.forEach((raw, index) => this.registerModel(parseModelSpec(raw, `models[${index}]`, process.cwd()), 'client'));
    }
    if (options.defaultModel !== undefined) {
      if (typeof options.defaultModel !== 'string') throw new Error(`Expected \`defaultModel\` to be a string, got ${JSON.stringify(options.defaultModel)}`);
      // NOTE: the daemon is shared, so a window's default model becomes every client's default.
      this.registry.setDefault(options.defaultModel);
    }
  }

  /** Queues an ask and resolves with its result; see `AskRequest` for the errors. */
  async ask(session: ClientSession, params: AskParams, token: CancellationToken, requestId: string | number | undefined): Promise<AskResult> {
    const receivedAt = Date.now();
    const { askId } = params;
    const model = this.registry.get(params.options?.model);
    this.registry.checkFiles(model);
    this.checkQueueRoom();
    this.logger.info('ask received', { session: session.id, requestId, askId, model: model.spec.name, mode: params.options?.mode ?? 'specexit', queueLength: this.scheduler.length });
    this.logger.debug('ask question', { askId, question: params.question, context: params.context });

    const notifyPhase = (phase: AskPhase) => session.notify(AskPhaseNotification, { askId, phase });
    const ticket = this.scheduler.submit({
      ownerId: session.id,
      onPosition: (position, queueLength) => {
        session.notify(QueuePositionNotification, { askId, position, queueLength });
        if (position > 0) notifyPhase('queued');
      },
      run: async (signal) => {
        const loaded = await this.ensureLoaded(model, () => notifyPhase('loading'));
        if (signal.aborted) throw signal.reason;
        return runAsk({
          params,
          model: loaded,
          notify: (type, notificationParams) => session.notify(type, notificationParams),
          signal,
          receivedAt,
          logger: this.logger.child({ module: 'ask', session: session.id, requestId }),
          onPhase: (phase) => {
            if (phase === 'thinking') this.setState('thinking', loaded.name);
            else if (phase === 'answer') this.setState('answering', loaded.name);
          },
        });
      },
    });
    const cancellation = token.onCancellationRequested(() => this.scheduler.cancel(ticket.id, 'the client cancelled the ask'));
    try {
      const result = await ticket.result;
      this.recordLatency(result);
      this.logger.info('ask finished', {
        askId,
        requestId,
        finishReason: result.finishReason,
        timeToAnswerMs: result.timings.timeToAnswerMs,
        tokensPerSecond: Math.round(result.stats.decodeTokensPerSecond),
        thinkingTokens: result.stats.thinkingTokens,
        exitPosition: result.exit?.position,
      });
      return result;
    } catch (error) {
      if (error instanceof JobCancelledError) throw new ResponseError(LspErrorCodes.requestCancelled, `the ask was cancelled: ${error.message}`);
      throw error;
    } finally {
      cancellation.dispose();
    }
  }

  /** Queues a model load (behind running asks) and resolves with the loaded model's description. */
  async loadModel(session: ClientSession, name: string | undefined, makeDefault: boolean, token: CancellationToken): Promise<LoadedModelInfo> {
    const model = this.registry.get(name);
    this.registry.checkFiles(model);
    this.checkQueueRoom();
    const ticket = this.scheduler.submit({
      ownerId: session.id,
      run: async () => (await this.ensureLoaded(model, () => {})).info,
    });
    const cancellation = token.onCancellationRequested(() => this.scheduler.cancel(ticket.id, 'the client cancelled the load'));
    try {
      const info = await ticket.result;
      if (makeDefault) this.registry.setDefault(model.spec.name);
      return info;
    } catch (error) {
      if (error instanceof JobCancelledError) throw new ResponseError(LspErrorCodes.requestCancelled, `the load was cancelled: ${error.message}`);
      throw error;
    } finally {
      cancellation.dispose();
    }
  }

  models(): ModelsResult {
    return { defaultModel: this.registry.defaultModel, models: this.registry.list(this.host.current?.name) };
  }

  status(): StatusResult {
    const memory = process.memoryUsage();
    const { backend, devices } = this.host.backend();
    return {
      state: this.state,
      protocolVersion: PROTOCOL_VERSION,
      pid: process.pid,
      uptimeMs: Date.now() - this.startedAt,
      model: this.host.current?.info ?? null,
      modelLoads: this.modelLoads,
      backend,
      devices,
      queueLength: this.scheduler.length,
      clients: this.sessions.size,
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      lastLatency: this.lastLatency,
      socketPath: this.socketPath,
      idleTimeoutMs: this.options.config.idleTimeoutMs,
    };
  }

  /** Sends the current state to one client, right after it initialized. */
  sendStateTo(session: ClientSession): void {
    session.notify(StateNotification, { state: this.state, model: this.host.current?.name, message: this.stateMessage });
  }

  onClientExit(session: ClientSession, clean: boolean): void {
    // A daemon that serves one editor over stdio lives exactly as long as that editor's connection.
    if (session.transport === 'stdio') void this.stop(clean ? 'the stdio client sent exit' : 'the stdio client sent exit without shutdown', clean ? 0 : 1);
  }

  /** Cancels all work, disconnects every client, frees the model and runs the stop hooks, then calls `onStopped`. */
  async stop(reason: string, exitCode = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.exitCode = exitCode;
    this.logger.info('daemon stopping', { reason });
    clearTimeout(this.idleTimer);
    this.scheduler.cancelAll(`the daemon is stopping: ${reason}`);
    await Promise.all([...this.sessions].map((session) => session.close()));
    for (const hook of this.stopHooks) {
      try {
        await hook();
      } catch (error) {
        this.logger.warn('stop hook failed', { err: error });
      }
    }
    // A generation still running was aborted above; dispose waits for its thread.
    this.host.unload();
    this.logger.info('daemon stopped', { reason });
    this.options.onStopped();
  }

  /** Exit status for the process once stopped: 0 unless a stdio client left without `shutdown`. */
  exitCode = 0;

  private async ensureLoaded(model: RegisteredModel, onLoading: () => void): Promise<LoadedModel> {
    if (this.host.current?.name !== model.spec.name) onLoading();
    return this.host.ensure(model);
  }

  private checkQueueRoom(): void {
    if (this.scheduler.length >= DaemonLimits.maxQueueLength) {
      throw new ResponseError(SpecExitErrorCodes.queueFull, `the queue already contains ${this.scheduler.length} requests, the limit; retry when some have finished`);
    }
  }

  private recordLatency(result: AskResult): void {
    const saved = result.exit?.predictedRemainingTokens ?? 0;
    const thinking = result.stats.thinkingTokens;
    this.lastLatency = {
      timeToFirstTokenMs: result.stats.timeToFirstTokenMs,
      timeToAnswerMs: result.timings.timeToAnswerMs,
      decodeTokensPerSecond: result.stats.decodeTokensPerSecond,
      thinkingTokens: thinking,
      thinkingSavedShare: saved > 0 ? saved / (thinking + saved) : 0,
    };
  }

  private setState(state: DaemonState, model?: string, message?: string): void {
    if (this.state === state && this.stateMessage === message) return;
    this.state = state;
    this.stateMessage = message;
    this.logger.debug('state changed', { state, model });
    this.broadcast(StateNotification, { state, model, message });
  }

  private broadcast<P>(type: NotificationType<P>, params: P): void {
    for (const session of this.sessions) session.notify(type, params);
  }

  private updateIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const timeout = this.options.config.idleTimeoutMs;
    if (this.stopping || this.options.idleExit === false || timeout <= 0) return;
    if (this.sessions.size > 0 || this.scheduler.length > 0) return;
    this.idleTimer = setTimeout(() => void this.stop(`no client and no work for ${Math.round(timeout / 1000)} s`), timeout);
    this.idleTimer.unref?.();
  }
}
