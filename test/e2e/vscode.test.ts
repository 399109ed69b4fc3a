/**
 * End-to-end test of the packaged extension in a real VS Code that runs offline: code-server on 127.0.0.1, driven
 * by Playwright in Debian's Chromium. It installs the `.vsix` from `npm run package`, opens a Python file, selects
 * code, runs SpecExit: Ask About Selection, and watches the chat webview show thinking, then an answer, then the
 * status bar show the answer's latency.
 *
 * Needs `test/e2e/setup.sh` (code-server and Node 24) and `npm run package`; it fails with the command to run
 * when either is missing. The model is the embedded one in the `.vsix`. SPECEXIT_E2E_MODEL=fixtures uses the
 * random-weight test fixtures instead, which produce nonsense text but exercise the same flow.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';

import { embeddedModelFiles, findVsixProblem, readEmbeddedModelManifest, ROOT, vsixPath } from '../../scripts/vsix-layout.ts';
import { generateFixtures } from '../fixtures/generate.ts';
import { readZipEntries } from '../package/zip-entries.ts';
import {
  createCodeServerDirs,
  findSetupProblem,
  installExtension,
  startCodeServer,
  writeSettings,
  type CodeServer,
  type CodeServerDirs,
} from './code-server.ts';
import { fillInputBox, findWebview, launchChromium, openFile, openWorkbench, runCommand, selectLines, statusBarItem, statusBarTexts, type Workbench } from './workbench.ts';

const ASK_COMMAND_TITLE = 'SpecExit: Ask About Selection';
const OPEN_CHAT_COMMAND_TITLE = 'SpecExit: Open Chat';
const SAMPLE_FILE = 'sample.py';
/** A snippet like those the embedded model was trained to trace; it prints 6. */
const SAMPLE_SOURCE = ['import sys', '', 'total = 0', 'for i in range(4):', '    total += i', 'print(total)', ''].join('\n');
const SAMPLE_OUTPUT = '6';
/** Lines the test selects (1-based, inclusive): the loop and the print. */
const SELECTED_LINES = [3, 6] as const;
const QUESTION = 'What does this code print?';

/** Time from running the command to the first thinking text: starting the daemon and loading the model on a CPU. */
const THINKING_TIMEOUT_MS = 180_000;
/** Time from the first thinking text to the status bar's latency. */
// NOTE: sized for the small embedded model on 2 shared CPU cores; a larger model needs more.
const ANSWER_TIMEOUT_MS = 300_000;
const POLL_INTERVAL_MS = 150;

/** Status bar text once an answer is done: `SpecExit 1.2 s · 35 tok/s`. */
const LATENCY_STATUS = /SpecExit [\d.]+ s · \d+ tok\/s/;

/** Status bar text while the daemon loads the model or generates. */
const BUSY_STATUS = /SpecExit: (loading model|thinking|answering)/;

/** Where a failed run leaves its screenshot and logs. */
const FAILURE_DIR = path.join(ROOT, 'out', 'e2e-failure');

type ModelChoice = 'embedded' | 'fixtures';

function modelChoice(): ModelChoice {
  const value = process.env.SPECEXIT_E2E_MODEL ?? 'embedded';
  if (value !== 'embedded' && value !== 'fixtures') {
    throw new Error(`SPECEXIT_E2E_MODEL is ${JSON.stringify(value)}; expected "embedded" or "fixtures"`);
  }
  return value;
}

/** Returns why the `.vsix` lacks the embedded model, or undefined when it contains every file models/embedded.json names. */
function findMissingEmbeddedModel(vsix: string): string | undefined {
  const manifest = readEmbeddedModelManifest();
  if (!manifest) return 'models/embedded.json is missing';
  const names = new Set(readZipEntries(vsix).map((entry) => entry.name));
  const missing = embeddedModelFiles(manifest).filter((file) => !names.has(`extension/${file}`));
  if (missing.length === 0) return undefined;
  return (
    `the .vsix lacks ${missing.join(', ')} (was it packaged with --allow-missing-model?). Run \`npm run package\` ` +
    'once the embedded model is in models/, or set SPECEXIT_E2E_MODEL=fixtures to try the flow with the random-weight fixtures'
  );
}

/**
 * The fixture target never closes its thinking by itself, so a thinking budget makes the daemon force the wrap-up
 * and an answer follows.
 */
const FIXTURE_USER_SETTINGS = { 'specexit.thinking.budget': 48 };

/** Returns the machine settings that point the extension at the random-weight fixtures. */
async function fixtureModelSettings(): Promise<Record<string, unknown>> {
  const fixtures = await generateFixtures(path.join(ROOT, 'test', 'fixtures', 'generated'));
  return {
    'specexit.model.targetPath': fixtures.target,
    'specexit.model.draftPath': fixtures.draft,
    'specexit.model.signalsPath': fixtures.signals,
  };
}

/** What the test saw of one ask, in milliseconds since the question was confirmed. */
interface Timeline {
  /** First thinking text and first answer text, from FIRST_TEXT_OBSERVER. */
  thinkingAt?: number;
  answerAt?: number;
  /** First SpecExit status bar text with the latency, from STATUS_BAR_OBSERVER. */
  latencyStatusAt?: number;
  /** SpecExit status bar texts since the question, in order, from STATUS_BAR_OBSERVER. */
  statusTexts: string[];
  /** Distinct `data-status` values of the chat turn (queued, prefill, thinking, answering, done, stopped, error), in order. */
  turnStatuses: string[];
  thinkingText: string;
  answerText: string;
}

/**
 * Records, inside the chat webview, when the thinking text and the answer text first became non-empty (`Date.now()`
 * in milliseconds). A MutationObserver is called on every DOM change, however fast the model is, where polling from
 * the test could miss a short thinking phase. An expression string, because the test's TypeScript has no DOM types.
 */
const FIRST_TEXT_OBSERVER = `(() => {
  const seen = {};
  const record = () => {
    const now = Date.now();
    const thinking = document.querySelector('[data-testid="thinking"] .thinking-text');
    const answer = document.querySelector('[data-testid="answer"]');
    if (seen.thinking === undefined && thinking && thinking.textContent.trim() !== '') seen.thinking = now;
    if (seen.answer === undefined && answer && answer.textContent.trim() !== '') seen.answer = now;
  };
  new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
  window.specexitFirstText = seen;
})()`;

/**
 * Records every text of the SpecExit status bar entry with its `Date.now()`, in the workbench page. The extension
 * host can pass through several states between two polls of a fast model.
 */
const STATUS_BAR_OBSERVER = `(() => {
  const changes = [];
  const bar = document.getElementById('workbench.parts.statusbar');
  const record = () => {
    const item = [...bar.querySelectorAll('.statusbar-item')].find((element) => element.textContent.includes('SpecExit'));
    const text = item ? item.textContent.trim() : '';
    if (text !== '' && changes.at(-1)?.text !== text) changes.push({ text, at: Date.now() });
  };
  new MutationObserver(record).observe(bar, { subtree: true, childList: true, characterData: true, attributes: true });
  record();
  window.specexitStatusChanges = changes;
})()`;

interface StatusChange {
  text: string;
  at: number;
}

interface FirstTextTimes {
  thinking?: number;
  answer?: number;
}

/** Turn statuses after which nothing more streams. */
const FINAL_TURN_STATUSES = new Set(['done', 'stopped', 'error']);

async function readSpecExitStatus(page: Page): Promise<string | undefined> {
  const texts = await statusBarTexts(page);
  return texts.map((text) => text.trim()).find((text) => text.includes('SpecExit'));
}

async function readText(locator: Locator): Promise<string> {
  return ((await locator.count()) > 0 ? await locator.textContent() : '') ?? '';
}

/** Polls the chat webview and the status bar until the turn has ended and the status bar shows its latency. */
async function watchAsk(page: Page, chat: FrameLocator, started: number): Promise<Timeline> {
  const timeline: Timeline = { statusTexts: [], turnStatuses: [], thinkingText: '', answerText: '' };
  const thinkingText = chat.locator('[data-testid="thinking"] .thinking-text').last();
  const answer = chat.locator('[data-testid="answer"]').last();
  const turn = chat.locator('article.turn').last();
  let deadline = started + THINKING_TIMEOUT_MS;

  for (;;) {
    timeline.thinkingText = await readText(thinkingText);
    timeline.answerText = await readText(answer);
    const turnStatus = (await turn.count()) > 0 ? await turn.getAttribute('data-status') : null;
    const statusChanges = ((await page.evaluate('window.specexitStatusChanges')) ?? []) as StatusChange[];

    const firstText = ((await chat.locator('body').evaluate('window.specexitFirstText')) ?? {}) as FirstTextTimes;
    if (timeline.thinkingAt === undefined && firstText.thinking !== undefined) {
      timeline.thinkingAt = firstText.thinking - started;
      deadline = Date.now() + ANSWER_TIMEOUT_MS;
    }
    if (firstText.answer !== undefined) timeline.answerAt = firstText.answer - started;
    if (turnStatus && timeline.turnStatuses.at(-1) !== turnStatus) timeline.turnStatuses.push(turnStatus);
    const sinceAsk = statusChanges.filter((change) => change.at >= started);
    timeline.statusTexts = sinceAsk.map((change) => change.text);
    const latency = sinceAsk.find((change) => LATENCY_STATUS.test(change.text));
    if (latency) timeline.latencyStatusAt = latency.at - started;

    const ended = turnStatus !== null && FINAL_TURN_STATUSES.has(turnStatus);
    if ((ended && timeline.latencyStatusAt !== undefined) || turnStatus === 'error' || Date.now() > deadline) break;
    await sleep(POLL_INTERVAL_MS);
  }

  // The texts were read before the observer's times in the last poll, so read them once more.
  timeline.thinkingText = await readText(thinkingText);
  timeline.answerText = await readText(answer);
  return timeline;
}

/** Copies the evidence of a failed run to out/e2e-failure/ and returns its path. */
async function saveFailureEvidence(workbench: Workbench | undefined, server: CodeServer | undefined, dirs: CodeServerDirs): Promise<string> {
  await rm(FAILURE_DIR, { recursive: true, force: true });
  await mkdir(FAILURE_DIR, { recursive: true });
  if (workbench) await workbench.page.screenshot({ path: path.join(FAILURE_DIR, 'workbench.png') }).catch(() => undefined);
  if (server) await writeFile(path.join(FAILURE_DIR, 'code-server.log'), server.output());
  for (const log of await findDaemonLogs(dirs)) {
    await copyFile(log, path.join(FAILURE_DIR, `daemon-${path.basename(path.dirname(log))}.log`)).catch(() => undefined);
  }
  return FAILURE_DIR;
}

/** Returns the daemon's log files: `daemon.log` in the per-user runtime folder under the run's TMPDIR. */
async function findDaemonLogs(dirs: CodeServerDirs): Promise<string[]> {
  const logs: string[] = [];
  for (const entry of await readdir(dirs.tmp)) {
    const log = path.join(dirs.tmp, entry, 'daemon.log');
    if (entry.startsWith('specexit-') && existsSync(log)) logs.push(log);
  }
  return logs;
}

function reportTimeline(t: TestContext, timeline: Timeline): void {
  t.diagnostic(`thinking after ${timeline.thinkingAt} ms, answer after ${timeline.answerAt} ms, latency in the status bar after ${timeline.latencyStatusAt} ms`);
  t.diagnostic(`turn: ${timeline.turnStatuses.join(' → ')}`);
  t.diagnostic(`status bar: ${timeline.statusTexts.join(' → ')}`);
  t.diagnostic(`thinking (${timeline.thinkingText.length} chars): ${JSON.stringify(timeline.thinkingText.slice(0, 300))}`);
  t.diagnostic(`answer (${timeline.answerText.length} chars): ${JSON.stringify(timeline.answerText.slice(0, 300))}`);
}

describe('packaged extension in code-server', () => {
  test('ask about selection end to end', { timeout: 15 * 60_000 }, async (t) => {
    const setupProblem = findSetupProblem();
    if (setupProblem) assert.fail(setupProblem);
    const vsixProblem = findVsixProblem();
    if (vsixProblem) assert.fail(vsixProblem);
    const vsix = vsixPath();
    const model = modelChoice();
    if (model === 'embedded') {
      const missingModel = findMissingEmbeddedModel(vsix);
      if (missingModel) assert.fail(missingModel);
    }

    const runStarted = Date.now();
    const dirs = await createCodeServerDirs();
    let server: CodeServer | undefined;
    let browser: Browser | undefined;
    let workbench: Workbench | undefined;
    let passed = false;
    try {
      await writeSettings(dirs, model === 'fixtures' ? { machine: await fixtureModelSettings(), user: FIXTURE_USER_SETTINGS } : {});
      await writeFile(path.join(dirs.workspace, SAMPLE_FILE), SAMPLE_SOURCE);
      const installOutput = installExtension(dirs, vsix);
      assert.match(installOutput, /successfully installed/, installOutput);

      server = await startCodeServer(dirs);
      browser = await launchChromium();
      workbench = await openWorkbench(browser, server.url, dirs.workspace);
      const page = workbench.page;
      t.diagnostic(`workbench loaded after ${Date.now() - runStarted} ms (model: ${model})`);

      await openFile(page, SAMPLE_FILE);
      // Ask About Selection shows its reply in a comment thread at the code and adds the same turn to the chat view.
      // Opening the chat first lets the test watch the turn from its start. The extension activates on its
      // commands, so the palette retries until the command is registered.
      await runCommand(page, OPEN_CHAT_COMMAND_TITLE, 60_000);
      const chat = await findWebview(page, '[data-testid="transcript"]', 60_000);
      await chat.locator('body').evaluate(FIRST_TEXT_OBSERVER);
      await selectLines(page, ...SELECTED_LINES);
      await runCommand(page, ASK_COMMAND_TITLE);
      const statusBeforeAsk = await readSpecExitStatus(page);
      await page.evaluate(STATUS_BAR_OBSERVER);
      const asked = Date.now();
      await fillInputBox(page, QUESTION);

      const timeline = await watchAsk(page, chat, asked);
      reportTimeline(t, timeline);

      assert.ok(!timeline.turnStatuses.includes('error'), `the ask failed in the chat view; status bar: ${timeline.statusTexts.join(' → ')}`);
      assert.equal(timeline.turnStatuses.at(-1), 'done', `the chat turn did not finish: ${timeline.turnStatuses.join(' → ')}`);
      assert.ok(timeline.thinkingAt !== undefined, `no thinking text within ${THINKING_TIMEOUT_MS / 1000} s of running the command`);
      assert.ok(timeline.answerAt !== undefined, `no answer text within ${ANSWER_TIMEOUT_MS / 1000} s of the first thinking text`);
      assert.ok(timeline.thinkingAt <= timeline.answerAt, `the answer (${timeline.answerAt} ms) came before any thinking (${timeline.thinkingAt} ms)`);
      if (model === 'embedded') {
        // The fixtures think for a few milliseconds, so both texts can land in one update; the embedded model cannot.
        assert.ok(timeline.thinkingAt < timeline.answerAt, `thinking and answer appeared in the same update (${timeline.answerAt} ms)`);
      }
      assert.ok(timeline.latencyStatusAt !== undefined, `the status bar never showed the latency; it showed ${timeline.statusTexts.join(' → ')}`);
      // NOTE: the test checks no order between the status bar and the chat's answer text. The chat webview renders
      // its turn up to about 2 s after the extension host has it (measured with the fixtures on 2 busy cores), and
      // the status bar changes at once. The status bar's latency comes from the finished answer, so it cannot lead.
      assert.ok(!LATENCY_STATUS.test(statusBeforeAsk ?? ''), `the status bar showed a latency before the ask: ${statusBeforeAsk}`);
      const beforeLatency = timeline.statusTexts.slice(0, timeline.statusTexts.findIndex((text) => LATENCY_STATUS.test(text)));
      assert.ok(
        beforeLatency.some((text) => BUSY_STATUS.test(text)),
        `the status bar showed no busy state before the latency: ${timeline.statusTexts.join(' → ')}`,
      );
      await statusBarItem(page, LATENCY_STATUS).waitFor({ timeout: 5_000 });

      const daemonLog = (await Promise.all((await findDaemonLogs(dirs)).map((log) => readFile(log, 'utf8')))).join('\n');
      if (model === 'embedded') {
        const manifest = readEmbeddedModelManifest();
        assert.ok(manifest);
        assert.ok(daemonLog.includes(manifest.target), `the daemon log does not mention the embedded model ${manifest.target}`);
      }
      // The model may trace wrong, so a wrong number is reported, not failed.
      t.diagnostic(`the answer ${timeline.answerText.includes(SAMPLE_OUTPUT) ? 'contains' : 'does not contain'} the printed value ${SAMPLE_OUTPUT}`);
      assert.deepEqual(workbench.foreignRequests, [], 'the workbench requested URLs outside code-server');
      t.diagnostic(`whole run ${Date.now() - runStarted} ms`);
      passed = true;
    } finally {
      if (!passed) t.diagnostic(`evidence of the failure: ${await saveFailureEvidence(workbench, server, dirs)}`);
      await browser?.close();
      await server?.stop();
      await rm(dirs.root, { recursive: true, force: true });
    }
  });
});
