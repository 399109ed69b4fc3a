/**
 * Drives the VS Code workbench that code-server serves, with playwright-core and Debian's Chromium: open a file,
 * select lines, run a command from the palette, read a webview and the status bar.
 *
 * Selectors are VS Code's own DOM classes and ids (VS Code OSS 1.139), which change rarely but without notice.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.SPECEXIT_CHROMIUM ?? '/usr/bin/chromium';

/** Time for the workbench to load and show its status bar. */
const WORKBENCH_TIMEOUT_MS = 60_000;

/** Launches headless Chromium that can reach 127.0.0.1 only: every other host name resolves to nothing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set SPECEXIT_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
}

export interface Workbench {
  page: Page;
  /** Requests of the page that went, or tried to go, anywhere but the code-server origin. */
  foreignRequests: string[];
  /** Uncaught page errors. */
  pageErrors: string[];
}

/** Opens the workbench for `folder` and waits for its status bar. */
export async function openWorkbench(browser: Browser, serverUrl: string, folder: string): Promise<Workbench> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const workbench: Workbench = { page, foreignRequests: [], pageErrors: [] };
  const origin = new URL(serverUrl).origin;
  // Webview resources have https://*.vscode-resource.vscode-cdn.net URLs, but the webview's service worker serves
  // them from code-server, so only responses from elsewhere and failed requests count as leaving 127.0.0.1.
  const isForeign = (url: string): boolean => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:');
  page.on('response', (response) => {
    if (isForeign(response.url()) && !response.fromServiceWorker()) workbench.foreignRequests.push(response.url());
  });
  page.on('requestfailed', (request) => {
    if (isForeign(request.url())) workbench.foreignRequests.push(`${request.url()} (failed: ${request.failure()?.errorText})`);
  });
  page.on('pageerror', (error) => workbench.pageErrors.push(error.message));

  await page.goto(`${serverUrl}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: WORKBENCH_TIMEOUT_MS });
  await page.locator('#workbench\\.parts\\.statusbar').waitFor({ timeout: WORKBENCH_TIMEOUT_MS });
  return workbench;
}

/** Returns the quick input box (command palette, Quick Open). */
function quickInput(page: Page): Locator {
  return page.locator('.quick-input-widget');
}

/**
 * Runs a command by its palette title. The palette lists commands when it opens, so a command that an extension
 * registers later is missing: close the palette and try again until `timeoutMs` has passed.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    const input = quickInput(page).locator('input');
    await input.waitFor({ timeout: 10_000 });
    const query = `>${title}`;
    await input.fill(query);
    const rows = quickInput(page).locator('.quick-input-list .monaco-list-row', { hasText: title });
    // A row's text is its label, then its key binding on the next lines; "Open Chat" must not pick "Open Chat in Editor".
    let index = -1;
    try {
      await rows.first().waitFor({ timeout: 2_000 });
      index = (await rows.allInnerTexts()).findIndex((text) => text.split('\n')[0]?.trim() === title);
    } catch {
      // Not listed yet.
    }
    if (index < 0) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) {
        throw new Error(`the command "${title}" did not appear in the command palette within ${timeoutMs / 1000} s (${attempt} attempts)`);
      }
      await sleep(1_000);
      continue;
    }
    await rows.nth(index).click();
    // The palette closes, or turns into the command's own quick input (Go to File, Go to Line).
    const closeDeadline = Date.now() + 5_000;
    while ((await quickInput(page).isVisible()) && (await input.inputValue()) === query) {
      if (Date.now() > closeDeadline) throw new Error(`the command palette did not close after running "${title}"`);
      await sleep(100);
    }
    return;
  }
}

/** Types `text` into the input box that a command opened (`vscode.window.showInputBox`) and confirms it. */
export async function fillInputBox(page: Page, text: string): Promise<void> {
  const input = quickInput(page).locator('input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(text);
  await input.press('Enter');
  await quickInput(page).waitFor({ state: 'hidden', timeout: 5_000 });
}

/** Opens a workspace file with Quick Open and waits until its editor tab is active. */
export async function openFile(page: Page, fileName: string): Promise<void> {
  await runCommand(page, 'Go to File...');
  const input = quickInput(page).locator('input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(fileName);
  await quickInput(page).locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first().waitFor({ timeout: 10_000 });
  await input.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: fileName }).waitFor({ timeout: 10_000 });
  await page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 10_000 });
}

/** Selects whole lines `first` to `last` (1-based, inclusive) in the active editor with Go to Line and Shift+Down. */
export async function selectLines(page: Page, first: number, last: number): Promise<void> {
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await runCommand(page, 'Go to Line/Column...');
  const input = quickInput(page).locator('input');
  await input.fill(`:${first}`);
  await input.press('Enter');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home');
  for (let line = first; line <= last; line++) await page.keyboard.press('Shift+ArrowDown');
}

/**
 * Waits for a webview whose content has an element matching `selector` and returns that content. A webview's
 * content sits two iframes deep: `iframe.webview`, then `#active-frame`. The outer frames carry no title, so this
 * finds the webview by its content.
 */
export async function findWebview(page: Page, selector: string, timeoutMs = 30_000): Promise<FrameLocator> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frames = page.locator('iframe.webview.ready');
    const count = await frames.count();
    for (let i = 0; i < count; i++) {
      const content = frames.nth(i).contentFrame().frameLocator('#active-frame');
      if ((await content.locator(selector).count()) > 0) return content;
    }
    if (Date.now() > deadline) {
      throw new Error(`no webview showed ${selector} within ${timeoutMs / 1000} s (${count} webviews open)`);
    }
    await sleep(250);
  }
}

/** Returns the status bar entries whose text contains `text`. */
export function statusBarItem(page: Page, text: string | RegExp): Locator {
  return page.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: text });
}

/** Returns the text of every status bar entry, for failure messages. */
export async function statusBarTexts(page: Page): Promise<string[]> {
  return page.locator('#workbench\\.parts\\.statusbar .statusbar-item').allInnerTexts();
}
