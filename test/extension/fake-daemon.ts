/** A scripted daemon connection for the extension's unit tests. */
import type { CancellationToken, NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

import type { ConnectionState, DaemonApi, Subscription } from '../../extension/daemon-api.ts';

type Handler = (params: unknown, token: CancellationToken | undefined, daemon: FakeDaemon) => unknown;

export class FakeDaemon implements DaemonApi {
  connectionState: ConnectionState = 'stopped';
  readonly requests: { method: string; params: unknown }[] = [];
  /** Responses by method name; a missing one rejects the request. */
  readonly handlers = new Map<string, Handler>();
  readonly calls: string[] = [];
  private readonly notificationHandlers = new Map<string, Set<(params: unknown) => void>>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();

  onConnectionState(listener: (state: ConnectionState) => void): Subscription {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  setConnectionState(state: ConnectionState): void {
    this.connectionState = state;
    for (const listener of this.stateListeners) listener(state);
  }

  async sendRequest<P, R>(type: RequestType<P, R, void>, params: P, token?: CancellationToken): Promise<R> {
    return this.handle(type.method, params, token) as Promise<R>;
  }

  async sendRequest0<R>(type: RequestType0<R, void>, token?: CancellationToken): Promise<R> {
    return this.handle(type.method, undefined, token) as Promise<R>;
  }

  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): Subscription {
    const handlers = this.notificationHandlers.get(type.method) ?? new Set();
    handlers.add(handler as (params: unknown) => void);
    this.notificationHandlers.set(type.method, handlers);
    return { dispose: () => handlers.delete(handler as (params: unknown) => void) };
  }

  /** Delivers a notification as if the daemon sent it. */
  notify<P>(type: NotificationType<P>, params: P): void {
    for (const handler of this.notificationHandlers.get(type.method) ?? []) handler(params);
  }

  async start(): Promise<void> {
    this.calls.push('start');
    this.setConnectionState('starting');
    this.setConnectionState('running');
  }

  async stop(): Promise<void> {
    this.calls.push('stop');
    this.setConnectionState('stopped');
  }

  async restartDaemon(): Promise<void> {
    this.calls.push('restartDaemon');
    this.setConnectionState('starting');
    this.setConnectionState('running');
  }

  private async handle(method: string, params: unknown, token: CancellationToken | undefined): Promise<unknown> {
    this.requests.push({ method, params });
    const handler = this.handlers.get(method);
    if (!handler) throw Object.assign(new Error(`no handler for ${method}`), { code: -32601 });
    return handler(params, token, this);
  }
}
