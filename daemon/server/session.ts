/**
 * One client connection: the LSP lifecycle, the request handlers, and cancellation of the client's work when it
 * disconnects. The daemon owns the model and the queue; a session only translates between them and the client.
 */
import type { Readable, Writable } from 'node:stream';

import {
  createMessageConnection,
  ResponseError,
  type CancellationToken,
  type Message,
  type MessageConnection,
  type NotificationType,
  type RequestParam,
} from 'vscode-jsonrpc';
import { StreamMessageWriter } from 'vscode-jsonrpc/node';

import { parseModelSpec } from '../config.ts';
import type { StructuredLogger } from '../log.ts';
import {
  AskRequest,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  LoadModelRequest,
  LspErrorCodes,
  ModelsRequest,
  PROTOCOL_VERSION,
  ShutdownRequest,
  SpecExitErrorCodes,
  StatusRequest,
  StopDaemonRequest,
  type InitializeParams,
  type InitializeResult,
} from '../protocol.ts';
import { GuardedMessageReader, type RejectedMessage } from '../transport/message-reader.ts';
import type { Daemon } from './daemon.ts';
import { checkAskParams, checkLoadModelParams } from './validate.ts';

type RequestId = string | number | undefined;

/** Maximum wait for queued responses to reach the client when its connection closes. */
const CLOSE_FLUSH_TIMEOUT_MS = 1000;

/**
 * A writer that can wait until every message handed to it has been written. A failed write resolves: it means
 * the client is gone, the writer has already reported it through `onError`, and a rejection would surface as an
 * unhandled one inside vscode-jsonrpc's reply path.
 */
class DrainableWriter extends StreamMessageWriter {
  private readonly pending = new Set<Promise<void>>();

  override write(message: Message): Promise<void> {
    const written = super.write(message).catch(() => undefined);
    this.pending.add(written);
    void written.then(() => this.pending.delete(written));
    return written;
  }

  /** Resolves when the pending writes have finished or failed, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled([...this.pending]), timeout]);
    clearTimeout(timer);
  }
}

type LifecycleState = 'new' | 'initialized' | 'shutdown' | 'closed';

export type TransportKind = 'socket' | 'stdio';

let nextSessionId = 1;

export class ClientSession {
  readonly id = nextSessionId++;
  private state: LifecycleState = 'new';
  private readonly connection: MessageConnection;
  private readonly writer: DrainableWriter;
  private readonly log: StructuredLogger;
  /** Id of the request whose handler runs now, for log lines (vscode-jsonrpc does not pass it to handlers). */
  private currentRequestId: RequestId;
  /** Asks of this client that have not finished, by askId. */
  private readonly activeAsks = new Set<string>();
  private closedListeners: (() => void)[] = [];
  clientName = 'unknown';

  constructor(
    private readonly daemon: Daemon,
    input: Readable,
    private readonly output: Writable,
    readonly transport: TransportKind,
  ) {
    this.log = daemon.logger.child({ module: 'session', session: this.id });
    // Writes that race a client's disconnect fail with EPIPE; without a listener that error would end the process.
    const onStreamError = (error: Error) => this.log.debug('stream error', { err: error });
    input.on('error', onStreamError);
    if ((output as unknown) !== input) output.on('error', onStreamError);
    this.writer = new DrainableWriter(output, 'utf-8');
    const reader = new GuardedMessageReader(input, {
      maxMessageBytes: daemon.maxMessageBytes,
      onReject: (rejected) => this.sendRejection(rejected),
    });
    this.connection = createMessageConnection(reader, this.writer, {
      error: (message) => this.log.error(`jsonrpc: ${message}`),
      warn: (message) => this.log.warn(`jsonrpc: ${message}`),
      info: (message) => this.log.debug(`jsonrpc: ${message}`),
      log: (message) => this.log.debug(`jsonrpc: ${message}`),
    }, {
      messageStrategy: {
        handleMessage: (message: Message, next: (message: Message) => void) => {
          const id = (message as { id?: unknown }).id;
          this.currentRequestId = typeof id === 'string' || typeof id === 'number' ? id : undefined;
          try {
            next(message);
          } finally {
            this.currentRequestId = undefined;
          }
        },
      },
    });
    this.register();
    this.connection.onError(([error]) => {
      this.log.warn('connection error; closing it', { err: error });
      void this.close();
    });
    this.connection.onClose(() => void this.close());
    this.connection.listen();
    this.log.info('client connected', { transport });
  }

  /** Sends a notification unless the connection is closed. */
  notify<P>(type: NotificationType<P>, params: P): void {
    if (this.state === 'closed' || this.state === 'new') return;
    this.connection.sendNotification(type, params as RequestParam<P>).catch((error: unknown) => {
      this.log.debug('notification not sent', { method: type.method, err: error });
    });
  }

  onClosed(listener: () => void): void {
    this.closedListeners.push(listener);
  }

  /**
   * Cancels this client's asks and closes the connection once the responses already written have been sent
   * (at most `CLOSE_FLUSH_TIMEOUT_MS`). Safe to call more than once.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const cancelled = this.daemon.scheduler.cancelOwner(this.id, 'the client disconnected');
    this.log.info('client disconnected', { client: this.clientName, cancelledJobs: cancelled });
    for (const listener of this.closedListeners) listener();
    this.closedListeners = [];
    await this.writer.drain(CLOSE_FLUSH_TIMEOUT_MS);
    this.connection.dispose();
    this.output.end();
  }

  private sendRejection(rejected: RejectedMessage): void {
    this.log.warn('bad message rejected', { requestId: rejected.id, code: rejected.code, reason: rejected.message });
    this.writer.write({ jsonrpc: '2.0', id: rejected.id, error: { code: rejected.code, message: rejected.message } } as Message).catch((error: unknown) => {
      this.log.debug('error response not sent', { err: error });
    });
  }

  /**
   * Wraps a handler: rejects requests before `initialize` and after `shutdown`, and logs every error it returns
   * with the request id.
   */
  private guard<P, R>(method: string, handler: (params: P, token: CancellationToken, requestId: RequestId) => Promise<R> | R) {
    return (params: P, token: CancellationToken): Promise<R> => this.runGuarded(method, (requestId) => handler(params, token, requestId));
  }

  /** `guard` for requests without params, whose handlers receive only the token. */
  private guard0<R>(method: string, handler: (token: CancellationToken, requestId: RequestId) => Promise<R> | R) {
    return (token: CancellationToken): Promise<R> => this.runGuarded(method, (requestId) => handler(token, requestId));
  }

  private async runGuarded<R>(method: string, handler: (requestId: RequestId) => Promise<R> | R): Promise<R> {
    const requestId = this.currentRequestId;
    if (this.state === 'new') {
      throw new ResponseError(LspErrorCodes.serverNotInitialized, `${method} came before initialize; send initialize first`);
    }
    if (this.state === 'shutdown') {
      throw new ResponseError(-32600, `${method} came after shutdown; this connection accepts only exit now`);
    }
    try {
      return await handler(requestId);
    } catch (error) {
      const code = error instanceof ResponseError ? error.code : -32603;
      if (code === LspErrorCodes.requestCancelled) {
        this.log.info('request cancelled', { requestId, method });
      } else {
        this.log.error('request failed', { requestId, method, code, err: error });
      }
      throw error;
    }
  }

  private register(): void {
    const connection = this.connection;

    connection.onRequest(InitializeRequest, (params: InitializeParams): InitializeResult => {
      const requestId = this.currentRequestId;
      if (this.state !== 'new') throw new ResponseError(-32600, 'initialize was already received on this connection');
      try {
        this.daemon.applyInitializationOptions(params?.initializationOptions);
      } catch (error) {
        this.log.error('invalid initializationOptions', { requestId, err: error });
        throw error instanceof ResponseError ? error : new ResponseError(-32602, `invalid initializationOptions: ${(error as Error).message}`);
      }
      this.clientName = params?.clientInfo?.name ?? 'unknown';
      this.state = 'initialized';
      this.log.info('client initialized', { client: this.clientName, clientPid: params?.processId });
      return {
        capabilities: {},
        serverInfo: { name: 'specexit-daemon', version: this.daemon.version },
        specexit: { protocolVersion: PROTOCOL_VERSION, pid: process.pid, socketPath: this.daemon.socketPath },
      };
    });

    connection.onNotification(InitializedNotification, () => {
      this.daemon.sendStateTo(this);
    });

    connection.onRequest(ShutdownRequest, () => {
      if (this.state === 'new') throw new ResponseError(LspErrorCodes.serverNotInitialized, 'shutdown came before initialize');
      if (this.state === 'initialized') {
        this.state = 'shutdown';
        this.daemon.scheduler.cancelOwner(this.id, 'the client sent shutdown');
      }
      return null;
    });

    connection.onNotification(ExitNotification, () => {
      const clean = this.state === 'shutdown';
      this.log.info('exit received', { clean });
      // The daemon records the exit status before the close below reports a plain disconnect.
      this.daemon.onClientExit(this, clean);
      void this.close();
    });

    connection.onRequest(
      StopDaemonRequest,
      this.guard0('specexit/stopDaemon', () => {
        this.log.info('stop requested by client', { client: this.clientName });
        setImmediate(() => void this.daemon.stop('a client requested it'));
        return null;
      }),
    );

    connection.onRequest(
      StatusRequest,
      this.guard0('specexit/status', () => this.daemon.status()),
    );

    connection.onRequest(
      ModelsRequest,
      this.guard0('specexit/models', () => this.daemon.models()),
    );

    connection.onRequest(
      LoadModelRequest,
      this.guard('specexit/loadModel', async (raw, token) => {
        const params = checkLoadModelParams(raw);
        let name = params.model;
        if (params.spec !== undefined) {
          let spec;
          try {
            spec = parseModelSpec(params.spec, 'spec', process.cwd());
          } catch (error) {
            throw new ResponseError(-32602, (error as Error).message);
          }
          this.daemon.registerModel(spec, params.source ?? 'client');
          name = spec.name;
        }
        return this.daemon.loadModel(this, name, params.makeDefault ?? false, token);
      }),
    );

    connection.onRequest(
      AskRequest,
      this.guard('specexit/ask', async (raw, token, requestId) => {
        const params = checkAskParams(raw);
        if (this.activeAsks.has(params.askId)) {
          throw new ResponseError(-32602, `askId "${params.askId}" is already in use by a running ask of this client; choose a unique askId`);
        }
        if (this.daemon.stopping) throw new ResponseError(SpecExitErrorCodes.daemonStopping, 'the daemon is stopping; retry in a moment to start a new one');
        this.activeAsks.add(params.askId);
        try {
          return await this.daemon.ask(this, params, token, requestId);
        } finally {
          this.activeAsks.delete(params.askId);
        }
      }),
    );
  }
}
