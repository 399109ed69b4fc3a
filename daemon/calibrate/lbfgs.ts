/** A limited-memory BFGS minimizer for the smooth, convex losses of the signal-head fit. */

/** Returns the loss at `x` and writes its gradient into `gradient`. */
export type Objective = (x: Float64Array, gradient: Float64Array) => number;

export interface MinimizeOptions {
  /** Default 300. */
  maxIterations?: number;
  /** Correction pairs kept. Default 10. */
  memory?: number;
  /** Stops when the largest gradient component or the relative loss change falls below this. Default 1e-7. */
  tolerance?: number;
}

export interface MinimizeResult {
  x: Float64Array;
  loss: number;
  iterations: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function maxAbs(a: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

/** Minimizes `objective` from `start` (not modified) with L-BFGS and a backtracking Armijo line search. Deterministic. */
export function minimize(objective: Objective, start: Float64Array, options: MinimizeOptions = {}): MinimizeResult {
  const maxIterations = options.maxIterations ?? 300;
  const memory = options.memory ?? 10;
  const tolerance = options.tolerance ?? 1e-7;
  const n = start.length;

  let x = Float64Array.from(start);
  let gradient = new Float64Array(n);
  let loss = objective(x, gradient);
  const steps: Float64Array[] = [];
  const changes: Float64Array[] = [];
  const direction = new Float64Array(n);
  const alphas = new Float64Array(memory);

  let iteration = 0;
  for (; iteration < maxIterations; iteration++) {
    if (maxAbs(gradient) < tolerance) break;

    // two-loop recursion: direction = -H * gradient
    direction.set(gradient);
    for (let k = steps.length - 1; k >= 0; k--) {
      const alpha = dot(steps[k]!, direction) / dot(changes[k]!, steps[k]!);
      alphas[k] = alpha;
      for (let i = 0; i < n; i++) direction[i]! -= alpha * changes[k]![i]!;
    }
    if (steps.length > 0) {
      const last = steps.length - 1;
      const scale = dot(steps[last]!, changes[last]!) / dot(changes[last]!, changes[last]!);
      for (let i = 0; i < n; i++) direction[i]! *= scale;
    }
    for (let k = 0; k < steps.length; k++) {
      const beta = dot(changes[k]!, direction) / dot(changes[k]!, steps[k]!);
      for (let i = 0; i < n; i++) direction[i]! += steps[k]![i]! * (alphas[k]! - beta);
    }
    for (let i = 0; i < n; i++) direction[i] = -direction[i]!;

    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction: drop the history and follow the gradient.
      steps.length = 0;
      changes.length = 0;
      for (let i = 0; i < n; i++) direction[i] = -gradient[i]!;
      slope = dot(gradient, direction);
    }

    // line search: halve the step until the Armijo condition holds
    let step = steps.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    const next = new Float64Array(n);
    const nextGradient = new Float64Array(n);
    let nextLoss = Number.POSITIVE_INFINITY;
    for (let attempt = 0; attempt < 40; attempt++) {
      for (let i = 0; i < n; i++) next[i] = x[i]! + step * direction[i]!;
      nextLoss = objective(next, nextGradient);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextLoss <= loss)) break;

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = next[i]! - x[i]!;
      y[i] = nextGradient[i]! - gradient[i]!;
    }
    if (dot(s, y) > 1e-12) {
      steps.push(s);
      changes.push(y);
      if (steps.length > memory) {
        steps.shift();
        changes.shift();
      }
    }
    const change = Math.abs(loss - nextLoss) / Math.max(1, Math.abs(loss));
    x = next;
    gradient = nextGradient;
    loss = nextLoss;
    if (change < tolerance * 1e-3) {
      iteration++;
      break;
    }
  }
  return { x, loss, iterations: iteration };
}
