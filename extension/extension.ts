/** Entry point of the VS Code extension: activates on its commands and its chat view. */
import type * as vscode from 'vscode';

import { createExtension } from './activation.ts';
import { LanguageClientDaemon } from './language-client-daemon.ts';

let stopDaemonConnection: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): void {
  createExtension(context, {
    createDaemon: ({ log, getSettings, onFailed }) => {
      const daemon = new LanguageClientDaemon({ extensionPath: context.extensionPath, log, getSettings, onFailed });
      stopDaemonConnection = () => daemon.stop();
      return daemon;
    },
  });
}

/** Disconnects this window from the shared daemon, which keeps running for other windows until its idle timeout. */
export async function deactivate(): Promise<void> {
  await stopDaemonConnection?.();
  stopDaemonConnection = undefined;
}
