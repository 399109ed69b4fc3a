/**
 * Fitting of linear signal heads on recorded hidden states: L2-regularised logistic regression (binary or
 * fractional targets) and ridge least squares, on standardised features. The standardisation is folded into the
 * returned weights, so a head applies to raw hidden states as the engine's read-out does.
 */
import { minimize } from './lbfgs.ts';

/** Row-major feature matrix. */
export interface FeatureMatrix {
  values: Float32Array;
  rows: number;
  columns: number;
}

/** Per-column mean and inverse standard deviation; columns with no spread get scale 0 and so no weight. */
export interface Standardization {
  mean: Float64Array;
  scale: Float64Array;
}

/** A head on raw features: score = weight · x + bias. */
export interface LinearHead {
  weight: Float64Array;
  bias: number;
}

export type HeadKind = 'logistic' | 'ridge';

/** Standard deviations below this count as none. */
const MIN_STD = 1e-8;

export function standardization(matrix: FeatureMatrix): Standardization {
  const { values, rows, columns } = matrix;
  const mean = new Float64Array(columns);
  const square = new Float64Array(columns);
  for (let r = 0; r < rows; r++) {
    const offset = r * columns;
    for (let c = 0; c < columns; c++) {
      const v = values[offset + c]!;
      mean[c]! += v;
      square[c]! += v * v;
    }
  }
  const scale = new Float64Array(columns);
  for (let c = 0; c < columns; c++) {
    mean[c]! /= Math.max(1, rows);
    const variance = Math.max(0, square[c]! / Math.max(1, rows) - mean[c]! * mean[c]!);
    const std = Math.sqrt(variance);
    scale[c] = std > MIN_STD * Math.max(1, Math.abs(mean[c]!)) ? 1 / std : 0;
  }
  return { mean, scale };
}

/** Returns weight · x + bias for every row. */
export function scoreRows(head: LinearHead, matrix: FeatureMatrix): Float64Array {
  const { values, rows, columns } = matrix;
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = head.bias;
    const offset = r * columns;
    for (let c = 0; c < columns; c++) sum += head.weight[c]! * values[offset + c]!;
    scores[r] = sum;
  }
  return scores;
}

/**
 * Turns weights on standardised features into weights on raw ones: w·((x - mean) * scale) + b equals
 * (w * scale)·x + (b - (w * scale)·mean).
 */
export function foldStandardization(standardWeight: Float64Array, standardBias: number, std: Standardization): LinearHead {
  const weight = new Float64Array(standardWeight.length);
  let bias = standardBias;
  for (let c = 0; c < weight.length; c++) {
    weight[c] = standardWeight[c]! * std.scale[c]!;
    bias -= weight[c]! * std.mean[c]!;
  }
  return { weight, bias };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export interface FitOptions {
  /** L2 penalty on the standardised weights (not the bias), per sample: loss = mean(sample loss) + l2 / 2 * |w|². */
  l2: number;
  /** Standardised parameters [w..., b] to start from, for warm starts along an l2 path. */
  start?: Float64Array;
  maxIterations?: number;
}

export interface FitResult {
  head: LinearHead;
  /** Standardised parameters [w..., b], a warm start for the next fit. */
  parameters: Float64Array;
  iterations: number;
}

/**
 * Fits one head. `logistic` minimises the cross-entropy of sigmoid(score) against targets in [0, 1] (binary labels
 * or fractions); `ridge` minimises half the squared error against real targets.
 */
export function fitHead(kind: HeadKind, matrix: FeatureMatrix, targets: Float64Array, std: Standardization, options: FitOptions): FitResult {
  const { values, rows, columns } = matrix;
  if (rows === 0) throw new Error('Cannot fit a signal head on zero samples.');
  const residual = new Float64Array(rows);

  const objective = (parameters: Float64Array, gradient: Float64Array): number => {
    const head = foldStandardization(parameters.subarray(0, columns), parameters[columns]!, std);
    const scores = scoreRows(head, matrix);

    let loss = 0;
    for (let r = 0; r < rows; r++) {
      const s = scores[r]!;
      const y = targets[r]!;
      if (kind === 'logistic') {
        loss += softplus(s) - y * s;
        residual[r] = sigmoid(s) - y;
      } else {
        loss += 0.5 * (s - y) * (s - y);
        residual[r] = s - y;
      }
    }
    loss /= rows;

    // d/dw_c = scale_c * (sum_r residual_r * x_rc - mean_c * sum_r residual_r) / rows + l2 * w_c
    gradient.fill(0);
    let residualSum = 0;
    for (let r = 0; r < rows; r++) {
      const e = residual[r]!;
      residualSum += e;
      const offset = r * columns;
      for (let c = 0; c < columns; c++) gradient[c]! += e * values[offset + c]!;
    }
    let penalty = 0;
    for (let c = 0; c < columns; c++) {
      const w = parameters[c]!;
      gradient[c] = (std.scale[c]! * (gradient[c]! - std.mean[c]! * residualSum)) / rows + options.l2 * w;
      penalty += w * w;
    }
    gradient[columns] = residualSum / rows;
    return loss + 0.5 * options.l2 * penalty;
  };

  const start = options.start ?? initialParameters(kind, targets, columns);
  const result = minimize(objective, start, { maxIterations: options.maxIterations ?? 300 });
  return {
    head: foldStandardization(result.x.subarray(0, columns), result.x[columns]!, std),
    parameters: result.x,
    iterations: result.iterations,
  };
}

/** Zero weights and the bias that fits the mean target. */
function initialParameters(kind: HeadKind, targets: Float64Array, columns: number): Float64Array {
  const parameters = new Float64Array(columns + 1);
  let mean = 0;
  for (const y of targets) mean += y;
  mean /= Math.max(1, targets.length);
  if (kind === 'logistic') {
    const p = Math.min(1 - 1e-3, Math.max(1e-3, mean));
    parameters[columns] = Math.log(p / (1 - p));
  } else {
    parameters[columns] = mean;
  }
  return parameters;
}
