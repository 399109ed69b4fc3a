/**
 * Recording of calibration traces: one greedy full-thinking run per prompt in mode `trace`, with the hidden
 * states and the forced answer at every step boundary. Each finished trace is appended as one JSONL line to
 * `traces.jsonl` in the work directory, so a stopped run continues with the first prompt that has no line.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Engine } from '../engine/engine.ts';
import type { FinishReason } from '../engine/events.ts';
import type { PromptItem } from './prompts.ts';
import { ProgressBar, type ProgressStream } from './progress.ts';
import { ChatTemplate, renderThinkingPrompt } from './thinking-prompt.ts';

export interface TraceBoundary {
  /** Thinking tokens up to and including the boundary token. */
  thinkingPosition: number;
  token: number;
  /** Thinking tokens in the segment mean: those after the previous boundary, this one included. */
  segmentTokens: number;
  /** Answer text with `</think>` forced right after the boundary; absent when the forced answer did not fit. */
  forcedAnswer?: string;
}

export interface TraceRecord {
  index: number;
  hash: string;
  /** Thinking tokens of the full trace. */
  thinkingTokens: number;
  /** The model closed its thinking itself; false when the trace hit maxTokens or the context first. */
  thinkingClosed: boolean;
  finishReason: FinishReason;
  /** Answer text after the full thinking. */
  answer: string;
  boundaries: TraceBoundary[];
  /** Rows of the boundary tokens, [boundaries][3 * hiddenSize]. */
  features: Float32Array;
  /** Mean rows of each segment, [boundaries][3 * hiddenSize]. */
  segmentMeans: Float32Array;
}

/** Settings that change the traces; a work directory only resumes with the same ones. */
export interface TraceSettings {
  /** Target identity. `fingerprint` distinguishes a retrained model of the same name and size (see fileFingerprint). */
  target: { name: string; sizeBytes: number; fingerprint: string };
  layers: [number, number, number];
  hiddenSize: number;
  maxTokens: number;
  answerTokens: number;
  answerPrefix: string;
}

const SETTINGS_FILE = 'run.json';

/** Bytes read from each of the start, middle and end of a file for its fingerprint. */
const FINGERPRINT_SPAN = 1 << 20;

/**
 * Computes a SHA-256 over a file's size and three 1 MiB spans (start, middle, end), as hex. The start contains a
 * GGUF's metadata and the rest its tensor data, so retrained weights change the hash. Reading 3 MiB keeps it fast
 * for models of many gigabytes, where hashing the whole file would take minutes.
 */
export async function fileFingerprint(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const hash = createHash('sha256').update(`${size}\n`);
    const starts = [0, Math.max(0, Math.floor(size / 2) - FINGERPRINT_SPAN / 2), Math.max(0, size - FINGERPRINT_SPAN)];
    const buffer = Buffer.alloc(FINGERPRINT_SPAN);
    for (const start of starts) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(FINGERPRINT_SPAN, size - start), start);
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}
const TRACES_FILE = 'traces.jsonl';

/** Reads the finished traces of a work directory, after checking that it was made with `settings`. */
export async function openWorkDir(dir: string, settings: TraceSettings): Promise<Map<number, TraceRecord>> {
  await mkdir(dir, { recursive: true });
  const settingsPath = path.join(dir, SETTINGS_FILE);
  const existing = await readFile(settingsPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing === undefined) {
    await writeFile(settingsPath, `${JSON.stringify(settings, null, 2)}\n`);
  } else if (JSON.stringify(JSON.parse(existing)) !== JSON.stringify(settings)) {
    throw new Error(
      `The work directory ${dir} contains traces made with other settings (${existing.trim()}); ` +
        'rerun with the same model, layers, --max-tokens, --answer-tokens and --answer-prefix, or choose another --work-dir.',
    );
  }
  return readTraces(path.join(dir, TRACES_FILE), settings.hiddenSize);
}

async function readTraces(file: string, hiddenSize: number): Promise<Map<number, TraceRecord>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const records = new Map<number, TraceRecord>();
  const lines = text.split('\n');
  let validLength = 0;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let record: TraceRecord;
    try {
      record = decodeTrace(line, hiddenSize);
    } catch (error) {
      // Only the last line can be cut short by a stopped run; anything else is damage.
      if (i >= lines.length - 2) break;
      throw new Error(`Invalid trace at ${file}:${i + 1}: ${(error as Error).message}. Delete the line to record that prompt again.`);
    }
    records.set(record.index, record);
    validLength += Buffer.byteLength(line) + 1;
  }
  if (validLength < Buffer.byteLength(text)) {
    // Drop a partial last line so that appending starts on a fresh line.
    await writeFile(file, Buffer.from(text).subarray(0, validLength));
  }
  return records;
}

function encodeFloats(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function decodeFloats(text: string, expectedLength: number): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== expectedLength * 4) {
    throw new Error(`expected ${expectedLength} floats, found ${bytes.length / 4}`);
  }
  const values = new Float32Array(expectedLength);
  for (let i = 0; i < expectedLength; i++) values[i] = bytes.readFloatLE(i * 4);
  return values;
}

export function encodeTrace(record: TraceRecord): string {
  return JSON.stringify({ ...record, features: encodeFloats(record.features), segmentMeans: encodeFloats(record.segmentMeans) });
}

export function decodeTrace(line: string, hiddenSize: number): TraceRecord {
  const raw = JSON.parse(line) as Omit<TraceRecord, 'features' | 'segmentMeans'> & { features: string; segmentMeans: string };
  if (!Number.isInteger(raw.index) || !Array.isArray(raw.boundaries) || typeof raw.features !== 'string') {
    throw new Error('the line is not a trace record');
  }
  const length = raw.boundaries.length * 3 * hiddenSize;
  return { ...raw, features: decodeFloats(raw.features, length), segmentMeans: decodeFloats(raw.segmentMeans, length) };
}

export interface RecordTracesOptions {
  workDir: string;
  settings: TraceSettings;
  /** Aborting stops after the current generation; finished traces stay. */
  signal?: AbortSignal;
  progress?: ProgressStream;
}

/** Records a trace for every prompt that has none in the work directory and returns all traces by prompt index. */
export async function recordTraces(engine: Engine, prompts: readonly PromptItem[], options: RecordTracesOptions): Promise<Map<number, TraceRecord>> {
  const { workDir, settings } = options;
  const records = await openWorkDir(workDir, settings);
  for (const prompt of prompts) {
    const record = records.get(prompt.index);
    if (record && record.hash !== prompt.hash) {
      throw new Error(
        `Prompt ${prompt.index} differs from the one traced in ${workDir}; the prompt file changed. Choose another --work-dir.`,
      );
    }
  }

  const template = new ChatTemplate(engine);
  const pending = prompts.filter((prompt) => !records.has(prompt.index));
  const bar = new ProgressBar('tracing', prompts.length, options.progress);
  let done = prompts.length - pending.length;
  bar.update(done, pending.length < prompts.length ? `(resumed, ${done} already traced)` : '');
  for (const prompt of pending) {
    if (options.signal?.aborted) break;
    const record = await traceOne(engine, template, prompt, settings, options.signal);
    if (record.finishReason === 'aborted') break;
    await appendFile(path.join(workDir, TRACES_FILE), `${encodeTrace(record)}\n`);
    records.set(prompt.index, record);
    done++;
    bar.update(done, `${record.thinkingTokens} thinking tokens, ${record.boundaries.length} boundaries`);
  }
  bar.finish();
  return records;
}

async function traceOne(
  engine: Engine,
  template: ChatTemplate,
  prompt: PromptItem,
  settings: TraceSettings,
  signal: AbortSignal | undefined,
): Promise<TraceRecord> {
  const rendered = renderThinkingPrompt(template, engine, prompt.prompt);
  const width = 3 * settings.hiddenSize;
  const boundaries: TraceBoundary[] = [];
  const features: Float32Array[] = [];
  const segmentMeans: Float32Array[] = [];
  const forced = new Map<number, string>();
  let answer = '';
  let thinkingTokens = 0;
  let finishReason: FinishReason = 'eos';
  let thinkingClosed = false;

  const stream = engine.generate(rendered.tokens, {
    mode: 'trace',
    maxTokens: settings.maxTokens,
    startInThinking: rendered.startInThinking,
    reportTokens: true,
    trace: { layers: settings.layers, answerTokens: settings.answerTokens, ...(settings.answerPrefix && { answerPrefix: settings.answerPrefix }) },
    ...(signal && { signal }),
  });
  for await (const event of stream) {
    switch (event.type) {
      case 'features':
        if (event.features.length !== width) throw new Error(`the engine recorded ${event.features.length} features per boundary, expected ${width}`);
        boundaries.push({ thinkingPosition: event.thinkingPosition, token: event.token, segmentTokens: event.segmentTokens });
        features.push(event.features);
        segmentMeans.push(event.segmentMean);
        break;
      case 'forcedAnswer':
        forced.set(event.thinkingPosition, event.text);
        break;
      case 'delta':
        if (event.phase === 'answer') answer += event.text;
        break;
      case 'tokens':
        thinkingClosed ||= event.tokens.includes(engine.description.thinkEndToken);
        break;
      case 'stats':
        thinkingTokens = event.stats.thinkingTokens;
        break;
      case 'done':
        finishReason = event.reason;
        if (event.reason === 'error') throw new Error(`tracing prompt ${prompt.index} failed: ${event.error ?? 'unknown error'}`);
        break;
    }
  }
  for (const boundary of boundaries) {
    const text = forced.get(boundary.thinkingPosition);
    if (text !== undefined) boundary.forcedAnswer = text;
  }
  const concat = (rows: Float32Array[]) => {
    const out = new Float32Array(rows.length * width);
    rows.forEach((row, i) => out.set(row, i * width));
    return out;
  };
  return {
    index: prompt.index,
    hash: prompt.hash,
    thinkingTokens,
    thinkingClosed,
    finishReason,
    answer,
    boundaries,
    features: concat(features),
    segmentMeans: concat(segmentMeans),
  };
}
