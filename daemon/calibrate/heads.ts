/**
 * The three signal heads fitted together: confidence (logistic on 0/1 labels), progress (logistic on fractions)
 * and remaining thinking tokens (ridge on their logarithm), each with its L2 penalty chosen on validation data.
 */
import { fitHead, scoreRows, sigmoid, standardization, type FeatureMatrix, type HeadKind, type LinearHead } from './fit.ts';
import { areaUnderRoc, meanAbsoluteError } from './metrics.ts';

/** Samples with their labels: one row per step boundary. */
export interface LabelledSamples {
  matrix: FeatureMatrix;
  /** 1 when the answer forced at the boundary is correct, else 0. */
  confidence: Float64Array;
  /** Thinking done at the boundary: position / thinking tokens, in (0, 1]. */
  progress: Float64Array;
  /** Thinking tokens still to come after the boundary. */
  remain: Float64Array;
}

export interface SignalHeads {
  confidence: LinearHead;
  progress: LinearHead;
  /** Predicts log(remaining tokens). */
  logRemain: LinearHead;
}

export interface HeadQuality {
  /** AUC of the confidence head; NaN when the labels are all of one class. */
  aucConfidence: number;
  /** Mean absolute error of sigmoid(progress score). */
  maeProgress: number;
  /** Mean absolute error of exp(remain score), in tokens. */
  maeRemain: number;
  samples: number;
}

export const DEFAULT_L2_GRID: readonly number[] = [1e-4, 1e-3, 1e-2, 1e-1];

/** Returns the remain head's target, log(remain). Zero tokens left counts as one, so the log stays finite. */
export function logRemainTarget(remain: number): number {
  return Math.log(Math.max(1, remain));
}

export interface FittedHeads {
  heads: SignalHeads;
  l2: { confidence: number; progress: number; remain: number };
  validation: HeadQuality;
}

/**
 * Fits each head for every penalty in `l2Grid`, largest first, each fit starting from the previous one. Keeps the
 * fit with the best validation figure: AUC for confidence (log loss when the AUC is undefined), and mean absolute
 * error for progress and remain.
 */
export function fitSignalHeads(train: LabelledSamples, validation: LabelledSamples, l2Grid: readonly number[] = DEFAULT_L2_GRID): FittedHeads {
  if (train.matrix.rows === 0) throw new Error('No training samples: the training prompts have no step boundaries inside their thinking.');
  const std = standardization(train.matrix);
  const logRemain = Float64Array.from(train.remain, logRemainTarget);
  const grid = [...l2Grid].sort((a, b) => b - a);

  const choose = (kind: HeadKind, targets: Float64Array, score: (head: LinearHead) => number) => {
    let best: { head: LinearHead; l2: number; score: number } | undefined;
    let start: Float64Array | undefined;
    for (const l2 of grid) {
      const fit = fitHead(kind, train.matrix, targets, std, { l2, ...(start && { start }) });
      start = fit.parameters;
      const value = validation.matrix.rows > 0 ? score(fit.head) : -l2;
      if (!best || value > best.score) best = { head: fit.head, l2, score: value };
    }
    return best!;
  };

  const confidence = choose('logistic', train.confidence, (head) => {
    const scores = scoreRows(head, validation.matrix);
    const auc = areaUnderRoc(scores, validation.confidence);
    return Number.isNaN(auc) ? -logLoss(scores, validation.confidence) : auc;
  });
  const progress = choose('logistic', train.progress, (head) => -meanAbsoluteError(scoreRows(head, validation.matrix).map(sigmoid), validation.progress));
  const remain = choose('ridge', logRemain, (head) => -meanAbsoluteError(scoreRows(head, validation.matrix).map(Math.exp), validation.remain));

  const heads = { confidence: confidence.head, progress: progress.head, logRemain: remain.head };
  return {
    heads,
    l2: { confidence: confidence.l2, progress: progress.l2, remain: remain.l2 },
    validation: measureHeads(heads, validation),
  };
}

function logLoss(scores: Float64Array, labels: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(scores[i]!)));
    sum -= labels[i]! * Math.log(p) + (1 - labels[i]!) * Math.log(1 - p);
  }
  return sum / Math.max(1, scores.length);
}

export function measureHeads(heads: SignalHeads, samples: LabelledSamples): HeadQuality {
  return {
    aucConfidence: areaUnderRoc(scoreRows(heads.confidence, samples.matrix), samples.confidence),
    maeProgress: meanAbsoluteError(scoreRows(heads.progress, samples.matrix).map(sigmoid), samples.progress),
    maeRemain: meanAbsoluteError(scoreRows(heads.logRemain, samples.matrix).map(Math.exp), samples.remain),
    samples: samples.matrix.rows,
  };
}

/** Packs the heads as the sidecar's weight [3][columns] and bias [3], in row order confidence, progress, log remain. */
export function headsToSidecarTensors(heads: SignalHeads): { weight: Float32Array; bias: Float32Array } {
  const columns = heads.confidence.weight.length;
  const weight = new Float32Array(3 * columns);
  weight.set(heads.confidence.weight, 0);
  weight.set(heads.progress.weight, columns);
  weight.set(heads.logRemain.weight, 2 * columns);
  return { weight, bias: Float32Array.from([heads.confidence.bias, heads.progress.bias, heads.logRemain.bias]) };
}
