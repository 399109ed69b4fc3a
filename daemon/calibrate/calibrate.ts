/**
 * `specexit calibrate`: signal heads for any EAGLE-3 draft, fitted on the target's own traces.
 *
 * 1. Trace every prompt greedily with the full thinking (traces.ts), recording at each step boundary the hidden
 *    states the signal head reads and the answer that forcing `</think>` there gives.
 * 2. Label each boundary at thinking position t of a trace with T thinking tokens: progress t / T and remain
 *    T - t. The confidence label is 1 when the forced answer's final answer equals the reference, which is the
 *    prompt's `answer` or else the full trace's answer.
 * 3. Split the prompts by seed, fit the heads on the training prompts (heads.ts), choose their L2 penalties and
 *    the exit thresholds on the validation prompts (thresholds.ts), and measure the held-out prompts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { Engine } from '../engine/engine.ts';
import type { LoadOptions } from '../engine/options.ts';
import { readSignalSidecar, SIGNAL_SIDECAR_DEFAULTS, writeSignalSidecar, type SignalSidecar } from '../engine/sidecar.ts';
import { sameFinalAnswer } from './answer.ts';
import { scoreRows, sigmoid } from './fit.ts';
import { fitSignalHeads, headsToSidecarTensors, measureHeads, type HeadQuality, type LabelledSamples, type SignalHeads } from './heads.ts';
import type { PromptItem } from './prompts.ts';
import type { ProgressStream } from './progress.ts';
import { splitPrompts } from './split.ts';
import { ChatTemplate, renderThinkingPrompt } from './thinking-prompt.ts';
import { evaluateRule, searchThresholds, type RuleOutcome, type SimulatedTrace, type Smoothing } from './thresholds.ts';
import { fileFingerprint, recordTraces, type TraceRecord } from './traces.ts';

/** Source of the rows the heads are fitted on. */
export type FeatureSource = 'segment' | 'boundary';

export interface FitSettings {
  seed: number;
  /**
   * `segment` (default): the mean rows of the thinking tokens since the previous boundary. The engine averages its
   * read-out over every token a step commits, so the heads must read ordinary tokens, not only boundary tokens.
   * `boundary`: the boundary token's own rows.
   */
  features: FeatureSource;
  l2Grid: readonly number[];
  validationFraction: number;
  heldoutFraction: number;
  /** Largest accuracy loss the thresholds may cost on validation prompts, in points (1 = one percentage point). */
  maxAccuracyLossPoints: number;
  smoothing: Smoothing;
  /** Also use traces that hit maxTokens before closing their thinking, taking their length as the thinking length. */
  includeUnfinished: boolean;
}

export interface CalibrationReport {
  seed: number;
  features: FeatureSource;
  traces: { total: number; used: number; unfinished: number; withoutReference: number };
  split: { train: number; validation: number; heldout: number };
  samples: { train: number; validation: number; heldout: number };
  l2: { confidence: number; progress: number; remain: number };
  validation: HeadQuality;
  heldout: HeadQuality;
  smoothing: Smoothing;
  thresholds: {
    found: boolean;
    confidence: number;
    progress: number;
    remain: number;
    maxAccuracyLossPoints: number;
    validation: RuleOutcome;
    heldout: RuleOutcome;
  };
}

interface UsableTrace {
  record: TraceRecord;
  reference: string;
}

/** Picks the traces that can be labelled, with the reference answer of each. */
function usableTraces(records: ReadonlyMap<number, TraceRecord>, prompts: readonly PromptItem[], includeUnfinished: boolean) {
  const used: UsableTrace[] = [];
  let unfinished = 0;
  let withoutReference = 0;
  for (const prompt of prompts) {
    const record = records.get(prompt.index);
    if (!record) continue;
    if (!record.thinkingClosed) unfinished++;
    if (!record.thinkingClosed && !includeUnfinished) continue;
    const reference = prompt.answer ?? (record.thinkingClosed ? record.answer : undefined);
    if (reference === undefined) {
      withoutReference++;
      continue;
    }
    if (record.boundaries.length === 0 || record.thinkingTokens === 0) continue;
    used.push({ record, reference });
  }
  return { used, unfinished, withoutReference };
}

function labelledSamples(traces: readonly UsableTrace[], features: FeatureSource, width: number): LabelledSamples {
  const rows = traces.reduce((sum, trace) => sum + trace.record.boundaries.length, 0);
  const values = new Float32Array(rows * width);
  const confidence = new Float64Array(rows);
  const progress = new Float64Array(rows);
  const remain = new Float64Array(rows);
  let row = 0;
  for (const { record, reference } of traces) {
    values.set(features === 'segment' ? record.segmentMeans : record.features, row * width);
    for (const boundary of record.boundaries) {
      confidence[row] = boundary.forcedAnswer !== undefined && sameFinalAnswer(boundary.forcedAnswer, reference) ? 1 : 0;
      progress[row] = Math.min(1, boundary.thinkingPosition / record.thinkingTokens);
      remain[row] = Math.max(0, record.thinkingTokens - boundary.thinkingPosition);
      row++;
    }
  }
  return { matrix: { values, rows, columns: width }, confidence, progress, remain };
}

/** Replays the fitted heads over traces for the threshold search. */
function simulatedTraces(traces: readonly UsableTrace[], heads: SignalHeads, features: FeatureSource, width: number): SimulatedTrace[] {
  return traces.map(({ record, reference }) => {
    const matrix = { values: features === 'segment' ? record.segmentMeans : record.features, rows: record.boundaries.length, columns: width };
    const confidence = scoreRows(heads.confidence, matrix);
    const progress = scoreRows(heads.progress, matrix);
    const logRemain = scoreRows(heads.logRemain, matrix);
    return {
      thinkingTokens: record.thinkingTokens,
      fullCorrect: record.thinkingClosed && sameFinalAnswer(record.answer, reference),
      boundaries: record.boundaries.map((boundary, i) => ({
        thinkingPosition: boundary.thinkingPosition,
        segmentTokens: boundary.segmentTokens,
        signals: { confidence: sigmoid(confidence[i]!), progress: sigmoid(progress[i]!), remain: Math.exp(Math.min(30, logRemain[i]!)) },
        correct: boundary.forcedAnswer !== undefined && sameFinalAnswer(boundary.forcedAnswer, reference),
      })),
    };
  });
}

/** Fits heads and thresholds on recorded traces. Pure apart from the input: the same traces and seed give the same result. */
export function calibrateFromTraces(
  records: ReadonlyMap<number, TraceRecord>,
  prompts: readonly PromptItem[],
  hiddenSize: number,
  settings: FitSettings,
): { heads: SignalHeads; report: CalibrationReport } {
  const width = 3 * hiddenSize;
  const { used, unfinished, withoutReference } = usableTraces(records, prompts, settings.includeUnfinished);
  if (used.length < 3) {
    const hint = unfinished > 0 && !settings.includeUnfinished ? ` ${unfinished} traces hit --max-tokens before closing their thinking; raise --max-tokens.` : '';
    throw new Error(`Calibration needs at least 3 usable traces (train, validation, held-out), got ${used.length}.${hint}`);
  }

  const split = splitPrompts(used.length, settings.seed, settings.validationFraction, settings.heldoutFraction);
  const pick = (indices: number[]) => indices.map((i) => used[i]!);
  const [train, validation, heldout] = [pick(split.train), pick(split.validation), pick(split.heldout)];
  const trainSamples = labelledSamples(train, settings.features, width);
  const validationSamples = labelledSamples(validation, settings.features, width);
  const heldoutSamples = labelledSamples(heldout, settings.features, width);

  const fitted = fitSignalHeads(trainSamples, validationSamples, settings.l2Grid);
  const maxLoss = settings.maxAccuracyLossPoints / 100;
  const search = searchThresholds(simulatedTraces(validation, fitted.heads, settings.features, width), settings.smoothing, maxLoss);
  const heldoutOutcome = evaluateRule(simulatedTraces(heldout, fitted.heads, settings.features, width), search.rule, settings.smoothing);

  return {
    heads: fitted.heads,
    report: {
      seed: settings.seed,
      features: settings.features,
      traces: { total: records.size, used: used.length, unfinished, withoutReference },
      split: { train: train.length, validation: validation.length, heldout: heldout.length },
      samples: { train: trainSamples.matrix.rows, validation: validationSamples.matrix.rows, heldout: heldoutSamples.matrix.rows },
      l2: fitted.l2,
      validation: fitted.validation,
      heldout: measureHeads(fitted.heads, heldoutSamples),
      smoothing: settings.smoothing,
      thresholds: {
        found: search.found,
        confidence: search.rule.confidenceThreshold,
        progress: search.rule.progressThreshold,
        remain: search.rule.remainThreshold,
        maxAccuracyLossPoints: settings.maxAccuracyLossPoints,
        validation: search.outcome,
        heldout: heldoutOutcome,
      },
    },
  };
}

export interface CalibrateOptions extends Omit<FitSettings, 'smoothing'> {
  targetPath: string;
  draftPath: string;
  promptsPath: string;
  prompts: readonly PromptItem[];
  outPath: string;
  workDir: string;
  maxTokens: number;
  answerTokens: number;
  answerPrefix: string;
  alpha: number;
  /** Mean tokens per verification step; measured with the draft on training prompts when absent. */
  tokensPerStep?: number;
  threads?: number;
  contextSize: number;
  gpu?: boolean;
  signal?: AbortSignal;
  progress?: ProgressStream;
  logger?: LoadOptions['logger'];
}

/** Throws when `outPath` exists and is not a signal sidecar: calibration replaces an older sidecar, never another file. */
async function checkReplaceable(outPath: string): Promise<void> {
  if (!existsSync(outPath)) return;
  try {
    await readSignalSidecar(outPath);
  } catch {
    throw new Error(`--out ${outPath} exists and is not a signal sidecar; pass a new path, or delete the file if it is yours to replace.`);
  }
}

/** Prompts the draft runs on to measure its acceptance length when `tokensPerStep` is not given. */
const ACCEPTANCE_PROMPTS = 3;

/** Runs the whole calibration and writes the sidecar. Returns undefined when aborted before the fit. */
export async function runCalibration(options: CalibrateOptions): Promise<CalibrationReport | undefined> {
  await checkReplaceable(options.outPath);
  const engine = await Engine.load({
    targetPath: options.targetPath,
    draftPath: options.draftPath,
    contextSize: options.contextSize,
    ...(options.threads !== undefined && { threads: options.threads }),
    ...(options.gpu !== undefined && { gpu: options.gpu }),
    ...(options.logger && { logger: options.logger }),
  });
  try {
    const { draft, target } = engine.description;
    if (!draft) throw new Error(`The draft ${options.draftPath} did not load.`);
    const layers = draft.targetLayers as [number, number, number];
    const records = await recordTraces(engine, options.prompts, {
      workDir: options.workDir,
      settings: {
        target: { name: path.basename(options.targetPath), sizeBytes: target.sizeBytes, fingerprint: await fileFingerprint(options.targetPath) },
        layers,
        hiddenSize: target.hiddenSize,
        maxTokens: options.maxTokens,
        answerTokens: options.answerTokens,
        answerPrefix: options.answerPrefix,
      },
      ...(options.signal && { signal: options.signal }),
      ...(options.progress && { progress: options.progress }),
    });
    if (options.signal?.aborted || records.size < options.prompts.length) return undefined;

    const tokensPerStep = options.tokensPerStep ?? (await measureTokensPerStep(engine, options));
    const { heads, report } = calibrateFromTraces(records, options.prompts, target.hiddenSize, {
      ...options,
      smoothing: { alpha: options.alpha, tokensPerStep },
    });

    const { weight, bias } = headsToSidecarTensors(heads);
    const sidecar: SignalSidecar = {
      weight,
      bias,
      hiddenSize: target.hiddenSize,
      targetLayers: layers,
      activations: [...SIGNAL_SIDECAR_DEFAULTS.activations],
      ewmaAlpha: options.alpha,
      confidenceThreshold: report.thresholds.confidence,
      progressThreshold: report.thresholds.progress,
      remainThreshold: report.thresholds.remain,
      calibration: {
        tool: 'specexit calibrate',
        target: path.basename(options.targetPath),
        draft: path.basename(options.draftPath),
        prompts: { file: path.basename(options.promptsPath), count: options.prompts.length },
        maxTokens: options.maxTokens,
        answerTokens: options.answerTokens,
        ...report,
      },
    };
    await writeSignalSidecar(options.outPath, sidecar);
    return report;
  } finally {
    engine.dispose();
  }
}

/** Mean tokens per verification step of the draft in mode eagle3 on the first prompts of the set. */
async function measureTokensPerStep(engine: Engine, options: CalibrateOptions): Promise<number> {
  const template = new ChatTemplate(engine);
  let total = 0;
  let runs = 0;
  for (const prompt of options.prompts.slice(0, ACCEPTANCE_PROMPTS)) {
    const rendered = renderThinkingPrompt(template, engine, prompt.prompt);
    const stream = engine.generate(rendered.tokens, { mode: 'eagle3', maxTokens: Math.min(options.maxTokens, 256), startInThinking: rendered.startInThinking });
    for await (const event of stream) {
      if (event.type === 'stats' && event.stats.steps > 0) {
        total += event.stats.meanAcceptedPerStep;
        runs++;
      }
    }
  }
  return runs > 0 ? total / runs : 1;
}
