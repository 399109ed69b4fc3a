/** `specexit ask`: sends one question to the shared daemon and streams the thinking and the answer to the terminal. */
import { isUtf8 } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { ResponseError } from 'vscode-jsonrpc';

import { CancellationTokenSource, DaemonClient } from '../client/daemon-client.ts';
import { DaemonLimits, type AskOptions, type AskParams, type AskResult, type CodeContext, type ThinkingExitParams } from '../protocol.ts';
import { ConnectionLostError, describeCliError, INTERRUPTED_EXIT_STATUS, printCliError, UsageError } from './errors.ts';
import { findInvalidUtf8 } from './invalid-utf8.ts';
import { AskRenderer } from './render.ts';

/** Surrounding lines sent with `--lines`; the daemon cuts them further when the prompt does not fit. */
const SURROUNDING_LINES = 200;

const LANGUAGE_IDS: Record<string, string> = {
  '.py': 'python', '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.ts': 'typescript', '.tsx': 'typescriptreact',
  '.jsx': 'javascriptreact', '.c': 'c', '.h': 'c', '.cpp': 'cpp', '.cc': 'cpp', '.hpp': 'cpp', '.rs': 'rust', '.go': 'go',
  '.java': 'java', '.rb': 'ruby', '.sh': 'shellscript', '.cs': 'csharp', '.kt': 'kotlin', '.swift': 'swift', '.php': 'php',
};

/** Parses `A-B` or `A` into a 1-based inclusive line range. */
export function parseLineRange(value: string): { startLine: number; endLine: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  const startLine = match ? Number(match[1]) : NaN;
  const endLine = match?.[2] !== undefined ? Number(match[2]) : startLine;
  if (!match || startLine < 1 || endLine < startLine) {
    throw new UsageError(`Expected --lines to be A-B with 1 <= A <= B, got ${JSON.stringify(value)}`);
  }
  return { startLine, endLine };
}

/** Largest --file read, in bytes. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Largest code context sent, in bytes of JSON: the daemon's message limit less room for the question and options. */
const MAX_CONTEXT_BYTES = DaemonLimits.maxMessageBytes - 256 * 1024;

/** Lines listed in the notice about invalid UTF-8, at most. */
const MAX_LISTED_LINES = 5;

function writeNote(message: string): void {
  process.stderr.write(`note: ${message}\n`);
}

/** Describes where `bytes` is not valid UTF-8, for a notice. */
function describeInvalidUtf8(file: string, bytes: Buffer): string {
  const sequences = findInvalidUtf8(bytes);
  const first = sequences[0]!;
  const firstBytes = [...bytes.subarray(first.offset, first.offset + first.length)].map((byte) => `0x${byte.toString(16).padStart(2, '0')}`).join(' ');
  const lines = [...new Set(sequences.map((sequence) => sequence.line))];
  const listedLines = lines.slice(0, MAX_LISTED_LINES).map(String);
  if (lines.length > MAX_LISTED_LINES) listedLines.push(`${lines.length - MAX_LISTED_LINES} more`);
  const listed = listedLines.length === 1 ? listedLines[0] : `${listedLines.slice(0, -1).join(', ')} and ${listedLines.at(-1)}`;
  return (
    `--file ${file} is not valid UTF-8: ${sequences.length} invalid byte sequence${sequences.length === 1 ? '' : 's'} on line${lines.length === 1 ? '' : 's'} ${listed}, ` +
    `the first at line ${first.line}, byte ${first.column} of the line (${firstBytes}). Each was replaced with U+FFFD, the replacement character, ` +
    'in the text sent to the model, and the rest of the file is sent unchanged. Convert the file to UTF-8 (for example with iconv) to send those characters'
  );
}

/**
 * Builds the code context of `--file F [--lines A-B]`: the selected lines and up to SURROUNDING_LINES around them.
 * A file that is not valid UTF-8 is decoded with U+FFFD for each invalid sequence, and `warn` (default: a `note:`
 * line on stderr) gets a notice that names their lines.
 */
export function readFileContext(file: string, lines: string | undefined, warn: (message: string) => void = writeNote): CodeContext {
  let bytes: Buffer;
  try {
    // Only regular files: reading a device such as /dev/zero never ends.
    const stat = statSync(file);
    if (!stat.isFile()) throw new UsageError(`--file ${file} is not a regular file; pass a source file`);
    if (stat.size > MAX_FILE_BYTES) {
      throw new UsageError(`--file ${file} has ${stat.size} bytes, over the ${MAX_FILE_BYTES}-byte limit; pass a smaller source file`);
    }
    bytes = readFileSync(file);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code ?? (error as Error).message;
    throw new UsageError(`cannot read --file ${file}: ${reason}`);
  }
  if (bytes.includes(0)) throw new UsageError(`--file ${file} looks binary (it contains NUL bytes); pass a source file`);
  if (!isUtf8(bytes)) warn(describeInvalidUtf8(file, bytes));
  const text = bytes.toString('utf8');
  const all = text.split(/\r?\n/);
  if (all.at(-1) === '') all.pop();
  const range = lines ? parseLineRange(lines) : { startLine: 1, endLine: Math.max(1, all.length) };
  if (range.endLine > all.length && all.length > 0) {
    throw new UsageError(`--lines ${lines} is past the end of ${file}, which has ${all.length} lines`);
  }
  const start = range.startLine - 1;
  const context: CodeContext = {
    path: file,
    languageId: LANGUAGE_IDS[path.extname(file).toLowerCase()],
    selection: { text: all.slice(start, range.endLine).join('\n'), ...range },
    before: all.slice(Math.max(0, start - SURROUNDING_LINES), start).join('\n') || undefined,
    after: all.slice(range.endLine, range.endLine + SURROUNDING_LINES).join('\n') || undefined,
  };
  // The daemon skips a message over its size limit without a reply, so a too large ask would wait forever.
  const contextBytes = Buffer.byteLength(JSON.stringify(context), 'utf8');
  if (contextBytes > MAX_CONTEXT_BYTES) {
    throw new UsageError(`the selection from ${file} takes ${contextBytes} bytes, over the ${MAX_CONTEXT_BYTES}-byte message limit; select fewer lines with --lines`);
  }
  return context;
}

export interface AskCommand {
  question: string;
  context?: CodeContext;
  options: AskOptions;
  json: boolean;
}

/** Runs one ask on a connected client; returns the exit status. */
export async function runAsk(client: DaemonClient, command: AskCommand, daemonLog: string | undefined): Promise<number> {
  const renderer = new AskRenderer(process.stdout, process.stderr);
  const cancel = new CancellationTokenSource();
  let interrupted = false;
  const onInterrupt = () => {
    if (interrupted) process.exit(INTERRUPTED_EXIT_STATUS);
    interrupted = true;
    process.stderr.write('\ncancelling (press Ctrl+C again to quit at once)\n');
    cancel.cancel();
  };
  process.on('SIGINT', onInterrupt);

  const emit = (type: string) => (params: object) => {
    if (command.json) process.stdout.write(JSON.stringify({ type, ...params }) + '\n');
  };
  const params: Omit<AskParams, 'askId'> = { question: command.question, context: command.context, options: command.options };
  client.onLoadProgress((event) => (command.json ? emit('loadProgress')(event) : renderer.loadProgress(event)));

  try {
    const result: AskResult = await client.ask(
      params,
      command.json
        ? {
            phase: emit('phase'), queuePosition: emit('queuePosition'), prefill: emit('prefill'), delta: emit('delta'), signals: emit('signals'),
            probe: emit('probe'), exit: emit('exit'), notice: emit('notice'), trimmed: emit('trimmed'), stats: emit('stats'),
          }
        : {
            queuePosition: (event) => renderer.queuePosition(event.position),
            prefill: (event) => renderer.prefill(event.processed, event.total),
            delta: (event) => renderer.delta(event.phase, event.text),
            exit: (event: ThinkingExitParams) => renderer.exit(event),
            notice: (event) => renderer.notice(event.message),
            trimmed: (event) => renderer.notice(`the prompt was too long, so ${event.beforeLinesRemoved} lines before and ${event.afterLinesRemoved} lines after the selection were left out`),
          },
      cancel.token,
    );
    if (command.json) process.stdout.write(JSON.stringify({ type: 'result', ...result }) + '\n');
    else renderer.finish(result);
    return 0;
  } catch (error) {
    renderer.endLine();
    let failure;
    if (error instanceof ResponseError) {
      failure = describeCliError(error);
    } else {
      const where = daemonLog ? `; see its log ${daemonLog}` : '';
      const message = `the connection to the daemon was lost during the request (${(error as Error).message})${where}. Run the command again to start a new daemon`;
      failure = describeCliError(new ConnectionLostError(message));
    }
    printCliError(failure, command.json);
    return failure.exitStatus;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
