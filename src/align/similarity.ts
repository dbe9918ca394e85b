/**
 * 2×3 affine matrices and the least-squares similarity transform between two point sets.
 *
 * A matrix is `[a, b, tx, c, d, ty]`, row-major, and maps a point `(x, y)` to
 * `(a·x + b·y + tx, c·x + d·y + ty)`. Points are in pixels (`PointPx`).
 */

import { invalidArgument } from '../errors.js';
import type { PointPx } from '../types.js';

/** A 2×3 affine matrix `[a, b, tx, c, d, ty]`, row-major. */
export type AffineMatrix = [number, number, number, number, number, number];

/**
 * Smallest weighted variance, relative to the squared coordinate size, at which source or
 * destination points count as distinct. Below it, rounding error dominates the fitted scale.
 */
const MIN_RELATIVE_SPREAD = 1e-20;

/** Smallest |determinant| relative to the squared size of the linear part for an invertible matrix. */
const MIN_RELATIVE_DETERMINANT = 1e-12;

/**
 * Estimates the similarity transform (rotation, uniform scale, translation, no reflection)
 * that maps `srcPts` onto `dstPts` with the least weighted sum of squared distances in the
 * destination. This is Umeyama's closed form restricted to rotations, which in 2-D reduces
 * to a linear least-squares fit of `a = s·cos θ` and `c = s·sin θ` on the centred points.
 *
 * @param weights One non-negative weight per point; all 1 when omitted. Only the ratios matter.
 * @returns The matrix mapping source to destination, `[a, -c, tx, c, a, ty]`.
 * @throws FacekitError `ERR_INVALID_ARGUMENT` when the lists differ in length, contain fewer
 *   than 2 points or non-finite values, when the weighted source or destination points all
 *   coincide, or when a weight is negative, non-finite or all weights are 0.
 */
export function estimateSimilarity(
  srcPts: readonly PointPx[],
  dstPts: readonly PointPx[],
  weights?: readonly number[],
): AffineMatrix {
  checkPoints('srcPts', srcPts);
  checkPoints('dstPts', dstPts);
  if (dstPts.length !== srcPts.length) {
    throw invalidArgument('dstPts', `an array with as many points as srcPts (${srcPts.length})`, dstPts);
  }
  const count = srcPts.length;
  const w = resolveWeights(weights, count);

  let weightSum = 0;
  let srcMeanX = 0;
  let srcMeanY = 0;
  let dstMeanX = 0;
  let dstMeanY = 0;
  for (let i = 0; i < count; i++) {
    weightSum += w[i];
    srcMeanX += w[i] * srcPts[i][0];
    srcMeanY += w[i] * srcPts[i][1];
    dstMeanX += w[i] * dstPts[i][0];
    dstMeanY += w[i] * dstPts[i][1];
  }
  srcMeanX /= weightSum;
  srcMeanY /= weightSum;
  dstMeanX /= weightSum;
  dstMeanY /= weightSum;

  // Weighted variances and cross terms of the centred source points p and destination points q,
  // with dot = Σ w (p · q) and cross = Σ w (p × q).
  let srcVariance = 0;
  let dstVariance = 0;
  let dot = 0;
  let cross = 0;
  let srcMagnitude = 0;
  let dstMagnitude = 0;
  for (let i = 0; i < count; i++) {
    const px = srcPts[i][0] - srcMeanX;
    const py = srcPts[i][1] - srcMeanY;
    const qx = dstPts[i][0] - dstMeanX;
    const qy = dstPts[i][1] - dstMeanY;
    srcVariance += w[i] * (px * px + py * py);
    dstVariance += w[i] * (qx * qx + qy * qy);
    dot += w[i] * (px * qx + py * qy);
    cross += w[i] * (px * qy - py * qx);
    srcMagnitude = Math.max(srcMagnitude, Math.abs(srcPts[i][0]), Math.abs(srcPts[i][1]));
    dstMagnitude = Math.max(dstMagnitude, Math.abs(dstPts[i][0]), Math.abs(dstPts[i][1]));
  }
  if (!(srcVariance > MIN_RELATIVE_SPREAD * weightSum * (1 + srcMagnitude * srcMagnitude))) {
    throw invalidArgument('srcPts', 'at least 2 distinct points with non-zero weight', srcPts);
  }
  if (!(dstVariance > MIN_RELATIVE_SPREAD * weightSum * (1 + dstMagnitude * dstMagnitude))) {
    throw invalidArgument('dstPts', 'at least 2 distinct points with non-zero weight', dstPts);
  }

  const a = dot / srcVariance;
  const c = cross / srcVariance;
  const tx = dstMeanX - (a * srcMeanX - c * srcMeanY);
  const ty = dstMeanY - (c * srcMeanX + a * srcMeanY);
  return [a, -c, tx, c, a, ty];
}

/**
 * Inverts an affine matrix.
 *
 * @throws FacekitError `ERR_INVALID_ARGUMENT` when the matrix is malformed or singular.
 */
export function invertAffine(matrix: readonly number[]): AffineMatrix {
  checkAffine('matrix', matrix);
  const [a, b, tx, c, d, ty] = matrix as AffineMatrix;
  const det = a * d - b * c;
  const size = Math.max(a * a + c * c, b * b + d * d);
  if (!(Math.abs(det) > MIN_RELATIVE_DETERMINANT * size)) {
    throw invalidArgument('matrix', 'an invertible affine matrix (non-zero determinant)', matrix);
  }
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** Maps one point through an affine matrix. */
export function applyAffine(matrix: readonly number[], point: readonly [number, number]): PointPx {
  checkAffine('matrix', matrix);
  checkPoint('point', point);
  const [a, b, tx, c, d, ty] = matrix as AffineMatrix;
  return [a * point[0] + b * point[1] + tx, c * point[0] + d * point[1] + ty];
}

/**
 * Composes two affine matrices into one that applies `first`, then `second`
 * (the matrix product `second · first`).
 */
export function composeAffine(first: readonly number[], second: readonly number[]): AffineMatrix {
  checkAffine('first', first);
  checkAffine('second', second);
  const [a1, b1, tx1, c1, d1, ty1] = first as AffineMatrix;
  const [a2, b2, tx2, c2, d2, ty2] = second as AffineMatrix;
  return [
    a2 * a1 + b2 * c1,
    a2 * b1 + b2 * d1,
    a2 * tx1 + b2 * ty1 + tx2,
    c2 * a1 + d2 * c1,
    c2 * b1 + d2 * d1,
    c2 * tx1 + d2 * ty1 + ty2,
  ];
}

/**
 * Checks that `value` is an array of 6 finite numbers.
 *
 * @throws FacekitError `ERR_INVALID_ARGUMENT` naming `name`.
 */
export function checkAffine(name: string, value: unknown): asserts value is AffineMatrix {
  if (!Array.isArray(value) || value.length !== 6 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw invalidArgument(name, 'an affine matrix [a, b, tx, c, d, ty] of 6 finite numbers', value);
  }
}

function checkPoint(name: string, value: unknown): void {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'number' ||
    typeof value[1] !== 'number' ||
    !Number.isFinite(value[0]) ||
    !Number.isFinite(value[1])
  ) {
    throw invalidArgument(name, 'a point [x, y] of 2 finite numbers', value);
  }
}

function checkPoints(name: string, value: unknown): asserts value is PointPx[] {
  if (!Array.isArray(value) || value.length < 2) {
    throw invalidArgument(name, 'an array of at least 2 points [x, y]', value);
  }
  value.forEach((point, i) => checkPoint(`${name}[${i}]`, point));
}

function resolveWeights(weights: readonly number[] | undefined, count: number): readonly number[] {
  if (weights === undefined) return new Array<number>(count).fill(1);
  if (!Array.isArray(weights) || weights.length !== count) {
    throw invalidArgument('weights', `an array of ${count} numbers, one per point`, weights);
  }
  weights.forEach((weight, i) => {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw invalidArgument(`weights[${i}]`, 'a finite number >= 0', weight);
    }
  });
  if (!weights.some((weight) => weight > 0)) {
    throw invalidArgument('weights', 'at least one weight > 0', weights);
  }
  return weights;
}
