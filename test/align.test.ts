import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isFacekitError } from '../src/errors.js';
import {
  type AffineMatrix,
  applyAffine,
  composeAffine,
  estimateSimilarity,
  invertAffine,
} from '../src/align/similarity.js';
import {
  ALIGNMENT_KEYPOINT_COUNT,
  BLAZEFACE_KEYPOINT,
  DEFAULT_ALIGN_MARGIN,
  FACE_TEMPLATE_TIGHT,
  faceTemplatePx,
} from '../src/align/template.js';
import type { PointPx } from '../src/types.js';

/** Absolute tolerance for matrix entries and points computed in closed form, in pixels. */
const EXACT_TOLERANCE_PX = 1e-9;

function similarityMatrix(angleRad: number, scale: number, tx: number, ty: number): AffineMatrix {
  const a = scale * Math.cos(angleRad);
  const c = scale * Math.sin(angleRad);
  return [a, -c, tx, c, a, ty];
}

function assertMatrixClose(actual: readonly number[], expected: readonly number[], tolerance: number, label: string): void {
  assert.equal(actual.length, 6, `${label}: matrix length`);
  for (let i = 0; i < 6; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `${label}: entry ${i} is ${actual[i]}, expected ${expected[i]} within ${tolerance}`,
    );
  }
}

function isInvalidArgument(error: unknown): boolean {
  return isFacekitError(error, 'ERR_INVALID_ARGUMENT');
}

/** Weighted residual Σ w·|M·p − q|² of a matrix on point pairs. */
function residual(matrix: readonly number[], src: readonly PointPx[], dst: readonly PointPx[], weights?: readonly number[]): number {
  let sum = 0;
  src.forEach((p, i) => {
    const [x, y] = applyAffine(matrix, p);
    sum += (weights?.[i] ?? 1) * ((x - dst[i][0]) ** 2 + (y - dst[i][1]) ** 2);
  });
  return sum;
}

/**
 * Least-squares similarity by the normal equations of the 4 unknowns (a, c, tx, ty), a
 * different route than the centred closed form under test.
 */
function normalEquationSimilarity(src: readonly PointPx[], dst: readonly PointPx[], weights?: readonly number[]): AffineMatrix {
  // Rows of the design matrix: x' = a·x − c·y + tx and y' = c·x + a·y + ty.
  const ata = Array.from({ length: 4 }, () => [0, 0, 0, 0]);
  const atb = [0, 0, 0, 0];
  src.forEach(([x, y], i) => {
    const w = weights?.[i] ?? 1;
    const rows: [number[], number][] = [
      [[x, -y, 1, 0], dst[i][0]],
      [[y, x, 0, 1], dst[i][1]],
    ];
    for (const [row, target] of rows) {
      for (let r = 0; r < 4; r++) {
        atb[r] += w * row[r] * target;
        for (let col = 0; col < 4; col++) ata[r][col] += w * row[r] * row[col];
      }
    }
  });
  // Gauss-Jordan elimination with partial pivoting.
  const m = ata.map((row, r) => [...row, atb[r]]);
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let k = col; k < 5; k++) m[r][k] -= f * m[col][k];
    }
  }
  const [a, c, tx, ty] = m.map((row, r) => row[4] / row[r]) as [number, number, number, number];
  return [a, -c, tx, c, a, ty];
}

const SRC_POINTS: PointPx[] = [
  [120.5, 210.25],
  [310, 198.75],
  [215, 330],
  [220.125, 420.5],
  [60, 260],
];

describe('estimateSimilarity', () => {
  const cases = [
    { name: 'identity', angle: 0, scale: 1, tx: 0, ty: 0 },
    { name: 'rotation 30 degrees', angle: Math.PI / 6, scale: 1, tx: 0, ty: 0 },
    { name: 'rotation -100 degrees with scale 0.37', angle: (-100 * Math.PI) / 180, scale: 0.37, tx: 12.5, ty: -40 },
    { name: 'rotation 179 degrees with scale 4.2', angle: (179 * Math.PI) / 180, scale: 4.2, tx: -1234.5, ty: 987.25 },
    { name: 'pure translation', angle: 0, scale: 1, tx: 1e3, ty: -2.5e3 },
  ];
  for (const { name, angle, scale, tx, ty } of cases) {
    it(`recovers exact transform: ${name}`, () => {
      const expected = similarityMatrix(angle, scale, tx, ty);
      const dst = SRC_POINTS.map((p) => applyAffine(expected, p));
      assertMatrixClose(estimateSimilarity(SRC_POINTS, dst), expected, EXACT_TOLERANCE_PX, name);
    });
  }

  it('fits two points exactly', () => {
    const src: PointPx[] = [
      [10, 20],
      [50, 25],
    ];
    const dst: PointPx[] = [
      [100, 100],
      [100, 180],
    ];
    const matrix = estimateSimilarity(src, dst);
    src.forEach((p, i) => {
      const [x, y] = applyAffine(matrix, p);
      assert.ok(Math.abs(x - dst[i][0]) <= EXACT_TOLERANCE_PX, `point ${i} x is ${x}`);
      assert.ok(Math.abs(y - dst[i][1]) <= EXACT_TOLERANCE_PX, `point ${i} y is ${y}`);
    });
  });

  it('returns least squares for noisy points', () => {
    const truth = similarityMatrix(0.4, 1.7, 33, -12);
    const noise = [
      [0.8, -1.1],
      [-0.6, 0.3],
      [1.9, 0.4],
      [-0.2, -1.7],
      [0.5, 1.2],
    ];
    const dst = SRC_POINTS.map((p, i): PointPx => {
      const [x, y] = applyAffine(truth, p);
      return [x + noise[i][0], y + noise[i][1]];
    });
    const matrix = estimateSimilarity(SRC_POINTS, dst);

    assertMatrixClose(matrix, normalEquationSimilarity(SRC_POINTS, dst), EXACT_TOLERANCE_PX, 'normal equations');
    const best = residual(matrix, SRC_POINTS, dst);
    for (let i = 0; i < 6; i++) {
      for (const delta of [-1e-3, 1e-3]) {
        const nudged = [...matrix];
        nudged[i] += delta;
        assert.ok(residual(nudged, SRC_POINTS, dst) > best, `nudging entry ${i} by ${delta} lowers the residual`);
      }
    }
  });

  it('applies weights', () => {
    const dst = SRC_POINTS.map(([x, y], i): PointPx => [2 * y + i * 3, -2 * x + (i % 2) * 5]);
    const weights = [1, 2, 0.5, 3, 0];
    const matrix = estimateSimilarity(SRC_POINTS, dst, weights);

    assertMatrixClose(matrix, normalEquationSimilarity(SRC_POINTS, dst, weights), EXACT_TOLERANCE_PX, 'weighted');
    const withoutLast = estimateSimilarity(SRC_POINTS.slice(0, 4), dst.slice(0, 4), weights.slice(0, 4));
    assertMatrixClose(matrix, withoutLast, EXACT_TOLERANCE_PX, 'zero weight equals dropping the point');
  });

  it('never returns a reflection', () => {
    const mirrored = SRC_POINTS.map(([x, y]): PointPx => [-x, y]);
    const [a, b, , c, d] = estimateSimilarity(SRC_POINTS, mirrored);
    assert.ok(Math.abs(a - d) <= EXACT_TOLERANCE_PX, `a = ${a} and d = ${d} differ`);
    assert.ok(Math.abs(b + c) <= EXACT_TOLERANCE_PX, `b = ${b} is not -c = ${-c}`);
    assert.ok(a * d - b * c >= 0, 'determinant is negative');
  });

  const invalidCases: { name: string; call: () => unknown }[] = [
    { name: 'one point', call: () => estimateSimilarity([[0, 0]], [[1, 1]]) },
    { name: 'length mismatch', call: () => estimateSimilarity(SRC_POINTS, SRC_POINTS.slice(1)) },
    { name: 'NaN coordinate', call: () => estimateSimilarity([[0, 0], [1, Number.NaN]], [[0, 0], [1, 1]]) },
    { name: 'infinite coordinate', call: () => estimateSimilarity([[0, 0], [1, 1]], [[0, Infinity], [1, 1]]) },
    { name: 'point of 3 values', call: () => estimateSimilarity([[0, 0], [1, 1, 1] as unknown as PointPx], [[0, 0], [1, 1]]) },
    { name: 'coincident source', call: () => estimateSimilarity([[5, 5], [5, 5], [5, 5]], [[0, 0], [1, 0], [0, 1]]) },
    { name: 'coincident destination', call: () => estimateSimilarity([[0, 0], [1, 0]], [[3, 3], [3, 3]]) },
    { name: 'not an array', call: () => estimateSimilarity('points' as unknown as PointPx[], SRC_POINTS) },
    { name: 'negative weight', call: () => estimateSimilarity(SRC_POINTS, SRC_POINTS, [1, 1, -1, 1, 1]) },
    { name: 'all weights zero', call: () => estimateSimilarity(SRC_POINTS, SRC_POINTS, [0, 0, 0, 0, 0]) },
    { name: 'weights length', call: () => estimateSimilarity(SRC_POINTS, SRC_POINTS, [1, 1]) },
    { name: 'only one weighted point', call: () => estimateSimilarity(SRC_POINTS, SRC_POINTS, [1, 0, 0, 0, 0]) },
  ];
  for (const { name, call } of invalidCases) {
    it(`rejects ${name}`, () => {
      assert.throws(call, isInvalidArgument);
    });
  }
});

describe('affine helpers', () => {
  const matrix: AffineMatrix = [1.5, -0.4, 12, 0.3, 0.8, -7];

  it('applyAffine maps a point', () => {
    assert.deepEqual(applyAffine([2, 0, 1, 0, 3, -1], [5, 7]), [11, 20]);
  });

  it('invertAffine round trips points', () => {
    const inverse = invertAffine(matrix);
    for (const p of SRC_POINTS) {
      const [x, y] = applyAffine(inverse, applyAffine(matrix, p));
      assert.ok(Math.abs(x - p[0]) <= EXACT_TOLERANCE_PX, `x: (${x}, ${y}) != ${p}`);
      assert.ok(Math.abs(y - p[1]) <= EXACT_TOLERANCE_PX, `y: (${x}, ${y}) != ${p}`);
    }
    assertMatrixClose(composeAffine(matrix, inverse), [1, 0, 0, 0, 1, 0], EXACT_TOLERANCE_PX, 'matrix then inverse');
  });

  it('composeAffine applies first then second', () => {
    const second: AffineMatrix = [0, -2, 5, 2, 0, 1];
    const composed = composeAffine(matrix, second);
    for (const p of SRC_POINTS) {
      const [ex, ey] = applyAffine(second, applyAffine(matrix, p));
      const [x, y] = applyAffine(composed, p);
      assert.ok(Math.abs(x - ex) <= EXACT_TOLERANCE_PX, `x: (${x}, ${y}) != (${ex}, ${ey})`);
      assert.ok(Math.abs(y - ey) <= EXACT_TOLERANCE_PX, `y: (${x}, ${y}) != (${ex}, ${ey})`);
    }
  });

  it('rejects singular and malformed matrices', () => {
    assert.throws(() => invertAffine([1, 2, 0, 2, 4, 0]), isInvalidArgument);
    assert.throws(() => invertAffine([0, 0, 1, 0, 0, 1]), isInvalidArgument);
    assert.throws(() => invertAffine([1, 0, 0, 0, 1]), isInvalidArgument);
    assert.throws(() => applyAffine([1, 0, Number.NaN, 0, 1, 0], [0, 0]), isInvalidArgument);
    assert.throws(() => applyAffine([1, 0, 0, 0, 1, 0], [0, Infinity]), isInvalidArgument);
    assert.throws(() => composeAffine([1, 0, 0, 0, 1, 0], 'matrix' as unknown as number[]), isInvalidArgument);
  });
});

describe('face template', () => {
  const at = (index: number): readonly [number, number] => FACE_TEMPLATE_TIGHT[index];

  it('puts the subject right eye on the image left', () => {
    assert.equal(BLAZEFACE_KEYPOINT.rightEye, 0);
    assert.equal(BLAZEFACE_KEYPOINT.leftEye, 1);
    assert.ok(at(BLAZEFACE_KEYPOINT.rightEye)[0] < at(BLAZEFACE_KEYPOINT.leftEye)[0]);
    assert.ok(at(BLAZEFACE_KEYPOINT.rightEarTragion)[0] < at(BLAZEFACE_KEYPOINT.leftEarTragion)[0]);
  });

  it('is level, centred and proportioned', () => {
    const rightEye = at(BLAZEFACE_KEYPOINT.rightEye);
    const leftEye = at(BLAZEFACE_KEYPOINT.leftEye);
    const nose = at(BLAZEFACE_KEYPOINT.noseTip);
    const mouth = at(BLAZEFACE_KEYPOINT.mouthCenter);
    assert.equal(rightEye[1], leftEye[1], 'eyes are level');
    assert.ok(Math.abs((rightEye[0] + leftEye[0]) / 2 - 0.5) < 1e-12, 'eyes are centred');
    assert.equal(nose[0], 0.5);
    assert.equal(mouth[0], 0.5);
    assert.ok(rightEye[1] >= 0.38, `eye line at ${rightEye[1]}`);
    assert.ok(rightEye[1] <= 0.4, `eye line at ${rightEye[1]}`);
    assert.ok(mouth[1] >= 0.7, `mouth at ${mouth[1]}`);
    assert.ok(mouth[1] <= 0.75, `mouth at ${mouth[1]}`);
    assert.ok(nose[1] > rightEye[1], 'nose below the eyes');
    assert.ok(nose[1] < mouth[1], 'nose above the mouth');
    assert.equal(ALIGNMENT_KEYPOINT_COUNT, 4);
  });

  it('scales to pixels with a margin', () => {
    const tight = faceTemplatePx(100, 0);
    tight.forEach(([x, y], i) => {
      assert.ok(Math.abs(x - 100 * at(i)[0]) < 1e-12, `point ${i} at (${x}, ${y})`);
      assert.ok(Math.abs(y - 100 * at(i)[1]) < 1e-12, `point ${i} at (${x}, ${y})`);
    });

    const size = 224;
    const withMargin = faceTemplatePx(size, 0.25);
    const tightSide = size / 1.5;
    withMargin.forEach(([x, y], i) => {
      assert.ok(Math.abs(x - (0.25 * tightSide + at(i)[0] * tightSide)) < 1e-9, `point ${i} x is ${x}`);
      assert.ok(Math.abs(y - (0.25 * tightSide + at(i)[1] * tightSide)) < 1e-9, `point ${i} y is ${y}`);
    });
    assert.deepEqual(faceTemplatePx(size), faceTemplatePx(size, DEFAULT_ALIGN_MARGIN));
  });

  it('rejects bad size and margin', () => {
    assert.throws(() => faceTemplatePx(0), isInvalidArgument);
    assert.throws(() => faceTemplatePx(Number.NaN), isInvalidArgument);
    assert.throws(() => faceTemplatePx(112, -0.1), isInvalidArgument);
    assert.throws(() => faceTemplatePx(112, Infinity), isInvalidArgument);
  });
});
