/**
 * A fake of the parts of the `vscode` module the extension uses. It records what the extension shows and
 * registers, and lets a test script the user's answers to prompts. `use-fake-vscode.ts` makes `import 'vscode'`
 * load this file.
 */

type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
  private readonly listeners = new Set<Listener<T>>();
  readonly event = (listener: Listener<T>) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Disposable {
  constructor(private readonly onDispose: () => void) {}
  dispose(): void {
    this.onDispose();
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly path: string, private readonly raw: string) {}
  static parse(value: string, strict = false): Uri {
    const match = /^([a-zA-Z][\w+.-]*):(.*)$/.exec(value);
    if (!match) {
      if (strict) throw new Error(`invalid URI: ${value}`);
      return new Uri('file', value, value);
    }
    return new Uri(match[1]!.toLowerCase(), match[2]!, value);
  }
  static file(path: string): Uri {
    return new Uri('file', path, `file://${path}`);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return Uri.file([base.path, ...parts].join('/'));
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return this.raw;
  }
}

export class Position {
  constructor(readonly line: number, readonly character: number) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(startLine: number | Position, startCharacter: number | Position, endLine?: number, endCharacter?: number) {
    if (startLine instanceof Position && startCharacter instanceof Position) {
      this.start = startLine;
      this.end = startCharacter;
    } else {
      this.start = new Position(startLine as number, startCharacter as number);
      this.end = new Position(endLine!, endCharacter!);
    }
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class Selection extends Range {
  get active(): Position {
    return this.end;
  }
}

export class MarkdownString {
  isTrusted = false;
  supportHtml = false;
  constructor(public value = '') {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  readonly token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum CommentMode {
  Editing = 0,
  Preview = 1,
}
export enum CommentThreadCollapsibleState {
  Collapsed = 0,
  Expanded = 1,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
}

/** Everything the fake recorded, and the answers it gives to prompts. Tests reset it with `resetFake()`. */
export const fake = {
  settings: new Map<string, unknown>(),
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as { id: string; args: unknown[] }[],
  messages: [] as { level: 'info' | 'warning' | 'error'; text: string; actions: string[] }[],
  /** Answers to the next message prompts, in order; undefined dismisses. */
  messageAnswers: [] as (string | undefined)[],
  inputAnswers: [] as (string | undefined)[],
  quickPickAnswers: [] as ((items: unknown[]) => unknown)[],
  statusBarItems: [] as FakeStatusBarItem[],
  outputChannels: [] as FakeLogOutputChannel[],
  viewProviders: new Map<string, unknown>(),
  commentControllers: [] as FakeCommentController[],
  clipboard: '',
  opened: [] as string[],
  activeTextEditor: undefined as unknown,
  configurationChanged: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
};

export function resetFake(): void {
  fake.settings.clear();
  fake.commands.clear();
  fake.executed.length = 0;
  fake.messages.length = 0;
  fake.messageAnswers.length = 0;
  fake.inputAnswers.length = 0;
  fake.quickPickAnswers.length = 0;
  fake.statusBarItems.length = 0;
  fake.outputChannels.length = 0;
  fake.viewProviders.clear();
  fake.commentControllers.length = 0;
  fake.clipboard = '';
  fake.opened.length = 0;
  fake.activeTextEditor = undefined;
}

export class FakeStatusBarItem {
  text = '';
  tooltip: MarkdownString | string | undefined;
  command: string | undefined;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  accessibilityInformation: unknown;
  visible = false;
  constructor(readonly id: string) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.visible = false;
  }
}

export class FakeLogOutputChannel {
  readonly lines: { level: string; message: string }[] = [];
  shown = false;
  constructor(readonly name: string) {}
  trace(message: string): void {
    this.lines.push({ level: 'trace', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  appendLine(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  show(): void {
    this.shown = true;
  }
  dispose(): void {}
}

export interface FakeComment {
  body: MarkdownString;
  author: { name: string };
  label?: string;
  contextValue?: string;
}

export class FakeCommentThread {
  comments: FakeComment[];
  label: string | undefined;
  canReply = true;
  collapsibleState = CommentThreadCollapsibleState.Collapsed;
  constructor(readonly uri: Uri, readonly range: Range, comments: FakeComment[]) {
    this.comments = comments;
  }
  dispose(): void {}
}

export class FakeCommentController {
  readonly threads: FakeCommentThread[] = [];
  options: unknown;
  constructor(readonly id: string, readonly label: string) {}
  createCommentThread(uri: Uri, range: Range, comments: FakeComment[]): FakeCommentThread {
    const thread = new FakeCommentThread(uri, range, comments);
    this.threads.push(thread);
    return thread;
  }
  dispose(): void {}
}

function showMessage(level: 'info' | 'warning' | 'error') {
  return (text: string, ...actions: string[]): Promise<string | undefined> => {
    fake.messages.push({ level, text, actions });
    return Promise.resolve(fake.messageAnswers.shift());
  };
}

export const window = {
  get activeTextEditor() {
    return fake.activeTextEditor;
  },
  visibleTextEditors: [] as unknown[],
  createOutputChannel(name: string): FakeLogOutputChannel {
    const channel = new FakeLogOutputChannel(name);
    fake.outputChannels.push(channel);
    return channel;
  },
  createStatusBarItem(id: string): FakeStatusBarItem {
    const item = new FakeStatusBarItem(id);
    fake.statusBarItems.push(item);
    return item;
  },
  showInformationMessage: showMessage('info'),
  showWarningMessage: showMessage('warning'),
  showErrorMessage: showMessage('error'),
  showInputBox(): Promise<string | undefined> {
    return Promise.resolve(fake.inputAnswers.shift());
  },
  showQuickPick(items: unknown[]): Promise<unknown> {
    const answer = fake.quickPickAnswers.shift();
    return Promise.resolve(answer ? answer(items) : undefined);
  },
  withProgress<T>(_options: unknown, task: (progress: unknown, token: unknown) => Promise<T>): Promise<T> {
    return task({ report() {} }, new CancellationTokenSource().token);
  },
  registerWebviewViewProvider(id: string, provider: unknown): Disposable {
    fake.viewProviders.set(id, provider);
    return new Disposable(() => fake.viewProviders.delete(id));
  },
  createWebviewPanel(): never {
    throw new Error('the fake vscode has no webview panels');
  },
};

export const commands = {
  registerCommand(id: string, handler: (...args: unknown[]) => unknown): Disposable {
    if (fake.commands.has(id)) throw new Error(`command ${id} already exists`);
    fake.commands.set(id, handler);
    return new Disposable(() => fake.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    fake.executed.push({ id, args });
    return fake.commands.get(id)?.(...args);
  },
};

export const workspace = {
  getConfiguration(section: string) {
    return { get: (key: string) => fake.settings.get(`${section}.${key}`) };
  },
  onDidChangeConfiguration: fake.configurationChanged.event,
  asRelativePath(uri: Uri | string): string {
    const path = typeof uri === 'string' ? uri : uri.path;
    return path.replace(/^\/workspace\//, '');
  },
};

export const comments = {
  createCommentController(id: string, label: string): FakeCommentController {
    const controller = new FakeCommentController(id, label);
    fake.commentControllers.push(controller);
    return controller;
  },
};

export const env = {
  clipboard: {
    writeText(text: string): Promise<void> {
      fake.clipboard = text;
      return Promise.resolve();
    },
  },
  openExternal(uri: Uri): Promise<boolean> {
    fake.opened.push(uri.toString());
    return Promise.resolve(true);
  },
};

/** Key-value storage like `ExtensionContext.workspaceState`. */
export class FakeMemento {
  readonly values = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }
  update(key: string, value: unknown): Promise<void> {
    this.values.set(key, JSON.parse(JSON.stringify(value)));
    return Promise.resolve();
  }
}

export function createExtensionContext(workspaceState = new FakeMemento()) {
  return {
    subscriptions: [] as { dispose(): unknown }[],
    workspaceState,
    globalState: new FakeMemento(),
    extensionUri: Uri.file('/extension'),
    extensionPath: '/extension',
  };
}
