/**
 * Entry point of the chat webview: builds the page, applies the host's messages to the turns and sends the
 * user's actions back. Everything the model writes goes through the sanitising markdown renderer.
 */
import './chat.css';
import { MarkdownRenderer } from './markdown.ts';
import type { ChatSettings, DaemonStatusMessage, HostToWebviewMessage, WebviewToHostMessage } from './messages.ts';
import { TurnView } from './turn-view.ts';
import { applyTurnEvent, createTurn, isTurnActive, type Turn } from './turn.ts';

interface VsCodeApi {
  postMessage(message: WebviewToHostMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

/** What a screen reader hears when a turn ends, by the reason it ended. */
const DONE_ANNOUNCEMENTS = { finished: 'Answer complete.', stopped: 'Stopped.', error: 'The answer failed.' } as const;

/** Interval of the live thinking counter, in ms. */
const TICK_MS = 100;

interface TurnEntry {
  turn: Turn;
  view: TurnView;
  /** `performance.now()` at the turn's time zero, so host times map to the local clock. */
  origin: number;
}

class ChatApp {
  private readonly renderer = new MarkdownRenderer();
  private readonly turns = new Map<string, TurnEntry>();
  private settings: ChatSettings = { keepThinkingExpanded: false };
  private readonly transcript: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly announcer: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly askButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private stickToBottom = true;
  private scrollPending = false;

  constructor(private readonly vscode: VsCodeApi, root: HTMLElement) {
    const header = document.createElement('header');
    header.className = 'chat-header';
    this.banner = document.createElement('div');
    this.banner.className = 'daemon-banner';
    this.banner.dataset.testid = 'daemon-banner';
    this.banner.setAttribute('role', 'status');
    const clear = document.createElement('button');
    clear.type = 'button';
    clear.className = 'secondary-button';
    clear.textContent = 'Clear';
    clear.title = 'Clear the chat history of this workspace';
    clear.addEventListener('click', () => this.post({ type: 'clearHistory' }));
    header.append(this.banner, clear);

    this.transcript = document.createElement('main');
    this.transcript.className = 'transcript';
    this.transcript.dataset.testid = 'transcript';
    this.transcript.tabIndex = 0;
    this.transcript.setAttribute('aria-label', 'Conversation');
    this.empty = document.createElement('p');
    this.empty.className = 'empty';
    this.empty.textContent = 'Ask about the selected code, or type a question below. Enter sends, Shift+Enter adds a line, Escape stops.';
    this.transcript.append(this.empty);
    this.transcript.addEventListener('scroll', () => {
      const distance = this.transcript.scrollHeight - this.transcript.scrollTop - this.transcript.clientHeight;
      this.stickToBottom = distance < 24;
    });
    this.transcript.addEventListener('click', (event) => this.onTranscriptClick(event));

    const form = document.createElement('form');
    form.className = 'composer';
    this.input = document.createElement('textarea');
    this.input.rows = 2;
    this.input.placeholder = 'Ask SpecExit…';
    this.input.setAttribute('aria-label', 'Question');
    this.input.dataset.testid = 'question-input';
    this.askButton = document.createElement('button');
    this.askButton.type = 'submit';
    this.askButton.textContent = 'Ask';
    this.askButton.dataset.testid = 'ask';
    this.stopButton = document.createElement('button');
    this.stopButton.type = 'button';
    this.stopButton.className = 'secondary-button';
    this.stopButton.textContent = 'Stop';
    this.stopButton.title = 'Stop the answer (Escape)';
    this.stopButton.dataset.testid = 'stop';
    this.stopButton.disabled = true;
    form.append(this.input, this.askButton, this.stopButton);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.stopButton.addEventListener('click', () => this.stop());
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.activeTurn()) {
        event.preventDefault();
        this.stop();
      }
    });

    this.announcer = document.createElement('div');
    this.announcer.className = 'visually-hidden';
    this.announcer.setAttribute('aria-live', 'polite');

    root.append(header, this.transcript, form, this.announcer);
    const saved = vscode.getState() as { draft?: unknown } | undefined;
    if (typeof saved?.draft === 'string') this.input.value = saved.draft;
    this.input.addEventListener('input', () => this.vscode.setState({ draft: this.input.value }));
  }

  handle(message: HostToWebviewMessage): void {
    switch (message.type) {
      case 'init':
        this.reset(message.turns);
        this.applySettings(message.settings);
        this.showDaemon(message.daemon);
        break;
      case 'settings':
        this.applySettings(message.settings);
        break;
      case 'daemon':
        this.showDaemon(message);
        break;
      case 'turnStart':
        this.addTurn(createTurn(message.turnId, message.question, message.context, message.createdAt), performance.now());
        this.announce('Question sent.');
        break;
      case 'turnEvent':
        this.applyEvent(message.turnId, message.event);
        break;
      case 'focusInput':
        this.input.focus();
        break;
    }
  }

  post(message: WebviewToHostMessage): void {
    this.vscode.postMessage(message);
  }

  private submit(): void {
    const question = this.input.value.trim();
    if (!question) return;
    this.post({ type: 'ask', question });
    this.input.value = '';
    this.vscode.setState({ draft: '' });
  }

  private stop(): void {
    this.post({ type: 'stop' });
  }

  private reset(turns: Turn[]): void {
    for (const entry of this.turns.values()) {
      entry.view.dispose();
      entry.view.element.remove();
    }
    this.turns.clear();
    for (const turn of turns) this.addTurn(turn, performance.now());
    this.refreshControls();
  }

  private addTurn(turn: Turn, origin: number): void {
    const view = new TurnView(turn, this.renderer, this.settings.keepThinkingExpanded);
    this.turns.set(turn.id, { turn, view, origin });
    this.transcript.append(view.element);
    view.update(0);
    this.stickToBottom = true;
    this.afterChange();
  }

  private applyEvent(turnId: string, event: Extract<HostToWebviewMessage, { type: 'turnEvent' }>['event']): void {
    const entry = this.turns.get(turnId);
    if (!entry) return;
    if (entry.turn.status === 'queued') entry.origin = performance.now() - event.timeMs;
    const wasThinking = entry.turn.status === 'thinking';
    applyTurnEvent(entry.turn, event);
    entry.view.update(performance.now() - entry.origin);
    if (event.type === 'exit') this.announce(`Thinking stopped at token ${event.exit.position}.`);
    else if (wasThinking && entry.turn.status === 'answering') this.announce('Answering.');
    if (event.type === 'done') this.announce(DONE_ANNOUNCEMENTS[event.reason]);
    this.afterChange();
  }

  private applySettings(settings: ChatSettings): void {
    this.settings = settings;
    for (const entry of this.turns.values()) entry.view.setKeepThinkingExpanded(settings.keepThinkingExpanded);
  }

  private showDaemon(status: DaemonStatusMessage): void {
    const text: Record<DaemonStatusMessage['state'], string> = {
      starting: 'Starting the SpecExit daemon…',
      loading: 'Loading the model…',
      ready: '',
      thinking: '',
      answering: '',
      error: 'The SpecExit daemon failed',
      stopped: 'The SpecExit daemon is stopped',
    };
    const label = text[status.state];
    this.banner.textContent = label && status.detail ? `${label}: ${status.detail}` : label;
    this.banner.dataset.state = status.state;
  }

  private onTranscriptClick(event: MouseEvent): void {
    const target = event.target as Element | null;
    const button = target?.closest<HTMLButtonElement>('button[data-code-action]');
    if (button) {
      const code = button.closest('.code-block')?.querySelector('pre code, pre')?.textContent ?? '';
      const action = button.dataset.codeAction === 'insert' ? 'insert' : 'copy';
      this.post({ type: action, text: code });
      this.announce(action === 'copy' ? 'Code copied.' : 'Code inserted.');
      return;
    }
    const link = target?.closest('a');
    if (link) {
      // The webview cannot navigate: links open through the host, which accepts only http(s) and mailto.
      event.preventDefault();
      const href = link.getAttribute('href');
      if (href) this.post({ type: 'openLink', href });
    }
  }

  private activeTurn(): TurnEntry | undefined {
    for (const entry of this.turns.values()) if (isTurnActive(entry.turn)) return entry;
    return undefined;
  }

  private afterChange(): void {
    this.refreshControls();
    if (!this.stickToBottom || this.scrollPending) return;
    // One scroll per frame: reading scrollHeight forces a layout, which is slow on a long transcript.
    this.scrollPending = true;
    requestAnimationFrame(() => {
      this.scrollPending = false;
      if (this.stickToBottom) this.transcript.scrollTop = this.transcript.scrollHeight;
    });
  }

  private refreshControls(): void {
    const active = this.activeTurn() !== undefined;
    const hadFocus = document.activeElement === this.stopButton;
    this.stopButton.disabled = !active;
    if (hadFocus && !active) this.input.focus();
    this.empty.hidden = this.turns.size > 0;
    if (active && this.ticker === undefined) this.ticker = setInterval(() => this.tick(), TICK_MS);
    if (!active && this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private tick(): void {
    const now = performance.now();
    for (const entry of this.turns.values()) if (isTurnActive(entry.turn)) entry.view.update(now - entry.origin);
  }

  private announce(text: string): void {
    this.announcer.textContent = text;
  }
}

const app = new ChatApp(acquireVsCodeApi(), document.getElementById('root') ?? document.body);
window.addEventListener('message', (event: MessageEvent<HostToWebviewMessage>) => app.handle(event.data));
app.post({ type: 'ready' });
