/**
 * The daemon connection as the rest of the extension uses it. The real one wraps vscode-languageclient
 * (language-client-daemon.ts); unit tests pass a fake.
 */
import type { CancellationToken, NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

/** State of the connection, not of the daemon's work: `running` means requests can be sent. */
export type ConnectionState = 'starting' | 'running' | 'stopped';

export interface Subscription {
  dispose(): void;
}

export interface DaemonApi {
  readonly connectionState: ConnectionState;
  onConnectionState(listener: (state: ConnectionState) => void): Subscription;
  sendRequest<P, R>(type: RequestType<P, R, void>, params: P, token?: CancellationToken): Promise<R>;
  sendRequest0<R>(type: RequestType0<R, void>, token?: CancellationToken): Promise<R>;
  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): Subscription;
  /** Connects, starting the shared daemon when none runs. */
  start(): Promise<void>;
  /** Disconnects this window; the shared daemon keeps running for other clients. */
  stop(): Promise<void>;
  /** Stops the shared daemon for every client and connects to a fresh one. */
  restartDaemon(): Promise<void>;
}
