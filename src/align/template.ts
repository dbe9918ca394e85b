/**
 * Canonical positions of the BlazeFace keypoints of an upright, frontal face in an aligned crop.
 *
 * Keypoint order is the one the BlazeFace (MediaPipe face detection) model emits:
 * tfjs-models `face-detection/src/constants.ts` names them `rightEye, leftEye, noseTip,
 * mouthCenter, rightEarTragion, leftEarTragion`, and MediaPipe's
 * `mediapipe/python/solutions/face_detection.py` (`FaceKeyPoint`) uses the same order.
 * "Right" is the subject's right, so index 0 is on the image's left: in tfjs-models
 * `face-detection/src/mediapipe/mediapipe_test.ts` the expected keypoint 0 of the
 * reference portrait is at x = 363 px and keypoint 1 at x = 460 px.
 * NOTE: @vladmandic/human 3.3.6 labels the same indices the other way round
 * (`src/face/facemeshcoords.ts`, `blazeFaceLandmarks`: `leftEye: 0, rightEye: 1`), and its
 * `blazeface.ts` returns the 6 points in model order without names.
 */

import { invalidArgument } from '../errors.js';
import type { PointPx } from '../types.js';

/** Index of each keypoint in a BlazeFace detection's list of 6. */
export const BLAZEFACE_KEYPOINT = {
  rightEye: 0,
  leftEye: 1,
  noseTip: 2,
  mouthCenter: 3,
  rightEarTragion: 4,
  leftEarTragion: 5,
} as const;

/** Number of keypoints a BlazeFace detection has. */
export const BLAZEFACE_KEYPOINT_COUNT = 6;

/**
 * Number of leading keypoints used for alignment: eyes, nose tip and mouth centre.
 * The ear points are left out because they move along the face outline, or are hidden,
 * as soon as the head turns.
 */
export const ALIGNMENT_KEYPOINT_COUNT = 4;

/**
 * Keypoint positions of an upright frontal face in a tight crop, as fractions of the crop
 * side (x right, y down), in BlazeFace order.
 *
 * The tight crop spans roughly hairline to chin. The eye line sits at 0.39 and the mouth at
 * 0.72 of the height, about where the classical facial thirds put them. The other distances
 * come from the reference detections in tfjs-models `mediapipe_test.ts` (short and full
 * range models): there the eye-to-mouth height is 1.03 and 1.05 times the distance between
 * the eyes, so the eyes are 0.32 apart. The nose tip sits at 0.57 and 0.54 of the way from
 * the eyes to the mouth there, and the template uses 0.555, which gives y = 0.57. The ears
 * sit 1.06 eye distances either side of the centre and 0.21 eye distances below the eye
 * line. Those come from one portrait whose ears sit asymmetrically, which suggests a turned
 * head, and alignment does not use them.
 */
export const FACE_TEMPLATE_TIGHT: readonly (readonly [number, number])[] = [
  [0.34, 0.39],
  [0.66, 0.39],
  [0.5, 0.57],
  [0.5, 0.72],
  [0.16, 0.46],
  [0.84, 0.46],
];

/**
 * Default border added on each side of the tight crop, as a fraction of the tight crop's
 * side. With 0.2 the aligned crop is 1.4 times the tight crop (4.4 eye distances wide), so
 * it contains the whole head outline like a detector box enlarged for a recognition backbone.
 * For comparison, @vladmandic/human enlarges BlazeFace boxes by the same factor 1.4
 * (`src/face/blazeface.ts`, `config.face.detector.scale`), but BlazeFace's box is smaller than
 * the tight crop here (2.4 eye distances wide in the tfjs-models reference), so its enlarged
 * box is about 3.4 eye distances wide.
 */
export const DEFAULT_ALIGN_MARGIN = 0.2;

/**
 * Computes the template keypoints in pixels of a `size`×`size` aligned crop, in BlazeFace
 * order. Coordinates are continuous: the crop spans 0 to `size` and pixel `i` has its
 * centre at `i + 0.5`.
 *
 * @param size Side of the aligned crop in pixels, > 0.
 * @param margin Border on each side as a fraction of the tight crop's side, >= 0;
 *   `DEFAULT_ALIGN_MARGIN` (0.2) when omitted.
 * @throws FacekitError `ERR_INVALID_ARGUMENT` for a non-positive size or negative margin.
 */
export function faceTemplatePx(size: number, margin: number = DEFAULT_ALIGN_MARGIN): PointPx[] {
  if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) {
    throw invalidArgument('size', 'a finite number of pixels > 0', size);
  }
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0) {
    throw invalidArgument('margin', 'a finite fraction >= 0', margin);
  }
  const tightSide = size / (1 + 2 * margin);
  const border = margin * tightSide;
  return FACE_TEMPLATE_TIGHT.map(([x, y]): PointPx => [border + x * tightSide, border + y * tightSide]);
}
