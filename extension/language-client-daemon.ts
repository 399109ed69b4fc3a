/**
 * The daemon connection through vscode-languageclient: the client runs the LSP lifecycle over the shared
 * daemon's socket, which `connectOrStartDaemon` finds or starts. When the connection closes unexpectedly, the
 * client reconnects (starting a new daemon if needed) and shows a notice. After too many closes in a short
 * time it gives up, and the status bar offers a restart.
 */
import * as vscode from 'vscode';
import { CloseAction, ErrorAction, LanguageClient, RevealOutputChannelOn, State, type LanguageClientOptions, type StreamInfo } from 'vscode-languageclient/node';
import type { CancellationToken, NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';

import { defaultLogFile, defaultSocketPath } from '../daemon/paths.ts';
import { StopDaemonRequest } from '../daemon/protocol.ts';
import type { ConnectionState, DaemonApi, Subscription } from './daemon-api.ts';
import { connectOrStartDaemon } from './daemon-launcher.ts';
import type { Log } from './log.ts';
import { initializationOptions, serveArguments, type ExtensionSettings } from './settings.ts';

/** Unexpected closes tolerated within `RESTART_WINDOW_MS` before the client stops reconnecting. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60 * 1000;

export interface LanguageClientDaemonOptions {
  extensionPath: string;
  log: Log;
  getSettings(): ExtensionSettings;
  /** Called when the client gave up reconnecting, with the reason. */
  onFailed(message: string): void;
}

export class LanguageClientDaemon implements DaemonApi {
  private readonly client: LanguageClient;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private closeTimes: number[] = [];
  /** Set while this extension stops the connection on purpose, so the close is not reported as a crash. */
  private stopping = false;
  connectionState: ConnectionState = 'stopped';

  constructor(private readonly options: LanguageClientDaemonOptions) {
    const { log } = options;
    const serverOptions = async (): Promise<StreamInfo> => {
      const socketPath = defaultSocketPath();
      const logFile = defaultLogFile(socketPath);
      const { socket } = await connectOrStartDaemon({
        socketPath,
        logFile,
        nodePath: process.execPath,
        cliScript: `${options.extensionPath}/bin/specexit.js`,
        serveArguments: serveArguments(options.getSettings(), socketPath, logFile),
        log: (message) => log.info(message),
      });
      return { reader: socket, writer: socket };
    };

    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: log.channel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => initializationOptions(options.getSettings()),
      errorHandler: {
        error: (error, _message, count) => {
          log.error(`daemon connection error: ${error.message}`);
          return { action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
        },
        closed: () => this.onClosed(),
      },
    };
    this.client = new LanguageClient('specexit', 'SpecExit daemon', serverOptions, clientOptions);
    this.client.onDidChangeState((event) => {
      let state: ConnectionState = 'stopped';
      if (event.newState === State.Running) state = 'running';
      if (event.newState === State.Starting) state = 'starting';
      this.connectionState = state;
      for (const listener of this.stateListeners) listener(state);
    });
  }

  onConnectionState(listener: (state: ConnectionState) => void): Subscription {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  sendRequest<P, R>(type: RequestType<P, R, void>, params: P, token?: CancellationToken): Promise<R> {
    return this.client.sendRequest(type, params as never, token);
  }

  sendRequest0<R>(type: RequestType0<R, void>, token?: CancellationToken): Promise<R> {
    return this.client.sendRequest(type, token);
  }

  onNotification<P>(type: NotificationType<P>, handler: (params: P) => void): Subscription {
    return this.client.onNotification(type, handler as never);
  }

  async start(): Promise<void> {
    this.stopping = false;
    await this.client.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.client.isRunning()) await this.client.stop(2000);
  }

  async restartDaemon(): Promise<void> {
    this.stopping = true;
    if (this.client.isRunning()) {
      try {
        await this.client.sendRequest(StopDaemonRequest);
      } catch (error) {
        this.options.log.warn(`stopDaemon failed, reconnecting anyway: ${(error as Error).message}`);
      }
      await this.client.stop(2000).catch((error: unknown) => this.options.log.warn(`stopping the client failed: ${String(error)}`));
    }
    this.closeTimes = [];
    await this.start();
  }

  dispose(): Promise<void> {
    this.stopping = true;
    return this.client.dispose(2000);
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
    const now = Date.now();
    this.closeTimes = [...this.closeTimes.filter((time) => now - time < RESTART_WINDOW_MS), now];
    if (this.closeTimes.length > MAX_RESTARTS) {
      const message = `The SpecExit daemon stopped ${this.closeTimes.length} times in ${RESTART_WINDOW_MS / 60000} minutes, so it is not restarted again.`;
      this.options.log.error(message);
      this.options.onFailed(message);
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.options.log.warn('the connection to the daemon closed unexpectedly; reconnecting');
    void vscode.window.showWarningMessage('The SpecExit daemon stopped unexpectedly and is being restarted.', 'Show Log').then((choice) => {
      if (choice === 'Show Log') void vscode.commands.executeCommand('specexit.showLog');
    });
    return { action: CloseAction.Restart, handled: true };
  }
}
