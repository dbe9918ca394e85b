/**
 * Seeded pseudo-random numbers for weight initialisation, shuffling and dropout masks, so
 * that two training runs with the same seed produce the same weights on the same engine.
 */

/** A source of uniform floats in [0, 1). */
export interface RandomSource {
  /** Returns the next uniform float in [0, 1). */
  next(): number;
}

/**
 * Creates the mulberry32 generator (a 32-bit state, period 2^32) seeded with `seed`.
 * It is small and fast, and its quality is ample for shuffling and initialisation. It is
 * not cryptographically secure.
 */
export function createRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return {
    next(): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Shuffles `values` in place with the Fisher–Yates algorithm and returns it. */
export function shuffleInPlace<T extends { length: number; [index: number]: unknown }>(values: T, random: RandomSource): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const swap = values[i];
    values[i] = values[j];
    values[j] = swap;
  }
  return values;
}

/** Returns a standard normal sample (mean 0, variance 1) by the Box–Muller transform. */
export function nextGaussian(random: RandomSource): number {
  // 1 - next() lies in (0, 1], so the logarithm is finite.
  const u = 1 - random.next();
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
