/**
 * Messages between the extension host and the chat webview. Both sides import these types, so every message
 * has one shape. No DOM and no `vscode` here.
 */
import type { CodeLocation, Turn, TurnEvent } from './turn.ts';

/** Daemon state as the status bar and the chat show it. */
export type DaemonState = 'starting' | 'loading' | 'ready' | 'thinking' | 'answering' | 'error' | 'stopped';

/** Chat settings the webview needs. */
export interface ChatSettings {
  /** Keep the thinking block open after thinking ends (`specexit.thinking.keepExpanded`). */
  keepThinkingExpanded: boolean;
}

export type HostToWebviewMessage =
  /** The full conversation, sent when the webview loads and when the history is cleared. */
  | { type: 'init'; turns: Turn[]; settings: ChatSettings; daemon: DaemonStatusMessage }
  | { type: 'settings'; settings: ChatSettings }
  | ({ type: 'daemon' } & DaemonStatusMessage)
  /** A new question, before any stream event. */
  | { type: 'turnStart'; turnId: string; question: string; context?: CodeLocation; createdAt: number }
  | { type: 'turnEvent'; turnId: string; event: TurnEvent }
  /** Moves keyboard focus to the question box. */
  | { type: 'focusInput' };

export interface DaemonStatusMessage {
  state: DaemonState;
  /** Human-readable detail, such as the model name or the error. */
  detail?: string;
}

export type WebviewToHostMessage =
  /** The webview script has loaded and listens; the host replies with `init`. */
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  /** Stops the streaming turn. */
  | { type: 'stop' }
  | { type: 'copy'; text: string }
  /** Inserts code at the cursor of the last active text editor. */
  | { type: 'insert'; text: string }
  /** Opens an http(s) or mailto link from an answer in the browser. */
  | { type: 'openLink'; href: string }
  | { type: 'clearHistory' };

const WEBVIEW_MESSAGE_TYPES = new Set(['ready', 'ask', 'stop', 'copy', 'insert', 'openLink', 'clearHistory']);

/**
 * Returns the message when it has a known type and the fields that type needs, else undefined. The host checks
 * every message, because the webview renders untrusted model output.
 */
export function parseWebviewMessage(value: unknown): WebviewToHostMessage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const message = value as Record<string, unknown>;
  if (typeof message.type !== 'string' || !WEBVIEW_MESSAGE_TYPES.has(message.type)) return undefined;
  switch (message.type) {
    case 'ask':
      return typeof message.question === 'string' ? { type: 'ask', question: message.question } : undefined;
    case 'copy':
    case 'insert':
      return typeof message.text === 'string' ? { type: message.type, text: message.text } : undefined;
    case 'openLink':
      return typeof message.href === 'string' ? { type: 'openLink', href: message.href } : undefined;
    default:
      return { type: message.type as 'ready' | 'stop' | 'clearHistory' };
  }
}
