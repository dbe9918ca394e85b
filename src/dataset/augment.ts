/**
 * Seeded data augmentation of aligned faces: a geometric jitter (rotation, shift, scale,
 * horizontal flip) resampled from the original photo, then photometric changes
 * (brightness, contrast, slight blur) on the crop.
 *
 * The classic Keras recipe rotated by up to 45° and shifted by 30% on unaligned crops.
 * facekit's crops are already aligned by the eyes, nose and mouth, so smaller ranges
 * imitate what alignment leaves over (keypoint noise, head pose) without teaching the
 * head faces that the pipeline never produces.
 */
import { composeAffine, invertAffine, type AffineMatrix } from '../align/similarity.js';
import { warpAffine } from '../align/warp.js';
import { invalidArgument } from '../errors.js';
import { type RandomSource, createRandom } from '../train/random.js';
import type { RgbImage } from '../types.js';

export interface AugmentRanges {
  /** Largest rotation either way, degrees. */
  rotationDeg: number;
  /** Largest shift either way, as a fraction of the crop side. */
  shift: number;
  /** Largest relative zoom either way (0.1 → 0.9× to 1.1×). */
  scale: number;
  /** Probability of a horizontal flip. */
  flipProbability: number;
  /** Largest brightness change either way, in 8-bit levels. */
  brightness: number;
  /** Largest relative contrast change either way (0.2 → 0.8× to 1.2×). */
  contrast: number;
  /** Probability of a 3×3 box blur. */
  blurProbability: number;
}

export const AUGMENT_DEFAULTS: Readonly<AugmentRanges> = Object.freeze({
  rotationDeg: 12,
  shift: 0.06,
  scale: 0.1,
  flipProbability: 0.5,
  brightness: 32,
  contrast: 0.25,
  blurProbability: 0.3,
});

export interface AugmentParams {
  rotationDeg: number;
  shiftX: number;
  shiftY: number;
  zoom: number;
  flip: boolean;
  brightness: number;
  contrast: number;
  blur: boolean;
}

/** Draws one set of augmentation parameters. */
export function drawAugmentation(random: RandomSource, ranges: AugmentRanges = AUGMENT_DEFAULTS): AugmentParams {
  const symmetric = (limit: number): number => (random.next() * 2 - 1) * limit;
  return {
    rotationDeg: symmetric(ranges.rotationDeg),
    shiftX: symmetric(ranges.shift),
    shiftY: symmetric(ranges.shift),
    zoom: 1 + symmetric(ranges.scale),
    flip: random.next() < ranges.flipProbability,
    brightness: symmetric(ranges.brightness),
    contrast: 1 + symmetric(ranges.contrast),
    blur: random.next() < ranges.blurProbability,
  };
}

/** Returns the crop-to-crop transform of the geometric part, about the crop centre. */
export function augmentationMatrix(params: AugmentParams, size: number): AffineMatrix {
  const centre = size / 2;
  const angle = (params.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(angle) * params.zoom;
  const sin = Math.sin(angle) * params.zoom;
  const flip = params.flip ? -1 : 1;
  // x' = R·S·F·(x − c) + c + shift
  const a = cos * flip;
  const b = -sin;
  const c = sin * flip;
  const d = cos;
  const tx = centre - a * centre - b * centre + params.shiftX * size;
  const ty = centre - c * centre - d * centre + params.shiftY * size;
  return [a, b, tx, c, d, ty];
}

/**
 * Renders one augmented view of a face: `imageToCrop` is the alignment transform from
 * the original photo to the crop, so the jittered crop is resampled from the photo and
 * its borders hold real pixels instead of padding.
 */
export function renderAugmentedView(image: RgbImage, imageToCrop: readonly number[], size: number, params: AugmentParams): RgbImage {
  const imageToView = composeAffine(imageToCrop, augmentationMatrix(params, size));
  const view = warpAffine(image, invertAffine(imageToView), size, size);
  applyPhotometric(view, params);
  return view;
}

/** Applies brightness, contrast (about mid-grey) and the optional blur in place. */
export function applyPhotometric(image: RgbImage, params: AugmentParams): void {
  const { data } = image;
  for (let i = 0; i < data.length; i++) {
    const value = (data[i]! - 128) * params.contrast + 128 + params.brightness;
    data[i] = Math.min(255, Math.max(0, Math.round(value)));
  }
  if (params.blur) boxBlur3(image);
}

function boxBlur3(image: RgbImage): void {
  const { width, height, data } = image;
  const source = Uint8Array.from(data);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) {
        let sum = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = Math.min(height - 1, Math.max(0, y + dy));
          for (let dx = -1; dx <= 1; dx++) {
            const xx = Math.min(width - 1, Math.max(0, x + dx));
            sum += source[(yy * width + xx) * 3 + ch]!;
          }
        }
        data[(y * width + x) * 3 + ch] = Math.round(sum / 9);
      }
    }
  }
}

/**
 * Returns the random source for view `view` of an image. It is derived from the image's
 * content hash and the seed, so a cached view is the same view on every run.
 */
export function viewRandom(contentHash: string, view: number, seed: number): RandomSource {
  if (!/^[0-9a-f]{8,}$/.test(contentHash)) throw invalidArgument('contentHash', 'a hex digest', contentHash);
  const hashSeed = Number.parseInt(contentHash.slice(0, 8), 16);
  return createRandom((hashSeed ^ Math.imul(view + 1, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) >>> 0);
}
