/**
 * Wires the extension together: the daemon connection, the chat, inline answers, the status bar and the
 * commands. `extension.ts` passes the real daemon connection; unit tests pass a fake one.
 */
import * as vscode from 'vscode';

import {
  LoadModelRequest,
  LoadProgressNotification,
  ModelsRequest,
  StateNotification,
  StatusRequest,
  type ModelInfo,
  type StatusResult,
} from '../daemon/protocol.ts';
import type { DaemonState } from '../media/messages.ts';
import { estimateExitSaving, type Turn } from '../media/turn.ts';
import { AskRunner } from './ask-runner.ts';
import { ChatController } from './chat-controller.ts';
import { CHAT_VIEW_ID, ChatPanel, ChatViewProvider } from './chat-view.ts';
import type { DaemonApi } from './daemon-api.ts';
import { InlineAnswers } from './inline-answers.ts';
import { Log } from './log.ts';
import { buildCodeContext } from './selection-context.ts';
import { askOptions, readSettings, settingsModel, type ExtensionSettings } from './settings.ts';
import { SHOW_ERROR_COMMAND, StatusBar } from './status-bar.ts';

/** Ids of the commands in package.json's `contributes.commands`. */
export const COMMANDS = {
  askSelection: 'specexit.askSelection',
  ask: 'specexit.ask',
  openChat: 'specexit.openChat',
  openChatInEditor: 'specexit.openChatInEditor',
  stop: 'specexit.stop',
  restartDaemon: 'specexit.restartDaemon',
  showLog: 'specexit.showLog',
  selectModel: 'specexit.selectModel',
  inlineReply: 'specexit.inline.reply',
  inlineShowThinking: 'specexit.inline.showThinking',
  showDaemonError: SHOW_ERROR_COMMAND,
} as const;

/** Global-state key of the model chosen with Select Model. */
export const SELECTED_MODEL_KEY = 'specexit.selectedModel';
const DEFAULT_SELECTION_QUESTION = 'Explain this code.';

export interface ExtensionDependencies {
  createDaemon(options: { log: Log; getSettings(): ExtensionSettings; onFailed(message: string): void }): DaemonApi & { dispose?(): unknown };
}

/** The running extension, returned for tests. */
export interface ExtensionInstance {
  daemon: DaemonApi;
  chat: ChatController;
  statusBar: StatusBar;
  log: Log;
  inline: InlineAnswers;
}

export function createExtension(context: vscode.ExtensionContext, dependencies: ExtensionDependencies): ExtensionInstance {
  const readCurrentSettings = () => readSettings((key) => vscode.workspace.getConfiguration('specexit').get(key));
  let settings = readCurrentSettings();
  const channel = vscode.window.createOutputChannel('SpecExit', { log: true });
  const log = new Log(channel, settings.logLevel);
  const statusBar = new StatusBar();
  context.subscriptions.push(channel, statusBar);

  const daemon = dependencies.createDaemon({
    log,
    getSettings: () => settings,
    onFailed: (message) => showDaemonFailure(message),
  });
  const runner = new AskRunner(daemon);
  const chat = new ChatController({
    runner,
    memento: context.workspaceState,
    log,
    chatSettings: () => ({ keepThinkingExpanded: settings.keepThinkingExpanded }),
    askOptions: () => askOptions(settings, context.globalState.get<string>(SELECTED_MODEL_KEY)),
    actions: {
      copy: async (text) => {
        await vscode.env.clipboard.writeText(text);
      },
      insert: (text) => insertAtCursor(text),
      openLink: (href) => openLink(href, log),
    },
  });
  const inline = new InlineAnswers(chat);
  const viewProvider = new ChatViewProvider(context.extensionUri, chat);
  context.subscriptions.push(
    inline,
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, viewProvider, { webviewOptions: { retainContextWhenHidden: false } }),
    { dispose: () => runner.dispose() },
    { dispose: () => void daemon.dispose?.() },
  );

  const setState = (state: DaemonState, detail?: string) => {
    statusBar.update({ state, detail });
    chat.setDaemonStatus({ state, detail });
  };

  function showDaemonFailure(message: string): void {
    setState('error', message);
    void vscode.window.showErrorMessage(`SpecExit: ${message}`, 'Restart Daemon', 'Show Log').then((choice) => {
      if (choice === 'Restart Daemon') void vscode.commands.executeCommand(COMMANDS.restartDaemon);
      if (choice === 'Show Log') channel.show(true);
    });
  }

  async function refreshStatus(): Promise<void> {
    if (daemon.connectionState !== 'running') return;
    try {
      const status = await daemon.sendRequest0<StatusResult>(StatusRequest);
      statusBar.update({
        model: status.model?.name,
        backend: status.backend,
        devices: status.devices,
        queueLength: status.queueLength,
        ...(statusBar.current.lastAnswer || !status.lastLatency
          ? {}
          : {
              lastAnswer: {
                timeToAnswerMs: status.lastLatency.timeToAnswerMs,
                decodeTokensPerSecond: status.lastLatency.decodeTokensPerSecond,
                thinkingSavedShare: status.lastLatency.thinkingSavedShare,
              },
            }),
      });
      if (statusBar.current.state === 'starting') setState(status.state, status.state === 'error' ? undefined : status.model?.name);
    } catch (error) {
      log.warn(`status request failed: ${(error as Error).message}`);
    }
  }

  // Daemon state: the connection first, then the daemon's own broadcasts.
  context.subscriptions.push(
    daemon.onConnectionState((state) => {
      log.info(`daemon connection ${state}`);
      if (state === 'starting') setState('starting');
      if (state === 'running') void refreshStatus();
      if (state === 'stopped' && statusBar.current.state !== 'error') setState('stopped');
    }),
    daemon.onNotification(StateNotification, (params) => {
      setState(params.state, params.state === 'error' ? params.message : params.model);
      statusBar.update({ model: params.model ?? statusBar.current.model });
    }),
    daemon.onNotification(LoadProgressNotification, (params) => {
      if (params.kind === 'begin') setState('loading', params.model);
      if (params.kind === 'failed') log.error(`loading model ${params.model} failed: ${params.message}`);
      else log.info(`model ${params.model}: ${params.message}`);
    }),
  );

  chat.onTurnChange((turn, event) => {
    if (event?.type === 'done') {
      if (turn.stats) statusBar.update({ lastAnswer: lastAnswerLatency(turn) });
      void refreshStatus();
    }
  });

  registerCommands(context, { daemon, chat, inline, log, statusBar, getSettings: () => settings, setState });

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration('specexit')) return;
      const previous = settings;
      settings = readCurrentSettings();
      log.setLevel(settings.logLevel);
      chat.sendSettings();
      if (event.affectsConfiguration('specexit.model')) void applyModelSettings(previous);
    }),
  );

  /** Registers and loads the model of the changed `specexit.model.*` settings. */
  async function applyModelSettings(previous: ExtensionSettings): Promise<void> {
    const spec = settingsModel(settings);
    if (!spec || daemon.connectionState !== 'running') return;
    if (spec.target === previous.targetPath && spec.draft === (previous.draftPath || undefined) && spec.signals === (previous.signalsPath || undefined)) return;
    try {
      await daemon.sendRequest(LoadModelRequest, { spec });
      log.info(`loaded the model of the settings: ${spec.target}`);
    } catch (error) {
      showDaemonFailure(`loading ${spec.target} failed: ${(error as Error).message}`);
    }
  }

  setState('starting');
  daemon.start().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    log.error(`starting the daemon failed: ${message}`);
    showDaemonFailure(`the daemon did not start: ${message}`);
  });

  return { daemon, chat, statusBar, log, inline };
}

interface CommandContext {
  daemon: DaemonApi;
  chat: ChatController;
  inline: InlineAnswers;
  log: Log;
  statusBar: StatusBar;
  getSettings(): ExtensionSettings;
  setState(state: DaemonState, detail?: string): void;
}

function registerCommands(context: vscode.ExtensionContext, deps: CommandContext): void {
  const { daemon, chat, inline, log } = deps;
  const openChat = async () => {
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    chat.focusInput();
  };

  const handlers: Record<(typeof COMMANDS)[keyof typeof COMMANDS], (...args: never[]) => unknown> = {
    [COMMANDS.askSelection]: async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        void vscode.window.showWarningMessage('SpecExit: open a file and select code first.');
        return;
      }
      const typed = await vscode.window.showInputBox({
        title: 'Ask SpecExit about the selection',
        prompt: 'Your question. Leave it empty to get an explanation.',
        placeHolder: DEFAULT_SELECTION_QUESTION,
      });
      if (typed === undefined) return;
      const question = typed.trim() || DEFAULT_SELECTION_QUESTION;
      const document = editor.document;
      const { context: codeContext, location } = buildCodeContext(document, editor.selection, vscode.workspace.asRelativePath(document.uri), (range) =>
        range ? document.getText(new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character)) : document.getText(),
      );
      const anchor = editor.selection.isEmpty ? new vscode.Range(editor.selection.active, editor.selection.active) : new vscode.Range(editor.selection.start, editor.selection.end);
      await inline.ask(document.uri, anchor, question, codeContext, location);
    },
    [COMMANDS.ask]: async () => {
      const question = await vscode.window.showInputBox({ title: 'Ask SpecExit', prompt: 'Your question', placeHolder: 'What does this regular expression match?' });
      if (!question?.trim()) return;
      await openChat();
      await chat.ask({ question: question.trim() });
    },
    [COMMANDS.openChat]: openChat,
    [COMMANDS.openChatInEditor]: () => {
      ChatPanel.createOrShow(context.extensionUri, chat);
    },
    [COMMANDS.stop]: () => {
      const stopped = chat.stop();
      if (stopped === 0) void vscode.window.showInformationMessage('SpecExit: nothing to stop.');
    },
    [COMMANDS.restartDaemon]: async () => {
      deps.setState('starting');
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Restarting the SpecExit daemon…' }, async () => {
        try {
          await daemon.restartDaemon();
          log.info('daemon restarted');
        } catch (error) {
          const message = (error as Error).message;
          log.error(`restarting the daemon failed: ${message}`);
          deps.setState('error', message);
          void vscode.window.showErrorMessage(`SpecExit: restarting the daemon failed: ${message}`, 'Show Log').then((choice) => {
            if (choice === 'Show Log') log.channel.show(true);
          });
        }
      });
    },
    [COMMANDS.showLog]: () => log.channel.show(true),
    [COMMANDS.selectModel]: () => selectModel(context, daemon, log),
    [COMMANDS.inlineReply]: (reply: vscode.CommentReply) => inline.reply(reply),
    [COMMANDS.inlineShowThinking]: openChat,
    [COMMANDS.showDaemonError]: async () => {
      const detail = deps.statusBar.current.detail ?? 'the daemon failed';
      const choice = await vscode.window.showErrorMessage(`SpecExit: ${detail}`, 'Restart Daemon', 'Show Log');
      if (choice === 'Restart Daemon') await vscode.commands.executeCommand(COMMANDS.restartDaemon);
      if (choice === 'Show Log') log.channel.show(true);
    },
  };

  for (const [id, handler] of Object.entries(handlers)) {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: never[]) => {
        try {
          return await handler(...args);
        } catch (error) {
          log.error(`command ${id} failed: ${(error as Error).stack ?? String(error)}`);
          void vscode.window.showErrorMessage(`SpecExit: ${(error as Error).message}`, 'Show Log').then((choice) => {
            if (choice === 'Show Log') log.channel.show(true);
          });
          return undefined;
        }
      }),
    );
  }
}

interface ModelPick extends vscode.QuickPickItem {
  model: ModelInfo;
}

async function selectModel(context: vscode.ExtensionContext, daemon: DaemonApi, log: Log): Promise<void> {
  if (daemon.connectionState !== 'running') {
    void vscode.window.showWarningMessage('SpecExit: the daemon is not connected yet; try again when the status bar shows ready.');
    return;
  }
  const { models } = await daemon.sendRequest0(ModelsRequest);
  const selected = context.globalState.get<string>(SELECTED_MODEL_KEY);
  const picks: ModelPick[] = models.map((model) => ({
    label: model.name,
    description: [model.loaded ? 'loaded' : '', model.isDefault ? 'default' : '', model.name === selected ? 'selected' : ''].filter(Boolean).join(', '),
    detail: model.missing.length > 0 ? `Missing: ${model.missing.join(', ')}` : `${model.target} · modes: ${model.modes.join(', ')}`,
    model,
  }));
  const pick = await vscode.window.showQuickPick(picks, { title: 'SpecExit: select a model', placeHolder: 'Model for this and later answers' });
  if (!pick) return;
  if (pick.model.missing.length > 0) {
    void vscode.window.showErrorMessage(`SpecExit: model ${pick.model.name} cannot load, because these files are missing: ${pick.model.missing.join(', ')}`);
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Loading ${pick.model.name}…`, cancellable: true }, async (_progress, token) => {
    const info = await daemon.sendRequest(LoadModelRequest, { model: pick.model.name }, token);
    await context.globalState.update(SELECTED_MODEL_KEY, pick.model.name);
    log.info(`selected model ${info.name} (${info.architecture}, ${info.layers} layers, loaded in ${info.loadMs} ms)`);
  });
}

/** Inserts text at the cursor of the active editor, or of the last visible one when the chat has focus. */
async function insertAtCursor(text: string): Promise<void> {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
  if (!editor) {
    void vscode.window.showWarningMessage('SpecExit: open an editor to insert the code into.');
    return;
  }
  await editor.edit((edit) => {
    for (const selection of editor.selections) edit.replace(selection, text);
  });
}

/** Opens an http(s) or mailto link from an answer; the webview already drops other schemes, this checks again. */
async function openLink(href: string, log: Log): Promise<void> {
  let uri: vscode.Uri;
  try {
    uri = vscode.Uri.parse(href, true);
  } catch {
    log.warn(`ignored an invalid link from an answer: ${href.slice(0, 200)}`);
    return;
  }
  if (uri.scheme !== 'http' && uri.scheme !== 'https' && uri.scheme !== 'mailto') {
    log.warn(`ignored a ${uri.scheme}: link from an answer`);
    return;
  }
  await vscode.env.openExternal(uri);
}

/** Returns the status bar's latency of a finished turn. */
export function lastAnswerLatency(turn: Turn): { timeToAnswerMs: number; decodeTokensPerSecond: number; thinkingSavedShare: number } {
  const stats = turn.stats!;
  return {
    timeToAnswerMs: stats.timeToAnswerMs ?? stats.timeToFirstTokenMs,
    decodeTokensPerSecond: stats.decodeTokensPerSecond,
    thinkingSavedShare: estimateExitSaving(turn)?.share ?? 0,
  };
}
