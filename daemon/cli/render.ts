/** Terminal output of `specexit ask`: dimmed thinking, a marked exit, the answer, and a statistics line. */
import type { Writable } from 'node:stream';

import type { AskResult, LoadProgressParams, Phase, ThinkingExitParams } from '../protocol.ts';

const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

function useColor(stream: Writable): boolean {
  return Boolean((stream as { isTTY?: boolean }).isTTY) && !process.env.NO_COLOR;
}

export class AskRenderer {
  private readonly color: boolean;
  private phase: Phase | undefined;
  private atLineStart = true;
  private statusShown = false;

  constructor(
    private readonly out: Writable,
    private readonly err: Writable,
  ) {
    this.color = useColor(out);
  }

  loadProgress(event: LoadProgressParams): void {
    this.err.write(`${event.message}\n`);
  }

  queuePosition(position: number): void {
    if (position > 0) this.status(`waiting in the queue, ${position} ahead`);
  }

  prefill(processed: number, total: number): void {
    if (total >= 256) this.status(`reading the prompt: ${processed}/${total} tokens`);
  }

  delta(phase: Phase, text: string): void {
    this.clearStatus();
    if (phase !== this.phase) {
      if (phase === 'thinking') this.write(this.style(BOLD, 'Thinking') + '\n');
      else this.write(`${this.atLineStart ? '' : '\n'}${this.phase === 'thinking' ? '\n' : ''}${this.style(BOLD, 'Answer')}\n`);
      this.phase = phase;
    }
    this.write(phase === 'thinking' ? this.style(DIM, text) : text);
  }

  exit(event: ThinkingExitParams): void {
    const { confidence, progress, remain } = event.signals;
    const saved = `${Math.round(event.predictedRemainingTokens)} tokens (${event.predictedSavedSeconds.toFixed(1)} s) saved, as predicted`;
    const detail =
      event.reason === 'specexit'
        ? `confidence ${confidence.toFixed(2)}, progress ${progress.toFixed(2)}, remain ${remain.toFixed(0)}; ${saved}`
        : event.reason === 'probe'
          ? `probe score ${event.probeScore.toFixed(2)}`
          : 'thinking budget spent';
    this.write(`${this.atLineStart ? '' : '\n'}${this.style(BOLD, `-- thinking cut at token ${event.position} (${event.reason}): ${detail} --`)}\n`);
  }

  notice(message: string): void {
    this.clearStatus();
    this.err.write(`${this.atLineStart ? '' : '\n'}note: ${message}\n`);
    this.atLineStart = true;
  }

  /** Ends a partly written line, before an error message. */
  endLine(): void {
    this.clearStatus();
    if (!this.atLineStart) this.write('\n');
  }

  finish(result: AskResult): void {
    this.endLine();
    const { stats, timings } = result;
    const parts = [
      `time to answer ${(timings.timeToAnswerMs / 1000).toFixed(2)} s`,
      `${stats.decodeTokensPerSecond.toFixed(1)} tokens/s`,
      `${stats.thinkingTokens} thinking + ${stats.answerTokens} answer tokens`,
      `${stats.meanAcceptedPerStep.toFixed(2)} tokens/step`,
      `mode ${result.mode}`,
      `finish ${result.finishReason}`,
    ];
    this.err.write(`${this.style(DIM, parts.join(' | '))}\n`);
  }

  private status(text: string): void {
    if (!useColor(this.err)) return;
    this.err.write(`\r\x1b[2K${text}`);
    this.statusShown = true;
  }

  private clearStatus(): void {
    if (!this.statusShown) return;
    this.err.write('\r\x1b[2K');
    this.statusShown = false;
  }

  private write(text: string): void {
    if (text === '') return;
    this.out.write(text);
    this.atLineStart = text.endsWith('\n');
  }

  private style(code: string, text: string): string {
    return this.color ? `${code}${text}${RESET}` : text;
  }
}
