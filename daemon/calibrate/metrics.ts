/** Quality figures of the fitted heads. */

/**
 * Area under the ROC curve of `scores` for binary `labels` (the Mann-Whitney statistic, ties counted half).
 * NaN when the labels are all of one class.
 */
export function areaUnderRoc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSumPositive = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]!]! > 0.5) {
        positives++;
        rankSumPositive += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function meanAbsoluteError(predictions: ArrayLike<number>, targets: ArrayLike<number>): number {
  if (predictions.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) sum += Math.abs(predictions[i]! - targets[i]!);
  return sum / predictions.length;
}
