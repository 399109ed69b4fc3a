/** A progress bar on stderr: redrawn in place on a terminal, one plain line per update otherwise (logs, CI). */

export interface ProgressStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 24;

export class ProgressBar {
  private readonly started = Date.now();
  private lastLength = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
  ) {}

  /** Shows `done` of `total` with an optional detail such as the current item. */
  update(done: number, detail = ''): void {
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const elapsed = (Date.now() - this.started) / 1000;
    const remaining = done > 0 && done < this.total ? ` eta ${formatSeconds((elapsed / done) * (this.total - done))}` : '';
    const counts = `${this.label} ${done}/${this.total}${remaining}${detail ? ` ${detail}` : ''}`;
    if (!this.stream.isTTY) {
      this.stream.write(`${counts}\n`);
      return;
    }
    const filled = Math.round(fraction * BAR_WIDTH);
    let line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${counts}`;
    const width = this.stream.columns ?? 80;
    if (line.length > width - 1) line = line.slice(0, width - 1);
    this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLength - line.length))}`);
    this.lastLength = line.length;
  }

  /** Ends the bar's line on a terminal. */
  finish(): void {
    if (this.stream.isTTY && this.lastLength > 0) this.stream.write('\n');
    this.lastLength = 0;
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
