/**
 * Runs the chat webview in headless Chromium the way VS Code hosts it: the bundled script and stylesheet, the
 * same HTML page and Content Security Policy, theme colour variables, and an `acquireVsCodeApi` stub that
 * records what the webview posts. The page is served by a static server on 127.0.0.1 that this harness starts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';

import { renderChatHtml } from '../../media/chat-html.ts';
import type { HostToWebviewMessage, WebviewToHostMessage } from '../../media/messages.ts';

export const CHROMIUM_PATH = process.env.SPECEXIT_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = path.join(__dirname, '..', '..');

/** A few of the dark theme's colours, enough for every rule in chat.css to resolve. */
const THEME_CSS = `:root {
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-errorForeground: #f85149;
  --vscode-font-family: sans-serif; --vscode-font-size: 13px; --vscode-editor-font-family: monospace;
  --vscode-sideBar-background: #181818; --vscode-editor-background: #1f1f1f; --vscode-input-background: #313131;
  --vscode-input-foreground: #cccccc; --vscode-focusBorder: #0078d4; --vscode-button-background: #0078d4;
  --vscode-button-foreground: #ffffff; --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc; --vscode-textLink-foreground: #4daafc;
  --vscode-textCodeBlock-background: #2b2b2b; --vscode-charts-blue: #3794ff; --vscode-charts-green: #89d185;
  --vscode-charts-orange: #d18616; --vscode-charts-red: #f14c4c; --vscode-panel-border: #2b2b2b;
}
`;

/** Runs before the page's scripts: the VS Code API stub and a recorder of CSP violations. */
const STUB_SCRIPT = `
window.__posted = [];
window.__csp = [];
window.__state = undefined;
document.addEventListener('securitypolicyviolation', (event) => window.__csp.push(event.violatedDirective + ' ' + event.blockedURI));
window.acquireVsCodeApi = () => ({
  postMessage: (message) => window.__posted.push(message),
  getState: () => window.__state,
  setState: (state) => { window.__state = state; },
});
`;

export interface WebviewHarness {
  browser: Browser;
  /** Base URL of the page server, such as `http://127.0.0.1:12345`. */
  origin: string;
  /** Opens a fresh chat page and waits for its `ready` message. */
  openChat(): Promise<ChatPage>;
  /** Opens a page with `window.specexitProbe` (sanitize-probe.ts) and no chat. */
  openProbe(): Promise<Page>;
  close(): Promise<void>;
}

export interface ChatPage {
  page: Page;
  /** Delivers host messages to the webview, in order. */
  send(...messages: HostToWebviewMessage[]): Promise<void>;
  /** Messages the webview posted so far. */
  posted(): Promise<WebviewToHostMessage[]>;
  /** Content Security Policy violations the page reported. */
  cspViolations(): Promise<string[]>;
  /** Uncaught errors and console errors of the page. */
  errors: string[];
  /** URLs the page requested from anywhere but the page server. */
  foreignRequests: string[];
}

/** Bundles the webview, starts the page server and launches Chromium. Throws when Chromium is missing. */
export async function startWebviewHarness(): Promise<WebviewHarness> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set SPECEXIT_CHROMIUM`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'specexit-webview-'));
  await bundle(dir);
  await writeFile(path.join(dir, 'theme.css'), THEME_CSS);
  await writeFile(path.join(dir, 'probe.html'), '<!DOCTYPE html><html><body><script src="sanitize-probe.js"></script></body></html>');

  const server = await serveFolder(dir);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });

  return {
    browser,
    origin,
    openChat: async () => {
      const nonce = randomBytes(16).toString('base64');
      const html = renderChatHtml({ scriptUri: `${origin}/chat.js`, styleUri: `${origin}/chat.css`, cspSource: origin, nonce })
        .replace('<link rel="stylesheet"', `<link rel="stylesheet" href="${origin}/theme.css">\n<link rel="stylesheet"`);
      const name = `chat-${nonce.replace(/[^a-z0-9]/gi, '')}.html`;
      await writeFile(path.join(dir, name), html);
      return openChatPage(browser, origin, `${origin}/${name}`);
    },
    openProbe: async () => {
      const page = await browser.newPage();
      await page.goto(`${origin}/probe.html`);
      await page.waitForFunction(() => 'specexitProbe' in window);
      return page;
    },
    close: async () => {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function openChatPage(browser: Browser, origin: string, url: string): Promise<ChatPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const foreignRequests: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) foreignRequests.push(request.url());
  });
  // A string, not a function: tsx would wrap a function's inner arrows in its `__name` helper, which the page lacks.
  await page.addInitScript(STUB_SCRIPT);
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((message) => message.type === 'ready'));

  return {
    page,
    errors,
    foreignRequests,
    send: async (...messages) => {
      await page.evaluate((batch) => {
        for (const message of batch) window.postMessage(message, '*');
      }, messages);
    },
    posted: () => page.evaluate(() => (window as unknown as { __posted: WebviewToHostMessage[] }).__posted),
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
  };
}

/** Bundles the chat webview and the sanitiser probe into `dir`, as esbuild.mjs does for dist/media. */
async function bundle(dir: string): Promise<void> {
  await build({
    entryPoints: {
      chat: path.join(ROOT, 'media', 'chat.ts'),
      'sanitize-probe': path.join(__dirname, 'sanitize-probe.ts'),
    },
    outdir: dir,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome114',
    logLevel: 'error',
  });
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function serveFolder(dir: string): Promise<Server> {
  const server = createServer((request, response) => {
    const name = path.basename(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
    if (name === 'favicon.ico') {
      response.writeHead(204);
      response.end();
      return;
    }
    readFile(path.join(dir, name)).then(
      (body) => {
        response.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream' });
        response.end(body);
      },
      () => {
        response.writeHead(404);
        response.end();
      },
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
