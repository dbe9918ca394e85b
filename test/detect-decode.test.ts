import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { letterboxMatrix } from '../src/align/warp.js';
import { isFacekitError } from '../src/errors.js';
import { BLAZEFACE_BACK_ANCHORS, BLAZEFACE_FULL_RANGE_ANCHORS, generateAnchors } from '../src/detect/anchors.js';
import {
  BLAZEFACE_BACK_DECODE,
  BLAZEFACE_FULL_RANGE_DECODE,
  candidateToImage,
  concatOutputs,
  decodeCandidates,
  sigmoid,
  splitCombinedOutput,
  type RawDetectorOutput,
} from '../src/detect/decode.js';

/** Largest allowed error of a decoded coordinate, as a fraction of the input (float32 rounding). */
const REL_TOLERANCE = 1e-6;
/** Largest allowed error of a coordinate in image pixels. */
const PX_TOLERANCE = 1e-3;

const backAnchors = generateAnchors(BLAZEFACE_BACK_ANCHORS);

/** Raw outputs for the back model with every logit at `background` (a confident "no face"). */
function emptyBackOutput(background = -10): RawDetectorOutput {
  return { logits: new Float32Array(896).fill(background), regressors: new Float32Array(896 * 16) };
}

function assertClose(actual: number, expected: number, tolerance: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${label}: ${actual} differs from ${expected} by more than ${tolerance}`);
}

describe('sigmoid', () => {
  test('maps 0 to 0.5', () => {
    assert.equal(sigmoid(0), 0.5);
  });

  test('clamps the logit', () => {
    assert.equal(sigmoid(1000, 100), sigmoid(100));
    assert.equal(sigmoid(-1000, 100), sigmoid(-100));
    assert.ok(sigmoid(-1000, 100) > 0, 'a clamped logit keeps a non-zero probability');
  });
});

describe('decodeCandidates', () => {
  test('one anchor with known offsets gives a known box', () => {
    const output = emptyBackOutput();
    // Anchor 34 is cell (row 1, column 1) of the stride-16 map: centre (24, 24) px of 256.
    const anchor = 34;
    output.logits[anchor] = 2;
    const values = [10, -6, 40, 50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    output.regressors.set(values, anchor * 16);

    const candidates = decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 0.5);
    assert.equal(candidates.length, 1);
    const [candidate] = candidates;
    assertClose(candidate.score, 1 / (1 + Math.exp(-2)), 1e-12, 'score');

    // Centre (24 + 10, 24 - 6) = (34, 18) px, size 40 × 50 px.
    const { boxRel } = candidate;
    assertClose(boxRel.x, (34 - 20) / 256, REL_TOLERANCE, 'box x');
    assertClose(boxRel.y, (18 - 25) / 256, REL_TOLERANCE, 'box y');
    assertClose(boxRel.width, 40 / 256, REL_TOLERANCE, 'box width');
    assertClose(boxRel.height, 50 / 256, REL_TOLERANCE, 'box height');

    // Keypoints are offsets from the anchor centre, x before y.
    assert.equal(candidate.keypointsRel.length, 6);
    for (let k = 0; k < 6; k++) {
      assertClose(candidate.keypointsRel[k][0], (24 + values[4 + 2 * k]) / 256, REL_TOLERANCE, `keypoint ${k} x`);
      assertClose(candidate.keypointsRel[k][1], (24 + values[5 + 2 * k]) / 256, REL_TOLERANCE, `keypoint ${k} y`);
    }
  });

  test('anchors of the second map use its centres', () => {
    const output = emptyBackOutput();
    // Anchor 512 is the first of cell (0, 0) of the stride-32 map: centre (16, 16) px.
    output.logits[512] = 5;
    output.regressors.set([0, 0, 32, 32], 512 * 16);
    const [candidate] = decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 0.5);
    assertClose(candidate.boxRel.x, 0, REL_TOLERANCE, 'box x');
    assertClose(candidate.boxRel.y, 0, REL_TOLERANCE, 'box y');
  });

  test('keeps scores at the threshold and drops lower ones', () => {
    const output = emptyBackOutput();
    output.logits[0] = 0; // score exactly 0.5
    output.logits[1] = -0.01;
    output.regressors.set([0, 0, 10, 10], 0);
    output.regressors.set([0, 0, 10, 10], 16);
    const candidates = decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 0.5);
    assert.equal(candidates.length, 1);
    assert.equal(candidates[0].score, 0.5);
  });

  test('skips boxes with negative size', () => {
    const output = emptyBackOutput();
    output.logits[3] = 4;
    output.regressors.set([0, 0, -5, 10], 3 * 16);
    assert.deepEqual(decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 0.5), []);
  });

  test('clamps huge logits before the sigmoid', () => {
    const output = emptyBackOutput(-1e6);
    const candidates = decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 1e-50);
    // sigmoid(-100) is about 3.7e-44, above the threshold; sigmoid(-1e6) would be 0.
    assert.equal(candidates.length, 896);
  });

  test('full-range decode divides by 192', () => {
    const anchors = generateAnchors(BLAZEFACE_FULL_RANGE_ANCHORS);
    const output: RawDetectorOutput = { logits: new Float32Array(2304).fill(-10), regressors: new Float32Array(2304 * 16) };
    output.logits[0] = 3;
    output.regressors.set([4, 4, 12, 12], 0);
    const [candidate] = decodeCandidates(output, anchors, BLAZEFACE_FULL_RANGE_DECODE, 0.5);
    // Anchor 0 centre (2, 2) px; box centre (6, 6), size 12.
    assertClose(candidate.boxRel.x, 0, REL_TOLERANCE, 'box x');
    assertClose(candidate.boxRel.width, 12 / 192, REL_TOLERANCE, 'box width');
  });

  test('rejects outputs of the wrong length', () => {
    const output = emptyBackOutput();
    assert.throws(
      () => decodeCandidates({ ...output, logits: new Float32Array(895) }, backAnchors, BLAZEFACE_BACK_DECODE, 0.5),
      (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes('output.logits'),
    );
    assert.throws(
      () => decodeCandidates({ ...output, regressors: new Float32Array(896 * 17) }, backAnchors, BLAZEFACE_BACK_DECODE, 0.5),
      (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes('output.regressors'),
    );
    assert.throws(
      () => decodeCandidates(output, backAnchors, BLAZEFACE_BACK_DECODE, 1.5),
      (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes('scoreThreshold'),
    );
  });
});

describe('output layout helpers', () => {
  test('concatOutputs keeps part order', () => {
    const joined = concatOutputs([
      { logits: Float32Array.of(1, 2), regressors: Float32Array.of(10, 20) },
      { logits: Float32Array.of(3), regressors: Float32Array.of(30) },
    ]);
    assert.deepEqual([...joined.logits], [1, 2, 3]);
    assert.deepEqual([...joined.regressors], [10, 20, 30]);
  });

  test('splitCombinedOutput reads one image of a batch', () => {
    // Two images of 2 anchors, each anchor [logit, r0, r1].
    const combined = Float32Array.of(1, 11, 12, 2, 21, 22, 3, 31, 32, 4, 41, 42);
    const second = splitCombinedOutput(combined, 2, 2, 6);
    assert.deepEqual([...second.logits], [3, 4]);
    assert.deepEqual([...second.regressors], [31, 32, 41, 42]);
    assert.throws(() => splitCombinedOutput(combined, 2, 2, 7), (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT'));
  });
});

describe('candidateToImage', () => {
  test('undoes a letterbox of a wide region', () => {
    // A 512×256 region at (100, 50) letterboxed into 256: scale 0.5, 64 px of padding above and below.
    const { matrixDstToSrc } = letterboxMatrix({ x: 100, y: 50, width: 512, height: 256 }, 256);
    const candidate = {
      boxRel: { x: 0.25, y: 0.5, width: 0.125, height: 0.25 },
      keypointsRel: [[0.5, 0.25] as [number, number]],
      score: 0.9,
    };
    const face = candidateToImage(candidate, matrixDstToSrc, 256, 256);
    // Input (64, 128) → image (100 + 64 / 0.5, 50 + (128 - 64) / 0.5) = (228, 178).
    assertClose(face.boxPx.x, 228, PX_TOLERANCE, 'box x');
    assertClose(face.boxPx.y, 178, PX_TOLERANCE, 'box y');
    assertClose(face.boxPx.width, 64, PX_TOLERANCE, 'box width');
    assertClose(face.boxPx.height, 128, PX_TOLERANCE, 'box height');
    // Input (128, 64) → image (356, 50): the top edge of the padding is the region's top edge.
    assertClose(face.keypointsPx[0][0], 356, PX_TOLERANCE, 'keypoint x');
    assertClose(face.keypointsPx[0][1], 50, PX_TOLERANCE, 'keypoint y');
    assert.equal(face.score, 0.9);
  });
});
