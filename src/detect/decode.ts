/**
 * Decoding of raw BlazeFace outputs into scored candidate boxes, following MediaPipe's
 * TensorsToDetectionsCalculator (as ported in tfjs-models `shared/calculators/tensors_to_detections.ts`).
 *
 * Per anchor the model emits one score logit and 16 regressors in the order
 * `[dx, dy, w, h, kp0x, kp0y, ..., kp5x, kp5y]` (MediaPipe `reverse_output_order: true`, x before y).
 * All 16 are in pixels of the detector input. Box centre and keypoints are offsets from the anchor
 * centre, and width and height are absolute. MediaPipe divides them by `x_scale`...`h_scale` (192
 * for the full-range model in tfjs-models) and multiplies by the anchor size, which is 1 for
 * fixed-size anchors. @vladmandic/human 3.3.6 `src/face/blazeface.ts` reads the back model's
 * regressors as pixels of its 256 input in the same way.
 */

import { applyAffine } from '../align/similarity.js';
import { invalidArgument } from '../errors.js';
import type { BoxPx, PointPx } from '../types.js';
import type { Anchors } from './anchors.js';

/** A box as fractions of the detector input's width and height: top-left corner and size. */
export interface BoxRel {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A point as fractions of the detector input's width and height, `[x, y]`. */
export type PointRel = [number, number];

/** One anchor's decoded prediction, in the detector input's relative coordinates. */
export interface Candidate {
  boxRel: BoxRel;
  keypointsRel: PointRel[];
  /** Face probability (sigmoid of the clamped logit), 0..1. */
  score: number;
}

/** A detected face in pixels of the original image. */
export interface DetectedFace {
  boxPx: BoxPx;
  /**
   * The six BlazeFace keypoints in MediaPipe order: right eye, left eye, nose tip, mouth centre,
   * right ear tragion, left ear tragion ("right" is the subject's right, on the image's left).
   */
  keypointsPx: PointPx[];
  /** Face probability, 0..1. */
  score: number;
}

/** Raw model outputs of one image, with anchors along the first axis. */
export interface RawDetectorOutput {
  /** One score logit per anchor. */
  logits: Float32Array;
  /** `regressorsPerAnchor` values per anchor, anchor-major. */
  regressors: Float32Array;
}

/** How to read the regressors of one detector model. */
export interface DecodeConfig {
  /** Detector input width in pixels, the divisor that turns x regressors into fractions (MediaPipe `x_scale`, `w_scale`). */
  readonly inputWidth: number;
  /** Detector input height in pixels, the divisor that turns y regressors into fractions (MediaPipe `y_scale`, `h_scale`). */
  readonly inputHeight: number;
  /** Keypoints per anchor, each an (x, y) pair after the four box values. */
  readonly keypointCount: number;
  /** Logits are clamped to ±this before the sigmoid (MediaPipe `score_clipping_thresh`). */
  readonly logitClip: number;
}

/**
 * Decode settings shared by both BlazeFace models. Source: `SHORT_RANGE_` and
 * `FULL_RANGE_TENSORS_TO_DETECTION_CONFIG` in tfjs-models `face-detection/src/tfjs/constants.ts`
 * (num_coords 16, keypoint_coord_offset 4, num_keypoints 6, score_clipping_thresh 100).
 */
const BLAZEFACE_KEYPOINT_COUNT = 6;
const BLAZEFACE_LOGIT_CLIP = 100;

/** Decode settings of the BlazeFace back model (`blazeface`, 256-px input). */
export const BLAZEFACE_BACK_DECODE: DecodeConfig = Object.freeze({
  inputWidth: 256,
  inputHeight: 256,
  keypointCount: BLAZEFACE_KEYPOINT_COUNT,
  logitClip: BLAZEFACE_LOGIT_CLIP,
});

/** Decode settings of the BlazeFace full-range model (`facemesh-detection-full`, 192-px input). */
export const BLAZEFACE_FULL_RANGE_DECODE: DecodeConfig = Object.freeze({
  inputWidth: 192,
  inputHeight: 192,
  keypointCount: BLAZEFACE_KEYPOINT_COUNT,
  logitClip: BLAZEFACE_LOGIT_CLIP,
});

/** Converts a logit to a probability after clamping it to ±`clip`, as MediaPipe does. */
export function sigmoid(logit: number, clip = Infinity): number {
  const clamped = Math.min(clip, Math.max(-clip, logit));
  return 1 / (1 + Math.exp(-clamped));
}

/**
 * Decodes every anchor whose score reaches `scoreThreshold` into a candidate. Anchors with a
 * negative predicted width or height are skipped, as MediaPipe skips them. Candidates keep the
 * anchor order; no suppression is applied here.
 */
export function decodeCandidates(
  output: RawDetectorOutput,
  anchors: Anchors,
  config: DecodeConfig,
  scoreThreshold: number,
): Candidate[] {
  const regressorsPerAnchor = 4 + 2 * config.keypointCount;
  if (output.logits.length !== anchors.count) {
    throw invalidArgument('output.logits', `${anchors.count} values, one per anchor`, output.logits.length);
  }
  if (output.regressors.length !== anchors.count * regressorsPerAnchor) {
    throw invalidArgument(
      'output.regressors',
      `${anchors.count * regressorsPerAnchor} values (${regressorsPerAnchor} per anchor)`,
      output.regressors.length,
    );
  }
  if (typeof scoreThreshold !== 'number' || !(scoreThreshold >= 0 && scoreThreshold <= 1)) {
    throw invalidArgument('scoreThreshold', 'a number from 0 to 1', scoreThreshold);
  }

  const candidates: Candidate[] = [];
  const { regressors } = output;
  for (let i = 0; i < anchors.count; i++) {
    const score = sigmoid(output.logits[i], config.logitClip);
    if (score < scoreThreshold) continue;

    const base = i * regressorsPerAnchor;
    const anchorX = anchors.centersRel[2 * i];
    const anchorY = anchors.centersRel[2 * i + 1];
    const width = regressors[base + 2] / config.inputWidth;
    const height = regressors[base + 3] / config.inputHeight;
    if (width < 0 || height < 0) continue;

    const centerX = anchorX + regressors[base] / config.inputWidth;
    const centerY = anchorY + regressors[base + 1] / config.inputHeight;
    const keypointsRel: PointRel[] = [];
    for (let k = 0; k < config.keypointCount; k++) {
      keypointsRel.push([
        anchorX + regressors[base + 4 + 2 * k] / config.inputWidth,
        anchorY + regressors[base + 5 + 2 * k] / config.inputHeight,
      ]);
    }
    candidates.push({
      boxRel: { x: centerX - width / 2, y: centerY - height / 2, width, height },
      keypointsRel,
      score,
    });
  }
  return candidates;
}

/**
 * Maps a candidate to image pixels. `inputToImage` is the affine matrix from detector-input pixels
 * to image pixels, such as `letterboxMatrix(...).matrixDstToSrc` from `src/align/warp.ts`. The box
 * is the bounding box of the mapped corners, which is exact for the letterbox's scale and shift.
 */
export function candidateToImage(
  candidate: Candidate,
  inputToImage: readonly number[],
  inputWidth: number,
  inputHeight: number,
): DetectedFace {
  const toImage = ([xRel, yRel]: readonly [number, number]): PointPx => applyAffine(inputToImage, [xRel * inputWidth, yRel * inputHeight]);
  const { x, y, width, height } = candidate.boxRel;
  const corners = [toImage([x, y]), toImage([x + width, y]), toImage([x, y + height]), toImage([x + width, y + height])];
  const xs = corners.map((corner) => corner[0]);
  const ys = corners.map((corner) => corner[1]);
  const left = Math.min(...xs);
  const top = Math.min(...ys);
  return {
    boxPx: { x: left, y: top, width: Math.max(...xs) - left, height: Math.max(...ys) - top },
    keypointsPx: candidate.keypointsRel.map(toImage),
    score: candidate.score,
  };
}

/**
 * Joins outputs that the model splits by feature map (the back model emits 512 anchors of the
 * stride-16 map and 384 of the stride-32 map separately) into one output in anchor order.
 * `parts` must be in anchor order.
 */
export function concatOutputs(parts: readonly RawDetectorOutput[]): RawDetectorOutput {
  return {
    logits: concatFloat32(parts.map((part) => part.logits)),
    regressors: concatFloat32(parts.map((part) => part.regressors)),
  };
}

/**
 * Splits a combined `[anchors, 1 + regressorsPerAnchor]` block, logit first, as the full-range
 * model's `Identity:0` stores it, starting at `offset` (to address one image of a batch).
 */
export function splitCombinedOutput(
  combined: Float32Array,
  anchorCount: number,
  regressorsPerAnchor: number,
  offset = 0,
): RawDetectorOutput {
  const valuesPerAnchor = 1 + regressorsPerAnchor;
  if (offset + anchorCount * valuesPerAnchor > combined.length) {
    throw invalidArgument('combined', `at least ${offset + anchorCount * valuesPerAnchor} values`, combined.length);
  }
  const logits = new Float32Array(anchorCount);
  const regressors = new Float32Array(anchorCount * regressorsPerAnchor);
  for (let i = 0; i < anchorCount; i++) {
    const base = offset + i * valuesPerAnchor;
    logits[i] = combined[base];
    regressors.set(combined.subarray(base + 1, base + valuesPerAnchor), i * regressorsPerAnchor);
  }
  return { logits, regressors };
}

function concatFloat32(arrays: readonly Float32Array[]): Float32Array {
  const total = arrays.reduce((sum, array) => sum + array.length, 0);
  const result = new Float32Array(total);
  let offset = 0;
  for (const array of arrays) {
    result.set(array, offset);
    offset += array.length;
  }
  return result;
}
