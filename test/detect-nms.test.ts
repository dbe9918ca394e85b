import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFacekitError } from '../src/errors.js';
import type { DetectedFace } from '../src/detect/decode.js';
import {
  intersectionArea,
  intersectionOverUnion,
  nonMaxSuppression,
  suppressOverlaps,
  weightedNonMaxSuppression,
} from '../src/detect/nms.js';

/** Largest allowed error of a blended coordinate, in pixels (float64 rounding). */
const PX_TOLERANCE = 1e-9;

/** Builds a square face with all six keypoints at its top-left corner, so blending is easy to check. */
function face(x: number, y: number, size: number, score: number): DetectedFace {
  return {
    boxPx: { x, y, width: size, height: size },
    keypointsPx: Array.from({ length: 6 }, () => [x, y] as [number, number]),
    score,
  };
}

function assertClose(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= PX_TOLERANCE, `${label}: ${actual} != ${expected}`);
}

// Two overlapping boxes of one face (IoU 0.6) and one separate face.
const strong = face(0, 0, 100, 0.9);
const shifted = face(25, 0, 100, 0.6);
const other = face(300, 0, 100, 0.8);

describe('intersectionOverUnion', () => {
  test('known overlaps', () => {
    assert.equal(intersectionOverUnion(strong.boxPx, strong.boxPx), 1);
    assert.equal(intersectionOverUnion(strong.boxPx, shifted.boxPx), 7500 / 12500);
    assert.equal(intersectionOverUnion(strong.boxPx, other.boxPx), 0);
    assert.equal(intersectionArea(strong.boxPx, shifted.boxPx), 7500);
  });

  test('touching boxes do not overlap', () => {
    assert.equal(intersectionArea({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 10, height: 10 }), 0);
  });

  test('empty boxes give 0', () => {
    const empty = { x: 5, y: 5, width: 0, height: 0 };
    assert.equal(intersectionOverUnion(empty, empty), 0);
  });
});

describe('nonMaxSuppression', () => {
  test('keeps the best box unchanged', () => {
    const kept = nonMaxSuppression([shifted, other, strong], 0.3);
    assert.deepEqual(kept, [strong, other]);
  });

  test('keeps overlaps at or below the threshold', () => {
    assert.equal(nonMaxSuppression([strong, shifted], 0.6).length, 2);
    assert.equal(nonMaxSuppression([strong, shifted], 0.59).length, 1);
  });

  test('stops at maxFaces', () => {
    assert.deepEqual(nonMaxSuppression([strong, shifted, other], 0.3, 1), [strong]);
  });

  test('does not change its input', () => {
    const input = [shifted, strong];
    nonMaxSuppression(input, 0.3);
    assert.deepEqual(input, [shifted, strong]);
  });
});

describe('weightedNonMaxSuppression', () => {
  test('blends a group by score', () => {
    const merged = weightedNonMaxSuppression([shifted, other, strong], 0.3);
    assert.equal(merged.length, 2);
    const [blended, separate] = merged;

    // x corners: (0 * 0.9 + 25 * 0.6) / 1.5 = 10 and (100 * 0.9 + 125 * 0.6) / 1.5 = 110.
    assertClose(blended.boxPx.x, 10, 'box x');
    assertClose(blended.boxPx.width, 100, 'box width');
    assertClose(blended.boxPx.y, 0, 'box y');
    for (const [k, point] of blended.keypointsPx.entries()) assertClose(point[0], 10, `keypoint ${k} x`);
    // The group keeps its best score, as MediaPipe does.
    assert.equal(blended.score, 0.9);

    assert.deepEqual(separate.boxPx, other.boxPx);
    assert.equal(separate.score, 0.8);
  });

  test('differs from plain NMS only in blended groups', () => {
    const plain = nonMaxSuppression([strong, shifted, other], 0.3);
    const weighted = weightedNonMaxSuppression([strong, shifted, other], 0.3);
    assert.notDeepEqual(weighted[0].boxPx, plain[0].boxPx);
    assert.deepEqual(weighted[1].boxPx, plain[1].boxPx);
  });

  test('a group is formed around the best remaining face', () => {
    // b overlaps both a and c, but a and c do not overlap: b joins a's group and c stays alone.
    const a = face(0, 0, 100, 0.9);
    const b = face(40, 0, 100, 0.7);
    const c = face(80, 0, 100, 0.8);
    const merged = weightedNonMaxSuppression([a, b, c], 0.3);
    assert.equal(merged.length, 2);
    assertClose(merged[0].boxPx.x, (0 * 0.9 + 40 * 0.7) / 1.6, 'first group x');
    assert.deepEqual(merged[1].boxPx, c.boxPx);
  });

  test('zero scores get equal weights', () => {
    const [merged] = weightedNonMaxSuppression([face(0, 0, 100, 0), face(20, 0, 100, 0)], 0.3);
    assertClose(merged.boxPx.x, 10, 'box x');
  });

  test('stops at maxFaces', () => {
    assert.equal(weightedNonMaxSuppression([strong, shifted, other], 0.3, 1).length, 1);
  });

  test('returns an empty array for no faces', () => {
    assert.deepEqual(weightedNonMaxSuppression([], 0.3), []);
  });
});

describe('suppressOverlaps', () => {
  test('selects the method', () => {
    assert.deepEqual(suppressOverlaps([strong, shifted], 'plain', 0.3), [strong]);
    assertClose(suppressOverlaps([strong, shifted], 'weighted', 0.3)[0].boxPx.x, 10, 'weighted box x');
  });

  test('rejects invalid thresholds and limits', () => {
    const cases: Array<[string, () => unknown]> = [
      ['iouThreshold', () => nonMaxSuppression([strong], 1.5)],
      ['iouThreshold', () => weightedNonMaxSuppression([strong], Number.NaN)],
      ['maxFaces', () => nonMaxSuppression([strong], 0.3, 0)],
      ['maxFaces', () => weightedNonMaxSuppression([strong], 0.3, 2.5)],
    ];
    for (const [name, call] of cases) {
      assert.throws(call, (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name), name);
    }
  });
});
