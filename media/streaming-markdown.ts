/**
 * Incremental, throttled markdown rendering of a growing text. The text is cut into top-level blocks at blank
 * lines outside code fences. A finished block is rendered once and kept. Only the open last block is rendered
 * again, at most once per throttle interval, so the cost of a frame does not grow with the whole answer.
 */
import type { MarkdownRenderer } from './markdown.ts';

/** Throttle interval bounds, in ms. The interval is twice the last render time, within these bounds. */
const MIN_INTERVAL_MS = 40;
const MAX_INTERVAL_MS = 400;
/**
 * An open block longer than this is cut at its last line break outside a code fence, so a model that never
 * writes a blank line does not make every frame re-render everything.
 */
const MAX_OPEN_BLOCK_CHARS = 8000;

export interface StreamingMarkdownOptions {
  /** Called after each render with the elements that were added or replaced. */
  onRender?: (changed: HTMLElement[]) => void;
}

export class StreamingMarkdown {
  private source = '';
  /** Offset in `source` where the open block starts. Everything before it is rendered and kept. */
  private frozenEnd = 0;
  private readonly openBlock: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRenderMs = 0;
  private finished = false;

  constructor(
    readonly element: HTMLElement,
    private readonly renderer: MarkdownRenderer,
    private readonly options: StreamingMarkdownOptions = {},
  ) {
    this.openBlock = document.createElement('div');
    this.openBlock.className = 'md-block md-open';
    element.append(this.openBlock);
  }

  get text(): string {
    return this.source;
  }

  /** Appends streamed text and schedules a render. */
  append(text: string): void {
    if (!text) return;
    this.source += text;
    this.schedule();
  }

  /** Renders everything now, code blocks highlighted, and stops scheduling. */
  finish(): void {
    this.finished = true;
    this.cancelTimer();
    this.render();
  }

  dispose(): void {
    this.cancelTimer();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.finished) return;
    const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, 2 * this.lastRenderMs));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, interval);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private render(): void {
    const started = performance.now();
    const changed: HTMLElement[] = [];

    // Blocks that finished since the last render are rendered together: they are independent markdown, and
    // one call costs less than one per block.
    const ends = findBlockEnds(this.source, this.frozenEnd, this.finished);
    const lastEnd = ends[ends.length - 1];
    if (lastEnd !== undefined) {
      const block = document.createElement('div');
      block.className = 'md-block';
      block.append(this.renderer.render(this.source.slice(this.frozenEnd, lastEnd)));
      this.openBlock.before(block);
      changed.push(block);
      this.frozenEnd = lastEnd;
    }

    const open = this.source.slice(this.frozenEnd);
    this.openBlock.replaceChildren(this.renderer.render(open, { plainCode: !this.finished && hasOpenFence(open) }));
    changed.push(this.openBlock);

    this.lastRenderMs = performance.now() - started;
    this.options.onRender?.(changed);
  }
}

/** A fence opener or closer: up to three spaces, then three or more backticks or tildes. */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Returns the offsets, after `from`, where finished top-level blocks end. A block ends at a blank line outside
 * a fence when the next line has started at column 0, so the blank line cannot belong to a list item or an
 * indented code block. When `all` is set, the rest of the text is the last block.
 */
export function findBlockEnds(source: string, from: number, all: boolean): number[] {
  const ends: number[] = [];
  let fence: string | undefined;
  let blankSeen = false;
  let blockStart = from;
  let lastBreakOutsideFence = -1;
  let lineStart = from;

  while (lineStart < source.length) {
    const newline = source.indexOf('\n', lineStart);
    if (newline < 0) break; // the last line is still streaming
    const line = source.slice(lineStart, newline);
    const lineEnd = newline + 1;

    if (fence === undefined && blankSeen && line.length > 0 && !/^\s/.test(line)) {
      ends.push(lineStart);
      blockStart = lineStart;
      lastBreakOutsideFence = -1;
    }
    blankSeen = fence === undefined && line.trim() === '';

    fence = nextFence(fence, line);
    if (fence === undefined) lastBreakOutsideFence = lineEnd;

    if (fence === undefined && lineEnd - blockStart > MAX_OPEN_BLOCK_CHARS && lastBreakOutsideFence > blockStart) {
      ends.push(lastBreakOutsideFence);
      blockStart = lastBreakOutsideFence;
    }
    lineStart = lineEnd;
  }

  if (all && blockStart < source.length) ends.push(source.length);
  return ends;
}

/** Returns true when the text opens a code fence that it does not close. */
export function hasOpenFence(text: string): boolean {
  let fence: string | undefined;
  for (const line of text.split('\n')) fence = nextFence(fence, line);
  return fence !== undefined;
}

/**
 * Returns the marker of the fence open after `line`, given the one open before it. A closing marker uses the
 * opener's character, is at least as long, and is alone on its line.
 */
function nextFence(open: string | undefined, line: string): string | undefined {
  const marker = FENCE.exec(line)?.[1];
  if (marker === undefined) return open;
  if (open === undefined) return marker;
  const closes = marker[0] === open[0] && marker.length >= open.length && line.trim() === marker;
  return closes ? undefined : open;
}
