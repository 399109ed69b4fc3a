/**
 * The collapsible thinking block of one turn. While the model thinks it is open and its summary counts tokens
 * and seconds. When thinking ends it collapses, unless the user opened or closed it by hand or the
 * keep-expanded setting is on, and the summary states where an early exit stopped thinking and what that saved.
 */
import type { MarkdownRenderer } from './markdown.ts';
import { createSignalPlot } from './signal-plot.ts';
import { StreamingMarkdown } from './streaming-markdown.ts';
import type { Turn } from './turn.ts';
import { describeExit, exitCause, summarizeThinking } from './turn-text.ts';

/** Minimum time between two redraws of the signal plot while signals stream, in ms. */
const PLOT_INTERVAL_MS = 250;

export class ThinkingView {
  readonly element: HTMLDetailsElement;
  private readonly summaryText: HTMLElement;
  private readonly exitText: HTMLElement;
  private readonly plotSlot: HTMLElement;
  private readonly markdown: StreamingMarkdown;
  private readonly exitMarker: HTMLElement;
  private renderedLength = 0;
  private plottedSignals = -1;
  private plottedExit = false;
  private lastPlotMs = -Infinity;
  /** The user toggled the block, so thinking ending does not change it. */
  private userToggled = false;
  private settingOpen = false;
  private collapsedOnEnd = false;

  constructor(renderer: MarkdownRenderer, private keepExpanded: boolean) {
    this.element = document.createElement('details');
    this.element.className = 'thinking';
    this.element.dataset.testid = 'thinking';

    const summary = document.createElement('summary');
    summary.className = 'thinking-summary';
    this.summaryText = document.createElement('span');
    this.summaryText.className = 'thinking-title';
    this.summaryText.dataset.testid = 'thinking-summary';
    this.exitText = document.createElement('span');
    this.exitText.className = 'thinking-exit';
    this.exitText.dataset.testid = 'thinking-exit';
    this.exitText.hidden = true;
    summary.append(this.summaryText, this.exitText);

    const body = document.createElement('div');
    body.className = 'thinking-body';
    this.plotSlot = document.createElement('div');
    this.plotSlot.className = 'thinking-plot';
    const text = document.createElement('div');
    text.className = 'markdown thinking-text';
    this.exitMarker = document.createElement('div');
    this.exitMarker.className = 'thinking-exit-marker';
    this.exitMarker.hidden = true;
    body.append(this.plotSlot, text, this.exitMarker);
    this.element.append(summary, body);

    this.markdown = new StreamingMarkdown(text, renderer);
    this.element.addEventListener('toggle', () => {
      if (this.element.open !== this.settingOpen) this.userToggled = true;
    });
  }

  setKeepExpanded(keepExpanded: boolean, turn: Turn): void {
    this.keepExpanded = keepExpanded;
    if (keepExpanded && !this.userToggled) this.setOpen(true);
    if (!keepExpanded && !this.userToggled && this.isThinkingOver(turn)) this.setOpen(false);
  }

  /** Brings the block up to date with the turn. `nowMs` is the time since the ask, for the live counter. */
  update(turn: Turn, nowMs: number, final = false): void {
    const thinkingSeen = turn.thinking.length > 0 || turn.signals.length > 0 || turn.exit !== undefined;
    this.element.hidden = !thinkingSeen;
    if (!thinkingSeen) return;

    if (turn.thinking.length > this.renderedLength) {
      this.markdown.append(turn.thinking.slice(this.renderedLength));
      this.renderedLength = turn.thinking.length;
    }

    const over = this.isThinkingOver(turn);
    if (!over && !this.userToggled && !this.element.open) this.setOpen(true);
    if (over && !this.collapsedOnEnd) {
      this.collapsedOnEnd = true;
      this.markdown.finish();
      if (!this.userToggled && !this.keepExpanded) this.setOpen(false);
    } else if (final) {
      this.markdown.finish();
    }

    this.element.classList.toggle('thinking-live', !over);
    this.summaryText.textContent = summarizeThinking(turn, over ? undefined : nowMs);
    this.updateExit(turn);
    this.updatePlot(turn, over || final);
  }

  dispose(): void {
    this.markdown.dispose();
  }

  private isThinkingOver(turn: Turn): boolean {
    return turn.exit !== undefined || turn.answer.length > 0 || turn.thinkingEndMs !== undefined || !isStreaming(turn);
  }

  private setOpen(open: boolean): void {
    this.settingOpen = open;
    this.element.open = open;
  }

  private updateExit(turn: Turn): void {
    const text = describeExit(turn);
    this.exitText.hidden = text === undefined;
    this.exitText.textContent = text ? ` · ${text}` : '';
    this.exitMarker.hidden = !turn.exit;
    if (turn.exit) this.exitMarker.textContent = `${exitCause(turn.exit.reason)} stopped thinking here, after ${turn.exit.position} tokens (step ${turn.exit.step}).`;
  }

  private updatePlot(turn: Turn, force: boolean): void {
    const now = performance.now();
    const changed = turn.signals.length !== this.plottedSignals || (turn.exit !== undefined) !== this.plottedExit;
    if (!changed || (!force && now - this.lastPlotMs < PLOT_INTERVAL_MS)) return;
    this.lastPlotMs = now;
    this.plottedSignals = turn.signals.length;
    this.plottedExit = turn.exit !== undefined;
    const plot = createSignalPlot(turn.signals, turn.exit);
    this.plotSlot.replaceChildren(...(plot ? [plot] : []));
  }
}

function isStreaming(turn: Turn): boolean {
  return turn.status === 'queued' || turn.status === 'prefill' || turn.status === 'thinking';
}
