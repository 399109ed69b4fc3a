/**
 * The conversation of one workspace: it runs asks, keeps the turns and their history, and sends every change to
 * each open chat webview (the side-bar view and the editor panel show the same conversation). No `vscode`
 * import: the host actions and the storage are passed in.
 */
import { randomUUID } from 'node:crypto';

import { CancellationTokenSource } from 'vscode-jsonrpc';

import type { AskOptions, CodeContext } from '../daemon/protocol.ts';
import type { ChatSettings, DaemonStatusMessage, HostToWebviewMessage } from '../media/messages.ts';
import { parseWebviewMessage } from '../media/messages.ts';
import { applyTurnEvent, createTurn, downsampleSignals, isTurnActive, type CodeLocation, type Turn, type TurnEvent } from '../media/turn.ts';
import type { AskOutcome } from './ask-runner.ts';
import type { Log } from './log.ts';

/** Turns kept in the history of a workspace. */
export const HISTORY_MAX_TURNS = 50;
/** Characters of thinking or answer text kept per stored turn; the rest is cut with a marker. */
export const HISTORY_MAX_TEXT_CHARS = 200_000;
/** Signal points kept per stored turn, enough for the plot. */
export const HISTORY_MAX_SIGNALS = 300;
export const HISTORY_KEY = 'specexit.chatHistory';

export interface ChatWebview {
  postMessage(message: HostToWebviewMessage): Thenable<boolean> | Promise<boolean>;
}

/** Key-value storage, such as `ExtensionContext.workspaceState`. */
export interface Memento {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

export interface AskRunnerLike {
  run(params: { question: string; context?: CodeContext; options?: AskOptions }, onEvent: (event: TurnEvent) => void, token?: CancellationTokenSource['token']): Promise<AskOutcome>;
}

/** Host actions the webview requests for code blocks and links. */
export interface HostActions {
  copy(text: string): Promise<void>;
  insert(text: string): Promise<void>;
  openLink(href: string): Promise<void>;
}

export interface ChatControllerOptions {
  runner: AskRunnerLike;
  memento: Memento;
  actions: HostActions;
  log: Log;
  chatSettings(): ChatSettings;
  askOptions(): AskOptions;
}

/** A question and where it comes from. */
export interface AskRequestInput {
  question: string;
  /** The question as the chat shows it, when the daemon gets a longer one (a follow-up with its history). */
  shownQuestion?: string;
  /** Code sent to the daemon as context. */
  context?: CodeContext;
  /** The code's place, shown above the question. */
  location?: CodeLocation;
}

export type TurnListener = (turn: Turn, event: TurnEvent | undefined) => void;

export class ChatController {
  private turns: Turn[];
  private readonly webviews = new Set<ChatWebview>();
  private readonly running = new Map<string, CancellationTokenSource>();
  private readonly listeners = new Set<TurnListener>();
  private daemonStatus: DaemonStatusMessage = { state: 'starting' };

  constructor(private readonly options: ChatControllerOptions) {
    this.turns = loadHistory(options.memento, options.log);
  }

  get history(): readonly Turn[] {
    return this.turns;
  }

  /** Attaches a webview; it gets the conversation when it posts `ready`. Returns a function that detaches it. */
  attach(webview: ChatWebview): () => void {
    this.webviews.add(webview);
    return () => this.webviews.delete(webview);
  }

  /** Calls `listener` after each change to a turn: its start (without an event) and each event. */
  onTurnChange(listener: TurnListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Handles a message a webview posted. Messages of unknown shape are logged and dropped. */
  async handleMessage(webview: ChatWebview, raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) {
      this.options.log.warn(`dropped an invalid message from the chat webview: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    switch (message.type) {
      case 'ready':
        await webview.postMessage({ type: 'init', turns: this.turns, settings: this.options.chatSettings(), daemon: this.daemonStatus });
        break;
      case 'ask':
        if (message.question.trim()) void this.ask({ question: message.question.trim() });
        break;
      case 'stop':
        this.stop();
        break;
      case 'copy':
        await this.options.actions.copy(message.text);
        break;
      case 'insert':
        await this.options.actions.insert(message.text);
        break;
      case 'openLink':
        await this.options.actions.openLink(message.href);
        break;
      case 'clearHistory':
        await this.clearHistory();
        break;
    }
  }

  /** Asks a question and resolves with the finished turn. `listener` is called for this turn's changes only. */
  async ask(input: AskRequestInput, listener?: TurnListener): Promise<Turn> {
    const turn = createTurn(randomUUID(), input.shownQuestion ?? input.question, input.location);
    this.turns.push(turn);
    const cancellation = new CancellationTokenSource();
    this.running.set(turn.id, cancellation);
    this.broadcast({ type: 'turnStart', turnId: turn.id, question: turn.question, context: turn.context, createdAt: turn.createdAt });
    this.notify(turn, undefined);
    listener?.(turn, undefined);

    const outcome = await this.options.runner.run(
      { question: input.question, context: input.context, options: this.options.askOptions() },
      (event) => {
        applyTurnEvent(turn, event);
        this.broadcast({ type: 'turnEvent', turnId: turn.id, event });
        this.notify(turn, event);
        listener?.(turn, event);
      },
      cancellation.token,
    );

    this.running.delete(turn.id);
    cancellation.dispose();
    if (outcome.reason === 'error') this.options.log.error(`ask ${turn.id} failed: ${outcome.error}`);
    else this.options.log.info(`ask ${turn.id} ${outcome.reason}`);
    await this.saveHistory();
    return turn;
  }

  /** Cancels every running ask of this window. Returns how many were running. */
  stop(): number {
    const count = this.running.size;
    for (const cancellation of this.running.values()) cancellation.cancel();
    return count;
  }

  get hasRunningAsk(): boolean {
    return this.running.size > 0;
  }

  setDaemonStatus(status: DaemonStatusMessage): void {
    this.daemonStatus = status;
    this.broadcast({ type: 'daemon', ...status });
  }

  sendSettings(): void {
    this.broadcast({ type: 'settings', settings: this.options.chatSettings() });
  }

  focusInput(): void {
    this.broadcast({ type: 'focusInput' });
  }

  async clearHistory(): Promise<void> {
    this.turns = this.turns.filter(isTurnActive);
    await this.saveHistory();
    this.broadcast({ type: 'init', turns: this.turns, settings: this.options.chatSettings(), daemon: this.daemonStatus });
  }

  private broadcast(message: HostToWebviewMessage): void {
    for (const webview of this.webviews) {
      Promise.resolve(webview.postMessage(message)).catch((error: unknown) => this.options.log.warn(`posting to a chat webview failed: ${String(error)}`));
    }
  }

  private notify(turn: Turn, event: TurnEvent | undefined): void {
    for (const listener of this.listeners) listener(turn, event);
  }

  private async saveHistory(): Promise<void> {
    const finished = this.turns.filter((turn) => !isTurnActive(turn)).slice(-HISTORY_MAX_TURNS);
    try {
      await this.options.memento.update(HISTORY_KEY, finished.map(compactTurn));
    } catch (error) {
      this.options.log.error(`saving the chat history failed: ${String(error)}`);
    }
  }
}

/** Returns a copy small enough for workspace storage: long texts cut and signals downsampled. */
export function compactTurn(turn: Turn): Turn {
  return {
    ...turn,
    thinking: truncate(turn.thinking),
    answer: truncate(turn.answer),
    signals: downsampleSignals(turn.signals, HISTORY_MAX_SIGNALS),
    notices: turn.notices.slice(0, 20),
  };
}

function truncate(text: string): string {
  return text.length <= HISTORY_MAX_TEXT_CHARS ? text : `${text.slice(0, HISTORY_MAX_TEXT_CHARS)}\n\n… (cut from the history)`;
}

function loadHistory(memento: Memento, log: Log): Turn[] {
  const stored = memento.get<unknown>(HISTORY_KEY);
  if (stored === undefined) return [];
  if (!Array.isArray(stored)) {
    log.warn('the stored chat history is not a list; starting a new one');
    return [];
  }
  return stored.filter(isStoredTurn).slice(-HISTORY_MAX_TURNS);
}

/** Checks the fields the webview reads, because the storage may hold a history from another version. */
function isStoredTurn(value: unknown): value is Turn {
  if (typeof value !== 'object' || value === null) return false;
  const turn = value as Partial<Turn>;
  return (
    typeof turn.id === 'string' &&
    typeof turn.question === 'string' &&
    typeof turn.thinking === 'string' &&
    typeof turn.answer === 'string' &&
    typeof turn.status === 'string' &&
    Array.isArray(turn.signals) &&
    Array.isArray(turn.notices)
  );
}
