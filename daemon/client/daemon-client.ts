/**
 * A typed client of the daemon over any stream pair: it runs the LSP lifecycle and routes each ask's streamed
 * notifications to that ask's handlers by `askId`. The CLI and the tests use it.
 */
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';

import {
  CancellationTokenSource,
  createMessageConnection,
  type CancellationToken,
  type MessageConnection,
  type NotificationType,
} from 'vscode-jsonrpc';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';

import {
  AskPhaseNotification,
  AskRequest,
  ContextTrimmedNotification,
  DeltaNotification,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  LoadModelRequest,
  LoadProgressNotification,
  ModelsRequest,
  NoticeNotification,
  PrefillProgressNotification,
  ProbeNotification,
  QueuePositionNotification,
  ShutdownRequest,
  SignalsNotification,
  StateNotification,
  StatsNotification,
  StatusRequest,
  StopDaemonRequest,
  ThinkingExitNotification,
  type AskParams,
  type AskPhaseParams,
  type AskResult,
  type ContextTrimmedParams,
  type DeltaParams,
  type InitializationOptions,
  type InitializeResult,
  type LoadedModelInfo,
  type LoadModelParams,
  type LoadProgressParams,
  type ModelsResult,
  type NoticeParams,
  type PrefillProgressParams,
  type ProbeParams,
  type QueuePositionParams,
  type SignalsParams,
  type StateParams,
  type StatsParams,
  type StatusResult,
  type ThinkingExitParams,
} from '../protocol.ts';

/** Time between the connection closing and pending requests being rejected. */
const CLOSE_SETTLE_MS = 50;

/** Callbacks for one ask's notifications; each is optional. */
export interface AskHandlers {
  phase(params: AskPhaseParams): void;
  queuePosition(params: QueuePositionParams): void;
  prefill(params: PrefillProgressParams): void;
  delta(params: DeltaParams): void;
  signals(params: SignalsParams): void;
  probe(params: ProbeParams): void;
  exit(params: ThinkingExitParams): void;
  notice(params: NoticeParams): void;
  trimmed(params: ContextTrimmedParams): void;
  stats(params: StatsParams): void;
}

export interface ClientOptions {
  /** Sent as `clientInfo.name`. */
  name: string;
  initializationOptions?: InitializationOptions;
}

export class DaemonClient {
  readonly connection: MessageConnection;
  initializeResult: InitializeResult | undefined;
  private readonly asks = new Map<string, Partial<AskHandlers>>();
  private readonly stateListeners: ((params: StateParams) => void)[] = [];
  private readonly loadListeners: ((params: LoadProgressParams) => void)[] = [];
  private closedError: Error | undefined;

  constructor(input: Readable, output: Writable) {
    this.connection = createMessageConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
    const route = <P extends { askId: string }>(type: NotificationType<P>, key: keyof AskHandlers) => {
      this.connection.onNotification(type, (params: P) => {
        const handler = this.asks.get(params.askId)?.[key] as ((value: P) => void) | undefined;
        handler?.(params);
      });
    };
    route(AskPhaseNotification, 'phase');
    route(QueuePositionNotification, 'queuePosition');
    route(PrefillProgressNotification, 'prefill');
    route(DeltaNotification, 'delta');
    route(SignalsNotification, 'signals');
    route(ProbeNotification, 'probe');
    route(ThinkingExitNotification, 'exit');
    route(NoticeNotification, 'notice');
    route(ContextTrimmedNotification, 'trimmed');
    route(StatsNotification, 'stats');
    this.connection.onNotification(StateNotification, (params) => this.stateListeners.forEach((listener) => listener(params)));
    this.connection.onNotification(LoadProgressNotification, (params) => this.loadListeners.forEach((listener) => listener(params)));
    this.connection.onClose(() => {
      this.closedError ??= new Error('the connection to the daemon closed');
      // vscode-jsonrpc rejects pending requests on dispose, not on close, so without this they would never
      // settle. It handles received messages one per event-loop turn, so responses that arrived just before the
      // close (a stopDaemon reply) get CLOSE_SETTLE_MS to be delivered first.
      setTimeout(() => this.connection.dispose(), CLOSE_SETTLE_MS);
    });
    this.connection.listen();
  }

  /** Connects over the streams and runs `initialize` and `initialized`. */
  static async start(input: Readable, output: Writable, options: ClientOptions): Promise<DaemonClient> {
    const client = new DaemonClient(input, output);
    client.initializeResult = await client.connection.sendRequest(InitializeRequest, {
      processId: process.pid,
      clientInfo: { name: options.name },
      initializationOptions: options.initializationOptions,
      capabilities: {},
    });
    await client.connection.sendNotification(InitializedNotification, {});
    return client;
  }

  onState(listener: (params: StateParams) => void): void {
    this.stateListeners.push(listener);
  }

  onLoadProgress(listener: (params: LoadProgressParams) => void): void {
    this.loadListeners.push(listener);
  }

  /** Asks a question, calling `handlers` as notifications arrive. A missing `askId` is generated. */
  async ask(params: Omit<AskParams, 'askId'> & { askId?: string }, handlers: Partial<AskHandlers> = {}, token?: CancellationToken): Promise<AskResult> {
    const askId = params.askId ?? randomUUID();
    this.asks.set(askId, handlers);
    try {
      return await this.connection.sendRequest(AskRequest, { ...params, askId }, token);
    } finally {
      this.asks.delete(askId);
    }
  }

  status(): Promise<StatusResult> {
    return this.connection.sendRequest(StatusRequest);
  }

  models(): Promise<ModelsResult> {
    return this.connection.sendRequest(ModelsRequest);
  }

  loadModel(params: LoadModelParams, token?: CancellationToken): Promise<LoadedModelInfo> {
    return this.connection.sendRequest(LoadModelRequest, params, token);
  }

  stopDaemon(): Promise<null> {
    return this.connection.sendRequest(StopDaemonRequest);
  }

  /** Runs `shutdown` and `exit`, then closes the connection. Errors of a connection already gone are ignored. */
  async close(): Promise<void> {
    try {
      if (!this.closedError) {
        await this.connection.sendRequest(ShutdownRequest);
        await this.connection.sendNotification(ExitNotification);
      }
    } catch {
      // The daemon went away first; there is nothing left to close politely.
    }
    this.connection.dispose();
  }
}

export { CancellationTokenSource };
