/** The seeded split of a prompt set into training, validation and held-out prompts. */

export interface Split {
  train: number[];
  validation: number[];
  heldout: number[];
}

/**
 * Returns a pseudo-random generator of floats in [0, 1) for a 32-bit seed (the mulberry32 construction), so that
 * a seed gives the same split on every platform.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 0x100000000;
  };
}

/**
 * Splits prompt indices `0..count-1` by seed. Validation and held-out get `round(count * fraction)` prompts, at
 * least one each when the set has three or more, and training gets the rest. Each list is sorted.
 */
export function splitPrompts(count: number, seed: number, validationFraction: number, heldoutFraction: number): Split {
  const order = Array.from({ length: count }, (_, i) => i);
  const random = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const minimum = count >= 3 ? 1 : 0;
  const validationCount = Math.max(minimum, Math.round(count * validationFraction));
  const heldoutCount = Math.max(minimum, Math.round(count * heldoutFraction));
  if (validationCount + heldoutCount >= count && count > 0) {
    throw new Error(
      `A split of ${count} prompts leaves none for training (validation ${validationCount}, held-out ${heldoutCount}); ` +
        'use more prompts or smaller fractions.',
    );
  }
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  return {
    validation: sorted(order.slice(0, validationCount)),
    heldout: sorted(order.slice(validationCount, validationCount + heldoutCount)),
    train: sorted(order.slice(validationCount + heldoutCount)),
  };
}
