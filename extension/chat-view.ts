/**
 * The two places the chat webview appears: a view in the SpecExit side bar and a panel in the editor area. Both
 * load the bundled `dist/media/chat.js` under a nonce-based Content Security Policy and talk to the same
 * ChatController.
 */
import { randomBytes } from 'node:crypto';

import * as vscode from 'vscode';

import { renderChatHtml } from '../media/chat-html.ts';
import type { ChatController } from './chat-controller.ts';

export const CHAT_VIEW_ID = 'specexit.chat';
const CHAT_PANEL_TYPE = 'specexit.chatPanel';

function mediaRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'media');
}

/** Sets the webview's options and page, and routes its messages to the controller until it is disposed. */
function connectWebview(webview: vscode.Webview, extensionUri: vscode.Uri, controller: ChatController): vscode.Disposable {
  webview.options = { enableScripts: true, localResourceRoots: [mediaRoot(extensionUri)] };
  webview.html = renderChatHtml({
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot(extensionUri), 'chat.js')).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot(extensionUri), 'chat.css')).toString(),
    cspSource: webview.cspSource,
    nonce: randomBytes(18).toString('base64'),
  });
  const detach = controller.attach(webview);
  const subscription = webview.onDidReceiveMessage((message: unknown) => controller.handleMessage(webview, message));
  return new vscode.Disposable(() => {
    detach();
    subscription.dispose();
  });
}

export class ChatViewProvider implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly controller: ChatController) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const connection = connectWebview(view.webview, this.extensionUri, this.controller);
    view.onDidDispose(() => {
      connection.dispose();
      if (this.view === view) this.view = undefined;
    });
  }

  get isVisible(): boolean {
    return this.view?.visible ?? false;
  }
}

/** The chat in an editor tab; one at a time. */
export class ChatPanel {
  private static current: ChatPanel | undefined;

  static createOrShow(extensionUri: vscode.Uri, controller: ChatController): ChatPanel {
    if (ChatPanel.current) {
      ChatPanel.current.panel.reveal();
      return ChatPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(CHAT_PANEL_TYPE, 'SpecExit Chat', vscode.ViewColumn.Beside, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [mediaRoot(extensionUri)],
    });
    ChatPanel.current = new ChatPanel(panel, extensionUri, controller);
    return ChatPanel.current;
  }

  private constructor(private readonly panel: vscode.WebviewPanel, extensionUri: vscode.Uri, controller: ChatController) {
    const connection = connectWebview(panel.webview, extensionUri, controller);
    panel.onDidDispose(() => {
      connection.dispose();
      ChatPanel.current = undefined;
    });
  }
}
