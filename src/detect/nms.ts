/**
 * Non-maximum suppression over detected faces, in the two forms of MediaPipe's
 * NonMaxSuppressionCalculator (mediapipe/calculators/util/non_max_suppression_calculator.cc).
 * Plain NMS keeps the best box and drops its overlaps. Weighted NMS replaces the best box by the
 * score-weighted mean of itself and its overlaps.
 *
 * Weighted is the default because BlazeFace fires on several neighbouring anchors for one face,
 * and across tiles on several passes, each with a slightly different box. The weighted mean uses
 * all of those predictions, while plain NMS keeps whichever one scored highest. Plain NMS is kept
 * for callers that want unmodified model boxes.
 */

import { invalidArgument } from '../errors.js';
import type { BoxPx, PointPx } from '../types.js';
import type { DetectedFace } from './decode.js';

export type NmsMethod = 'weighted' | 'plain';

/** Intersection over union of two boxes, 0 when either has no area. */
export function intersectionOverUnion(a: BoxPx, b: BoxPx): number {
  const intersection = intersectionArea(a, b);
  const union = a.width * a.height + b.width * b.height - intersection;
  return union > 0 ? intersection / union : 0;
}

/** Area of the overlap of two boxes, in square pixels. */
export function intersectionArea(a: BoxPx, b: BoxPx): number {
  const width = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const height = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return width > 0 && height > 0 ? width * height : 0;
}

/**
 * Keeps faces in decreasing score order, dropping each face whose IoU with an already kept face
 * is above `iouThreshold`. Returns at most `maxFaces` faces, best first. The input is not changed.
 */
export function nonMaxSuppression(faces: readonly DetectedFace[], iouThreshold: number, maxFaces = Infinity): DetectedFace[] {
  validateNmsArguments(iouThreshold, maxFaces);
  const kept: DetectedFace[] = [];
  for (const face of sortByScore(faces)) {
    if (kept.length >= maxFaces) break;
    if (kept.every((other) => intersectionOverUnion(other.boxPx, face.boxPx) <= iouThreshold)) kept.push(face);
  }
  return kept;
}

/**
 * Groups each remaining best face with every remaining face whose IoU with it is above
 * `iouThreshold`, and replaces the group by one face. Its box corners and keypoints are the
 * score-weighted means of the group's, and its score is the best face's score. Returns at most
 * `maxFaces` faces, best first. The input is not changed.
 */
export function weightedNonMaxSuppression(
  faces: readonly DetectedFace[],
  iouThreshold: number,
  maxFaces = Infinity,
): DetectedFace[] {
  validateNmsArguments(iouThreshold, maxFaces);
  let remaining = sortByScore(faces);
  const merged: DetectedFace[] = [];
  while (remaining.length > 0 && merged.length < maxFaces) {
    const best = remaining[0];
    const group: DetectedFace[] = [];
    const rest: DetectedFace[] = [];
    for (const face of remaining) {
      // `best` itself has IoU 1 and always joins its group.
      if (face === best || intersectionOverUnion(face.boxPx, best.boxPx) > iouThreshold) group.push(face);
      else rest.push(face);
    }
    merged.push(averageByScore(group, best.score));
    remaining = rest;
  }
  return merged;
}

/** Runs the chosen suppression method. */
export function suppressOverlaps(
  faces: readonly DetectedFace[],
  method: NmsMethod,
  iouThreshold: number,
  maxFaces = Infinity,
): DetectedFace[] {
  return method === 'weighted' ? weightedNonMaxSuppression(faces, iouThreshold, maxFaces) : nonMaxSuppression(faces, iouThreshold, maxFaces);
}

function averageByScore(group: readonly DetectedFace[], score: number): DetectedFace {
  // Detector scores are positive, but a caller may pass zero scores. Equal weights are used then.
  const totalScore = group.reduce((sum, face) => sum + face.score, 0);
  const weightOf = (face: DetectedFace) => (totalScore > 0 ? face.score / totalScore : 1 / group.length);

  let xMin = 0;
  let yMin = 0;
  let xMax = 0;
  let yMax = 0;
  const keypointCount = Math.min(...group.map((face) => face.keypointsPx.length));
  const keypointsPx: PointPx[] = Array.from({ length: keypointCount }, () => [0, 0]);
  for (const face of group) {
    const weight = weightOf(face);
    xMin += face.boxPx.x * weight;
    yMin += face.boxPx.y * weight;
    xMax += (face.boxPx.x + face.boxPx.width) * weight;
    yMax += (face.boxPx.y + face.boxPx.height) * weight;
    for (let k = 0; k < keypointCount; k++) {
      keypointsPx[k][0] += face.keypointsPx[k][0] * weight;
      keypointsPx[k][1] += face.keypointsPx[k][1] * weight;
    }
  }
  return { boxPx: { x: xMin, y: yMin, width: xMax - xMin, height: yMax - yMin }, keypointsPx, score };
}

function sortByScore(faces: readonly DetectedFace[]): DetectedFace[] {
  return [...faces].sort((a, b) => b.score - a.score);
}

function validateNmsArguments(iouThreshold: number, maxFaces: number): void {
  if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw invalidArgument('iouThreshold', 'a number from 0 to 1', iouThreshold);
  }
  if (maxFaces !== Infinity && (!Number.isInteger(maxFaces) || maxFaces < 1)) {
    throw invalidArgument('maxFaces', 'a positive integer or Infinity', maxFaces);
  }
}
