import './use-fake-vscode.ts';

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, test } from 'node:test';

import { COMMANDS, createExtension, SELECTED_MODEL_KEY, type ExtensionInstance } from '../../extension/activation.ts';
import { HISTORY_KEY } from '../../extension/chat-controller.ts';
import { StateNotification } from '../../daemon/protocol.ts';
import type { HostToWebviewMessage } from '../../media/messages.ts';
import { FakeDaemon } from './fake-daemon.ts';
import { createExtensionContext, fake, FakeMemento, Range, resetFake, Selection, Uri, type FakeStatusBarItem } from './fake-vscode.ts';
import { scriptedAsk } from './scripted-ask.ts';

const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  activationEvents: string[];
  contributes: {
    commands: { command: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    keybindings: { command: string }[];
    views: Record<string, { id: string }[]>;
    configuration: { properties: Record<string, unknown> };
  };
};

const STATUS_RESULT = {
  state: 'ready',
  protocolVersion: '1.0.0',
  pid: 1,
  uptimeMs: 10,
  model: { name: 'embedded' },
  backend: 'cpu',
  devices: ['CPU'],
  queueLength: 0,
  clients: 1,
  memory: { rssBytes: 0, heapUsedBytes: 0 },
  lastLatency: null,
  socketPath: '/tmp/daemon.sock',
  idleTimeoutMs: 600000,
};

interface Started {
  extension: ExtensionInstance;
  daemon: FakeDaemon;
  context: ReturnType<typeof createExtensionContext>;
  statusItem: FakeStatusBarItem;
}

async function start(workspaceState = new FakeMemento()): Promise<Started> {
  const daemon = new FakeDaemon();
  daemon.handlers.set('specexit/status', () => STATUS_RESULT);
  daemon.handlers.set('specexit/ask', scriptedAsk());
  const context = createExtensionContext(workspaceState);
  const extension = createExtension(context as never, { createDaemon: () => daemon });
  await settle();
  return { extension, daemon, context, statusItem: fake.statusBarItems[0]! };
}

/** Lets pending promise callbacks and timers of 0 ms run. */
function settle(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A webview stand-in that records what the controller posts. */
function recordingWebview() {
  const posted: HostToWebviewMessage[] = [];
  return { posted, postMessage: (message: HostToWebviewMessage) => Promise.resolve(posted.push(message) > 0) };
}

function fakeEditor(lines: string[], selection: Selection) {
  const document = {
    uri: Uri.file('/workspace/src/power.py'),
    languageId: 'python',
    lineCount: lines.length,
    lineAt: (line: number) => ({ text: lines[line]! }),
    getText: (range?: Range) => {
      if (!range) return lines.join('\n');
      return lines.slice(range.start.line, range.end.line + 1).join('\n');
    },
  };
  return { document, selection, selections: [selection] };
}

describe('extension activation', () => {
  beforeEach(() => resetFake());

  test('registers every contributed command', async () => {
    await start();
    const contributed = manifest.contributes.commands.map((command) => command.command).sort();
    assert.deepEqual([...fake.commands.keys()].sort(), contributed);
    assert.deepEqual(Object.values(COMMANDS).sort(), contributed);
    for (const id of ['specexit.askSelection', 'specexit.ask', 'specexit.openChat', 'specexit.stop', 'specexit.restartDaemon', 'specexit.showLog', 'specexit.selectModel']) {
      assert.ok(manifest.activationEvents.includes(`onCommand:${id}`), `${id} activates the extension`);
    }
  });

  test('ask about selection is in menu and keys', () => {
    assert.ok(manifest.contributes.menus['editor/context']!.some((item) => item.command === COMMANDS.askSelection));
    assert.ok(manifest.contributes.keybindings.some((binding) => binding.command === COMMANDS.askSelection));
    assert.deepEqual(manifest.contributes.views.specexit!.map((view) => view.id), ['specexit.chat']);
  });

  test('settings are declared in the manifest', () => {
    const declared = Object.keys(manifest.contributes.configuration.properties).sort();
    assert.deepEqual(declared, [
      'specexit.daemon.idleShutdownMinutes',
      'specexit.exit.confidence',
      'specexit.exit.progress',
      'specexit.exit.remain',
      'specexit.logLevel',
      'specexit.mode',
      'specexit.model.draftPath',
      'specexit.model.signalsPath',
      'specexit.model.targetPath',
      'specexit.thinking.budget',
      'specexit.thinking.keepExpanded',
    ]);
  });

  test('starts the daemon and shows ready', async () => {
    const { daemon, statusItem } = await start();
    assert.deepEqual(daemon.calls, ['start']);
    assert.equal(statusItem.visible, true);
    assert.match(statusItem.text, /SpecExit/);
    assert.equal(statusItem.text, '$(check) SpecExit: ready');
    assert.equal(statusItem.command, 'specexit.openChat');
    assert.match(String((statusItem.tooltip as { value: string }).value), /Model: embedded/);
    assert.match(String((statusItem.tooltip as { value: string }).value), /Backend: cpu \(CPU\)/);
  });

  test('daemon state notifications drive the status bar', async () => {
    const { daemon, statusItem } = await start();
    daemon.notify(StateNotification, { state: 'loading', model: 'embedded' });
    assert.equal(statusItem.text, '$(loading~spin) SpecExit: loading model');
    daemon.notify(StateNotification, { state: 'thinking', model: 'embedded' });
    assert.equal(statusItem.text, '$(loading~spin) SpecExit: thinking');
    daemon.notify(StateNotification, { state: 'error', message: 'the model file is missing' });
    assert.equal(statusItem.text, '$(error) SpecExit: error');
    assert.equal(statusItem.command, 'specexit.showDaemonError');
    assert.equal(statusItem.backgroundColor?.id, 'statusBarItem.errorBackground');
  });

  test('error click offers a daemon restart', async () => {
    const { daemon } = await start();
    daemon.notify(StateNotification, { state: 'error', message: 'the model file is missing' });
    fake.messageAnswers.push('Restart Daemon');
    await fake.commands.get('specexit.showDaemonError')!();
    await settle();
    assert.deepEqual(fake.messages.at(-1)?.actions, ['Restart Daemon', 'Show Log']);
    assert.match(fake.messages.at(-1)?.text ?? '', /the model file is missing/);
    assert.deepEqual(daemon.calls, ['start', 'restartDaemon']);
  });

  test('failed daemon start shows next steps', async () => {
    const daemon = new FakeDaemon();
    daemon.start = () => Promise.reject(new Error('the SpecExit daemon stopped during startup (exit code 1)'));
    createExtension(createExtensionContext() as never, { createDaemon: () => daemon });
    await settle();
    assert.equal(fake.statusBarItems[0]!.text, '$(error) SpecExit: error');
    assert.equal(fake.messages[0]?.level, 'error');
    assert.deepEqual(fake.messages[0]?.actions, ['Restart Daemon', 'Show Log']);
  });

  test('show log reveals the log channel', async () => {
    await start();
    await fake.commands.get('specexit.showLog')!();
    assert.equal(fake.outputChannels[0]!.shown, true);
    assert.equal(fake.outputChannels[0]!.name, 'SpecExit');
  });

  test('ask streams into the chat webview', async () => {
    const { extension, daemon, statusItem } = await start();
    const webview = recordingWebview();
    extension.chat.attach(webview);
    fake.inputAnswers.push('What does 2**3 print?');
    await fake.commands.get('specexit.ask')!();

    assert.ok(fake.executed.some((call) => call.id === 'specexit.chat.focus'), 'the chat view is focused');
    const ask = daemon.requests.find((request) => request.method === 'specexit/ask')!.params as { question: string; options: { mode: string } };
    assert.equal(ask.question, 'What does 2**3 print?');
    assert.equal(ask.options.mode, 'specexit');

    const types = webview.posted.map((message) => (message.type === 'turnEvent' ? message.event.type : message.type));
    assert.deepEqual(types, ['focusInput', 'turnStart', 'prefill', 'delta', 'signals', 'delta', 'signals', 'delta', 'signals', 'exit', 'delta', 'stats', 'done']);
    const deltaTokens = webview.posted.flatMap((message) => (message.type === 'turnEvent' && message.event.type === 'delta' ? [message.event.tokens] : []));
    assert.deepEqual(deltaTokens, [20, 40, 60, 20], 'deltas carry the daemon\'s token counts');
    const turn = extension.chat.history.at(-1)!;
    assert.equal(turn.status, 'done');
    assert.equal(turn.answer, 'It prints `8`.');
    assert.equal(turn.exit?.predictedRemainingTokens, 40);
    assert.equal(statusItem.text, '$(check) SpecExit 0.9 s · 80 tok/s · −40% thinking');
  });

  test('stop cancels the running ask', async () => {
    const { extension, daemon } = await start();
    daemon.handlers.set('specexit/ask', scriptedAsk({ hangAfterThinking: true }));
    const asked = extension.chat.ask({ question: 'Slow question' });
    await settle();
    assert.equal(extension.chat.hasRunningAsk, true);
    await fake.commands.get('specexit.stop')!();
    const turn = await asked;
    assert.equal(turn.status, 'stopped');
    assert.equal(extension.chat.hasRunningAsk, false);

    await fake.commands.get('specexit.stop')!();
    assert.equal(fake.messages.at(-1)?.text, 'SpecExit: nothing to stop.');
  });

  test('history persists per workspace', async () => {
    const workspaceState = new FakeMemento();
    const first = await start(workspaceState);
    await first.extension.chat.ask({ question: 'First question' });
    assert.equal((workspaceState.get<unknown[]>(HISTORY_KEY) ?? []).length, 1);

    resetFake();
    const second = await start(workspaceState);
    const webview = recordingWebview();
    second.extension.chat.attach(webview);
    await second.extension.chat.handleMessage(webview, { type: 'ready' });
    const init = webview.posted.find((message) => message.type === 'init');
    assert.ok(init && init.type === 'init');
    assert.deepEqual(init.turns.map((turn) => turn.question), ['First question']);
    assert.equal(init.turns[0]!.answer, 'It prints `8`.');

    await second.extension.chat.handleMessage(webview, { type: 'clearHistory' });
    assert.deepEqual(workspaceState.get(HISTORY_KEY), []);
  });

  test('webview messages reach host actions', async () => {
    const { extension } = await start();
    const webview = recordingWebview();
    await extension.chat.handleMessage(webview, { type: 'copy', text: 'print(8)' });
    assert.equal(fake.clipboard, 'print(8)');
    await extension.chat.handleMessage(webview, { type: 'openLink', href: 'https://example.com/docs' });
    await extension.chat.handleMessage(webview, { type: 'openLink', href: 'javascript:alert(1)' });
    await extension.chat.handleMessage(webview, { type: 'openLink', href: 'command:workbench.action.quit' });
    assert.deepEqual(fake.opened, ['https://example.com/docs']);
    await extension.chat.handleMessage(webview, { type: 'nonsense' });
    await extension.chat.handleMessage(webview, { type: 'ask', question: 42 });
    assert.equal(extension.chat.history.length, 0);
    assert.ok(fake.outputChannels[0]!.lines.some((line) => line.message.includes('dropped an invalid message')));
  });

  test('ask about selection answers inline', async () => {
    const { daemon } = await start();
    const lines = ['def power():', '    x = 2**3', '    print(x)', 'power()'];
    fake.activeTextEditor = fakeEditor(lines, new Selection(1, 4, 2, 12));
    fake.inputAnswers.push('');
    await fake.commands.get('specexit.askSelection')!();
    await settle(200);

    const ask = daemon.requests.find((request) => request.method === 'specexit/ask')!.params as {
      question: string;
      context: { path: string; languageId: string; selection: { text: string; startLine: number; endLine: number }; before: string; after: string };
    };
    assert.equal(ask.question, 'Explain this code.');
    assert.equal(ask.context.path, 'src/power.py');
    assert.equal(ask.context.languageId, 'python');
    assert.deepEqual(ask.context.selection, { text: '    x = 2**3\n    print(x)', startLine: 2, endLine: 3 });
    assert.equal(ask.context.before, 'def power():');
    assert.equal(ask.context.after, 'power()');

    const thread = fake.commentControllers[0]!.threads[0]!;
    assert.equal(thread.range.start.line, 1);
    assert.equal(thread.range.end.line, 2);
    assert.deepEqual(thread.comments.map((comment) => comment.author.name), ['You', 'SpecExit']);
    const answer = thread.comments[1]!;
    assert.equal(answer.body.value, 'It prints `8`.');
    assert.equal(answer.body.isTrusted, false);
    assert.match(answer.label ?? '', /SpecExit stopped thinking at token 60 \(step 3\), saving about 40 tokens and 0\.5 s/);
  });

  test('inline follow-up carries the exchange', async () => {
    const { daemon } = await start();
    fake.activeTextEditor = fakeEditor(['x = 2**3'], new Selection(0, 0, 0, 8));
    fake.inputAnswers.push('What is x?');
    await fake.commands.get('specexit.askSelection')!();
    await settle(200);

    const thread = fake.commentControllers[0]!.threads[0]!;
    await fake.commands.get('specexit.inline.reply')!({ thread, text: 'And x squared?' });
    await settle(200);

    const asks = daemon.requests.filter((request) => request.method === 'specexit/ask').map((request) => request.params as { question: string; context: { selection: { text: string } } });
    assert.equal(asks.length, 2);
    assert.equal(asks[1]!.question, 'Earlier question: What is x?\nYour earlier answer: It prints `8`.\n\nFollow-up question: And x squared?');
    assert.equal(asks[1]!.context.selection.text, 'x = 2**3');
    assert.deepEqual(thread.comments.map((comment) => comment.author.name), ['You', 'SpecExit', 'You', 'SpecExit']);
    assert.equal(thread.comments[2]!.body.value, 'And x squared?');
  });

  test('select model loads and remembers it', async () => {
    const { daemon, context } = await start();
    daemon.handlers.set('specexit/models', () => ({
      defaultModel: 'embedded',
      models: [
        { name: 'embedded', target: '/m/t.gguf', missing: [], loaded: true, isDefault: true, modes: ['specexit'] },
        { name: 'big', target: '/m/big.gguf', missing: [], loaded: false, isDefault: false, modes: ['vanilla', 'eagle3'] },
      ],
    }));
    daemon.handlers.set('specexit/loadModel', (params) => ({ name: (params as { model: string }).model, architecture: 'qwen3', layers: 2, loadMs: 5 }));
    fake.quickPickAnswers.push((items) => (items as { label: string }[]).find((item) => item.label === 'big'));
    await fake.commands.get('specexit.selectModel')!();

    assert.deepEqual(daemon.requests.find((request) => request.method === 'specexit/loadModel')?.params, { model: 'big' });
    assert.equal(context.globalState.get(SELECTED_MODEL_KEY), 'big');
    daemon.requests.length = 0;
    await fake.commands.get('specexit.openChat')!();
    fake.inputAnswers.push('Which model?');
    await fake.commands.get('specexit.ask')!();
    const ask = daemon.requests.find((request) => request.method === 'specexit/ask')!.params as { options: { model: string } };
    assert.equal(ask.options.model, 'big');
  });

  test('exit threshold settings reach every ask', async () => {
    fake.settings.set('specexit.exit.confidence', 0.9);
    fake.settings.set('specexit.exit.remain', 64);
    const { daemon } = await start();
    await fake.commands.get('specexit.openChat')!();
    fake.inputAnswers.push('First question');
    await fake.commands.get('specexit.ask')!();

    fake.settings.set('specexit.exit.progress', 0.5);
    fake.configurationChanged.fire({ affectsConfiguration: (section) => section === 'specexit' || section === 'specexit.exit' });
    fake.activeTextEditor = fakeEditor(['x = 2**3'], new Selection(0, 0, 0, 8));
    fake.inputAnswers.push('What is x?');
    await fake.commands.get('specexit.askSelection')!();
    await settle(200);

    const asks = daemon.requests.filter((request) => request.method === 'specexit/ask').map((request) => request.params as { options: { exit?: object } });
    assert.equal(asks.length, 2);
    assert.deepEqual(asks[0]!.options.exit, { confidenceThreshold: 0.9, remainThreshold: 64 });
    assert.deepEqual(asks[1]!.options.exit, { confidenceThreshold: 0.9, progressThreshold: 0.5, remainThreshold: 64 });
  });

  test('keep-expanded setting reaches the webview', async () => {
    const { extension } = await start();
    const webview = recordingWebview();
    extension.chat.attach(webview);
    fake.settings.set('specexit.thinking.keepExpanded', true);
    fake.configurationChanged.fire({ affectsConfiguration: (section) => section === 'specexit' || section === 'specexit.thinking' });
    assert.deepEqual(webview.posted.at(-1), { type: 'settings', settings: { keepThinkingExpanded: true } });
  });
});
