/** The DOM of one turn: the question, the thinking block, the streamed answer and its statistics line. */
import type { MarkdownRenderer } from './markdown.ts';
import { StreamingMarkdown } from './streaming-markdown.ts';
import { ThinkingView } from './thinking-view.ts';
import { isTurnActive, type Turn } from './turn.ts';
import { describeStats } from './turn-text.ts';

export class TurnView {
  readonly element: HTMLElement;
  private readonly thinking: ThinkingView;
  private readonly answer: StreamingMarkdown;
  private readonly progress: HTMLElement;
  private readonly notices: HTMLElement;
  private readonly stats: HTMLElement;
  private renderedAnswerLength = 0;
  private shownNotices = 0;
  private finished = false;

  constructor(readonly turn: Turn, renderer: MarkdownRenderer, keepThinkingExpanded: boolean) {
    this.element = document.createElement('article');
    this.element.className = 'turn';
    this.element.dataset.turnId = turn.id;
    this.element.setAttribute('aria-label', `Question: ${turn.question.slice(0, 80)}`);

    const question = document.createElement('div');
    question.className = 'question';
    question.dataset.testid = 'question';
    if (turn.context) {
      const context = document.createElement('span');
      context.className = 'question-context';
      const { file, startLine, endLine } = turn.context;
      context.textContent = startLine === endLine ? `${file}:${startLine}` : `${file}:${startLine}-${endLine}`;
      question.append(context);
    }
    const questionText = document.createElement('div');
    questionText.className = 'question-text';
    questionText.textContent = turn.question;
    question.append(questionText);

    this.progress = document.createElement('div');
    this.progress.className = 'turn-progress';
    this.progress.setAttribute('role', 'status');
    this.notices = document.createElement('div');
    this.notices.className = 'turn-notices';

    this.thinking = new ThinkingView(renderer, keepThinkingExpanded);

    const answer = document.createElement('div');
    answer.className = 'markdown answer';
    answer.dataset.testid = 'answer';
    this.answer = new StreamingMarkdown(answer, renderer, { onRender: (changed) => changed.forEach(addCodeToolbars) });

    this.stats = document.createElement('div');
    this.stats.className = 'turn-stats';
    this.stats.dataset.testid = 'turn-stats';

    this.element.append(question, this.progress, this.notices, this.thinking.element, answer, this.stats);
  }

  setKeepThinkingExpanded(keepExpanded: boolean): void {
    this.thinking.setKeepExpanded(keepExpanded, this.turn);
  }

  /** Brings the DOM up to date with the turn. `nowMs` is the time since the ask, for the live counters. */
  update(nowMs: number): void {
    const turn = this.turn;
    const active = isTurnActive(turn);
    this.element.classList.toggle('turn-active', active);
    this.element.dataset.status = turn.status;

    this.progress.textContent = describeProgress(turn);
    this.progress.hidden = this.progress.textContent === '';

    for (; this.shownNotices < turn.notices.length; this.shownNotices++) {
      const notice = document.createElement('div');
      notice.className = 'turn-notice';
      notice.textContent = turn.notices[this.shownNotices]!;
      this.notices.append(notice);
    }

    this.thinking.update(turn, nowMs, !active);

    if (turn.answer.length > this.renderedAnswerLength) {
      this.answer.append(turn.answer.slice(this.renderedAnswerLength));
      this.renderedAnswerLength = turn.answer.length;
    }
    if (!active && !this.finished) {
      this.finished = true;
      this.answer.finish();
    }

    this.stats.textContent = describeStats(turn);
    this.stats.hidden = this.stats.textContent === '';
  }

  dispose(): void {
    this.thinking.dispose();
    this.answer.dispose();
  }
}

function describeProgress(turn: Turn): string {
  if (turn.status === 'queued') return 'Waiting for the model…';
  if (turn.status === 'prefill' && turn.prefill) {
    const { processed, total } = turn.prefill;
    const percent = total > 0 ? Math.floor((100 * processed) / total) : 0;
    return `Reading the prompt: ${processed} of ${total} tokens (${percent}%)`;
  }
  if (turn.status === 'stopped') return 'Stopped.';
  if (turn.status === 'error') return `Failed: ${turn.error ?? 'unknown error'}`;
  return '';
}

/** Adds copy and insert buttons to each code block in `root`. The buttons are built here, never from model HTML. */
function addCodeToolbars(root: HTMLElement): void {
  for (const pre of root.querySelectorAll('pre')) {
    if (pre.parentElement?.classList.contains('code-block')) continue;
    const block = document.createElement('div');
    block.className = 'code-block';
    pre.replaceWith(block);

    const toolbar = document.createElement('div');
    toolbar.className = 'code-toolbar';
    toolbar.append(createCodeButton('copy', 'Copy', 'Copy code'), createCodeButton('insert', 'Insert', 'Insert code at the cursor'));
    block.append(toolbar, pre);
  }
}

function createCodeButton(action: 'copy' | 'insert', label: string, description: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'code-button';
  button.dataset.codeAction = action;
  button.textContent = label;
  button.title = description;
  button.setAttribute('aria-label', description);
  return button;
}
