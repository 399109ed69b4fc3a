/**
 * The exit rule replayed over recorded traces, and the grid search for its thresholds: the most thinking saved
 * with an accuracy loss of at most a given number of points.
 */

export interface SignalTriple {
  confidence: number;
  progress: number;
  remain: number;
}

export interface SimulatedBoundary {
  /** Thinking tokens up to and including the boundary token. */
  thinkingPosition: number;
  /** Thinking tokens since the previous boundary, this one included. */
  segmentTokens: number;
  /** The fitted heads' activated signals for this segment. */
  signals: SignalTriple;
  /** The answer forced right after this boundary is correct. */
  correct: boolean;
}

export interface SimulatedTrace {
  thinkingTokens: number;
  /** The answer after the full thinking is correct. */
  fullCorrect: boolean;
  boundaries: SimulatedBoundary[];
}

export interface ExitRule {
  confidenceThreshold: number;
  progressThreshold: number;
  remainThreshold: number;
}

/** A rule that never fires: the exit needs confidence above 1. */
export const NEVER_EXIT: ExitRule = { confidenceThreshold: 1, progressThreshold: 1, remainThreshold: 1 };

export interface Smoothing {
  /** EWMA weight of the newest verification step. */
  alpha: number;
  /** Mean tokens a verification step commits (the draft's acceptance length). */
  tokensPerStep: number;
}

/**
 * Returns the index of the boundary where the rule would cut thinking, or undefined for none.
 *
 * The engine folds one signal triple per verification step and checks the rule, with the smoothed value of the
 * earlier steps, at each boundary token a step commits. Traces record one triple per segment between boundaries,
 * so each segment stands for `segmentTokens / tokensPerStep` steps that all read that triple. The steps before
 * the one holding the boundary are folded in before the check, and the last one after it.
 *
 * TODO: the engine averages the heads' values over single tokens, where heads fitted on paragraph means are off
 * their range (the remain head gives thousands on some tokens). So the engine exits later than this replay
 * predicts (2 % against 35 % of the thinking saved on the embedded model). Reading a step's mean hidden state
 * instead saved 33 % but lost 10.5 points of accuracy (bench/RESULTS.md). Record per-step signals in the traces
 * and choose the thresholds on them.
 */
export function simulateExit(trace: SimulatedTrace, rule: ExitRule, smoothing: Smoothing): number | undefined {
  let smoothed: SignalTriple | undefined;
  const keep = 1 - smoothing.alpha;
  const foldSteps = (value: SignalTriple, steps: number) => {
    if (steps <= 0) return;
    if (!smoothed) {
      smoothed = { ...value };
      return;
    }
    const decay = Math.pow(keep, steps);
    smoothed = {
      confidence: value.confidence + decay * (smoothed.confidence - value.confidence),
      progress: value.progress + decay * (smoothed.progress - value.progress),
      remain: value.remain + decay * (smoothed.remain - value.remain),
    };
  };

  for (const [index, boundary] of trace.boundaries.entries()) {
    const steps = Math.max(1, boundary.segmentTokens / smoothing.tokensPerStep);
    foldSteps(boundary.signals, steps - 1);
    if (
      smoothed &&
      smoothed.confidence > rule.confidenceThreshold &&
      smoothed.progress > rule.progressThreshold &&
      smoothed.remain < rule.remainThreshold
    ) {
      return index;
    }
    foldSteps(boundary.signals, 1);
  }
  return undefined;
}

export interface RuleOutcome {
  /** Share of traces whose answer is correct under the rule, 0 to 1. */
  accuracy: number;
  /** Share correct with the full thinking. */
  baselineAccuracy: number;
  /** Share of all thinking tokens the rule removes, 0 to 1. */
  thinkingSaved: number;
  /** Mean thinking tokens per trace under the rule. */
  meanThinkingTokens: number;
  /** Traces in which the rule fired. */
  exits: number;
  traces: number;
}

export function evaluateRule(traces: readonly SimulatedTrace[], rule: ExitRule, smoothing: Smoothing): RuleOutcome {
  let correct = 0;
  let baseline = 0;
  let fullTokens = 0;
  let usedTokens = 0;
  let exits = 0;
  for (const trace of traces) {
    const index = simulateExit(trace, rule, smoothing);
    const boundary = index === undefined ? undefined : trace.boundaries[index];
    if (boundary) exits++;
    correct += (boundary ? boundary.correct : trace.fullCorrect) ? 1 : 0;
    baseline += trace.fullCorrect ? 1 : 0;
    fullTokens += trace.thinkingTokens;
    usedTokens += boundary ? boundary.thinkingPosition : trace.thinkingTokens;
  }
  const count = Math.max(1, traces.length);
  return {
    accuracy: correct / count,
    baselineAccuracy: baseline / count,
    thinkingSaved: fullTokens > 0 ? 1 - usedTokens / fullTokens : 0,
    meanThinkingTokens: usedTokens / count,
    exits,
    traces: traces.length,
  };
}

export interface ThresholdGrid {
  confidence: readonly number[];
  progress: readonly number[];
  remain: readonly number[];
}

export const DEFAULT_GRID: ThresholdGrid = {
  confidence: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99],
  progress: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  remain: [16, 32, 64, 128, 256, 512, 1024, 4096, 1e9],
};

export interface ThresholdSearch {
  rule: ExitRule;
  outcome: RuleOutcome;
  /** Grid points tried, and those within the accuracy constraint. */
  candidates: number;
  feasible: number;
  /** False when no grid point saved thinking within the constraint; `rule` is then NEVER_EXIT. */
  found: boolean;
}

/**
 * Tries every grid point and returns the one that saves the largest share of thinking tokens while losing at most
 * `maxAccuracyLoss` (a fraction: 0.01 is one point) against the full thinking. Ties go to the higher accuracy, then
 * to the stricter thresholds, which generalise more safely.
 */
export function searchThresholds(
  traces: readonly SimulatedTrace[],
  smoothing: Smoothing,
  maxAccuracyLoss: number,
  grid: ThresholdGrid = DEFAULT_GRID,
): ThresholdSearch {
  let best: { rule: ExitRule; outcome: RuleOutcome } | undefined;
  let candidates = 0;
  let feasible = 0;
  // A small tolerance keeps a loss of exactly `maxAccuracyLoss` feasible despite rounding.
  const epsilon = 1e-9;
  for (const confidenceThreshold of [...grid.confidence].sort((a, b) => b - a)) {
    for (const progressThreshold of [...grid.progress].sort((a, b) => b - a)) {
      for (const remainThreshold of [...grid.remain].sort((a, b) => a - b)) {
        candidates++;
        const rule = { confidenceThreshold, progressThreshold, remainThreshold };
        const outcome = evaluateRule(traces, rule, smoothing);
        if (outcome.baselineAccuracy - outcome.accuracy > maxAccuracyLoss + epsilon) continue;
        feasible++;
        const better =
          !best ||
          outcome.thinkingSaved > best.outcome.thinkingSaved + epsilon ||
          (Math.abs(outcome.thinkingSaved - best.outcome.thinkingSaved) <= epsilon && outcome.accuracy > best.outcome.accuracy + epsilon);
        if (better) best = { rule, outcome };
      }
    }
  }
  if (!best || best.outcome.thinkingSaved <= 0) {
    return { rule: NEVER_EXIT, outcome: evaluateRule(traces, NEVER_EXIT, smoothing), candidates, feasible, found: false };
  }
  return { ...best, candidates, feasible, found: true };
}
