import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { fitHead, foldStandardization, scoreRows, sigmoid, standardization, type FeatureMatrix } from '../../daemon/calibrate/fit.ts';
import { fitSignalHeads, headsToSidecarTensors, type LabelledSamples } from '../../daemon/calibrate/heads.ts';
import { minimize } from '../../daemon/calibrate/lbfgs.ts';
import { areaUnderRoc, meanAbsoluteError } from '../../daemon/calibrate/metrics.ts';
import { seededRandom } from '../../daemon/calibrate/split.ts';

const COLUMNS = 24;

function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Features with unequal means and scales, as hidden states have, so that folding the standardisation matters. */
function syntheticMatrix(rows: number, random: () => number): FeatureMatrix {
  const values = new Float32Array(rows * COLUMNS);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < COLUMNS; c++) values[r * COLUMNS + c] = 3 * Math.sin(c) + (0.2 + c / 8) * normal(random);
  }
  return { values, rows, columns: COLUMNS };
}

function randomHead(random: () => number, scale: number) {
  const weight = new Float64Array(COLUMNS);
  for (let c = 0; c < COLUMNS; c++) weight[c] = (scale * normal(random)) / (0.2 + c / 8);
  return { weight, bias: 0.3 * normal(random) };
}

function relativeError(actual: Float64Array, expected: Float64Array): number {
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    difference += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(difference / norm);
}

/** Labels from known heads: Bernoulli confidence, exact progress fractions, remain with 5 % log-normal noise. */
function synthesize(rows: number, seed: number, truth: ReturnType<typeof makeTruth>): LabelledSamples {
  const random = seededRandom(seed);
  const matrix = syntheticMatrix(rows, random);
  const confidenceScores = scoreRows(truth.confidence, matrix);
  const progressScores = scoreRows(truth.progress, matrix);
  const remainScores = scoreRows(truth.logRemain, matrix);
  return {
    matrix,
    confidence: Float64Array.from(confidenceScores, (s) => (random() < sigmoid(s) ? 1 : 0)),
    progress: Float64Array.from(progressScores, sigmoid),
    remain: Float64Array.from(remainScores, (s) => Math.exp(s + 0.05 * normal(random))),
  };
}

function makeTruth() {
  const random = seededRandom(99);
  const logRemain = randomHead(random, 0.3);
  logRemain.bias = 4;
  return { confidence: randomHead(random, 0.6), progress: randomHead(random, 0.4), logRemain };
}

describe('signal head fit', () => {
  test('L-BFGS finds a quadratic minimum', () => {
    const target = [3, -1, 0.5];
    const result = minimize((x, gradient) => {
      let loss = 0;
      x.forEach((value, i) => {
        const scale = i + 1;
        loss += 0.5 * scale * (value - target[i]!) ** 2;
        gradient[i] = scale * (value - target[i]!);
      });
      return loss;
    }, new Float64Array(3));
    result.x.forEach((value, i) => assert.ok(Math.abs(value - target[i]!) < 1e-5, `x[${i}] = ${value}`));
  });

  test('folded weights read raw features', () => {
    const random = seededRandom(5);
    const matrix = syntheticMatrix(50, random);
    const std = standardization(matrix);
    const standardWeight = Float64Array.from({ length: COLUMNS }, () => normal(random));
    const head = foldStandardization(standardWeight, 0.7, std);
    const folded = scoreRows(head, matrix);
    for (let r = 0; r < matrix.rows; r++) {
      let expected = 0.7;
      for (let c = 0; c < COLUMNS; c++) expected += standardWeight[c]! * (matrix.values[r * COLUMNS + c]! - std.mean[c]!) * std.scale[c]!;
      assert.ok(Math.abs(folded[r]! - expected) < 1e-9 * Math.max(1, Math.abs(expected)));
    }
  });

  test('constant columns get no weight', () => {
    const random = seededRandom(8);
    const matrix = syntheticMatrix(200, random);
    for (let r = 0; r < matrix.rows; r++) matrix.values[r * COLUMNS + 3] = 5;
    const targets = Float64Array.from({ length: matrix.rows }, (_, r) => matrix.values[r * COLUMNS]!);
    const fit = fitHead('ridge', matrix, targets, standardization(matrix), { l2: 1e-4 });
    assert.equal(fit.head.weight[3], 0);
    assert.ok(Number.isFinite(fit.head.bias));
  });

  test('synthetic heads are recovered', () => {
    const truth = makeTruth();
    const train = synthesize(6000, 1, truth);
    const validation = synthesize(1500, 2, truth);
    const fitted = fitSignalHeads(train, validation, [1e-5, 1e-4]);

    assert.ok(relativeError(fitted.heads.progress.weight, truth.progress.weight) < 0.02, 'progress weights');
    assert.ok(Math.abs(fitted.heads.progress.bias - truth.progress.bias) < 0.05, 'progress bias');
    assert.ok(relativeError(fitted.heads.logRemain.weight, truth.logRemain.weight) < 0.03, 'remain weights');
    assert.ok(Math.abs(fitted.heads.logRemain.bias - truth.logRemain.bias) < 0.1, 'remain bias');
    const confidenceError = relativeError(fitted.heads.confidence.weight, truth.confidence.weight);
    assert.ok(confidenceError < 0.15, `confidence weights off by ${confidenceError}`);

    // The fitted confidence head ranks as well as the true one on fresh data.
    const heldout = synthesize(1500, 3, truth);
    const trueAuc = areaUnderRoc(scoreRows(truth.confidence, heldout.matrix), heldout.confidence);
    const fittedAuc = areaUnderRoc(scoreRows(fitted.heads.confidence, heldout.matrix), heldout.confidence);
    assert.ok(fittedAuc > trueAuc - 0.01, `fitted AUC ${fittedAuc} vs true ${trueAuc}`);
    // The raw-space bias absorbs the feature means, so the probabilities are compared instead of the bias.
    const trueProbability = scoreRows(truth.confidence, heldout.matrix).map(sigmoid);
    const fittedProbability = scoreRows(fitted.heads.confidence, heldout.matrix).map(sigmoid);
    assert.ok(meanAbsoluteError(fittedProbability, trueProbability) < 0.03, 'confidence probabilities');
    assert.ok(fitted.validation.maeProgress < 0.01, `progress MAE ${fitted.validation.maeProgress}`);
  });

  test('sidecar tensors keep the row order', () => {
    const truth = makeTruth();
    const { weight, bias } = headsToSidecarTensors(truth);
    assert.equal(weight.length, 3 * COLUMNS);
    assert.equal(weight[COLUMNS + 2], Math.fround(truth.progress.weight[2]!));
    assert.equal(weight[2 * COLUMNS], Math.fround(truth.logRemain.weight[0]!));
    assert.deepEqual(Array.from(bias), [truth.confidence.bias, truth.progress.bias, truth.logRemain.bias].map(Math.fround));
  });
});

describe('metrics', () => {
  test('AUC of perfect, reversed and tied scores', () => {
    assert.equal(areaUnderRoc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(areaUnderRoc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(areaUnderRoc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    assert.ok(Number.isNaN(areaUnderRoc([0.1, 0.2], [1, 1])));
  });

  test('MAE of known errors', () => {
    assert.equal(meanAbsoluteError([1, 2, 3], [2, 2, 1]), 1);
  });
});
