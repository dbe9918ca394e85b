/**
 * Affine resampling of RGB images: aligned face crops, and detector input tensors written
 * straight from the source pixels.
 *
 * Coordinates are continuous pixels: an image spans 0 to `width` and pixel `i` has its
 * centre at `i + 0.5`, which is what relative (0 to 1) coordinates times the image size
 * give. Every matrix here maps output (destination) coordinates to source coordinates
 * in that convention, and sampling is bilinear between pixel centres.
 *
 * Antialiasing: when one output pixel spans `k >= 2` source pixels along both axes, the
 * source is first shrunk by box-averaging `k×k` blocks (`k` = the floor of the smaller
 * per-axis scale), only over the area the output covers. Bilinear sampling then reads the
 * shrunk image, which is less than 2 times larger than the output up to a 2048-times
 * downscale. NOTE: scales between 1 and 2 are sampled without a prefilter, so fine detail
 * can alias slightly there.
 */

import { FacekitError, invalidArgument } from '../errors.js';
import type { BoxPx, PointPx, RgbImage } from '../types.js';
import { type AffineMatrix, applyAffine, checkAffine, estimateSimilarity, invertAffine } from './similarity.js';
import { ALIGNMENT_KEYPOINT_COUNT, BLAZEFACE_KEYPOINT_COUNT, DEFAULT_ALIGN_MARGIN, faceTemplatePx } from './template.js';

/**
 * Fill rule for samples outside the source or outside `boundsPx`. `'replicate'` takes the
 * nearest edge pixel, like Keras `fill_mode="nearest"`, and `'constant'` writes `padValue`.
 */
export type FillMode = 'replicate' | 'constant';

/** Options of `warpAffine`. */
export interface WarpOptions {
  /** Box-average the source first when the output shrinks it 2 times or more. Default `true`. */
  antialias?: boolean;
}

/** Options of `sampleToTensor`. */
export interface TensorSampleOptions {
  /** Multiplier from 8-bit pixel value to tensor value, for example `1 / 127.5`. Required. */
  scale: number;
  /** Added after `scale`, for example `-1`, so `value = pixel * scale + offset`. Required. */
  offset: number;
  /** Fill for samples outside `boundsPx`. Default `'replicate'`. */
  fillMode?: FillMode;
  /** Tensor value written outside `boundsPx` with `fillMode: 'constant'`, used as is. Default `0`. */
  padValue?: number;
  /** Box-average the source first when the output shrinks it 2 times or more. Default `true`. */
  antialias?: boolean;
  /** Part of the source that counts as inside, for example a tile. Default: the whole image. */
  boundsPx?: BoxPx;
}

/** Options of `alignFace`. */
export interface AlignOptions {
  /** Side of the square crop in pixels, an integer > 0. Required. */
  size: number;
  /** Border on each side as a fraction of the tight face crop. Default `DEFAULT_ALIGN_MARGIN` (0.2). */
  margin?: number;
  /** Box-average the source first when the face is 2 times or more larger than the crop. Default `true`. */
  antialias?: boolean;
}

/** An aligned face crop. */
export interface AlignedFace {
  /** The `size`×`size` crop. */
  image: RgbImage;
  /** Similarity matrix from source image pixels to crop pixels. */
  matrix: AffineMatrix;
}

/** The mapping between a source region and a square letterboxed tensor. */
export interface Letterbox {
  /** From tensor pixels to source image pixels; pass it to `sampleToTensor`. */
  matrixDstToSrc: AffineMatrix;
  /** From source image pixels to tensor pixels. */
  matrixSrcToDst: AffineMatrix;
  /** Maps a point in tensor pixels (for example a detected keypoint) to source image pixels. */
  toSource(point: readonly [number, number]): PointPx;
}

const DEFAULT_ANTIALIAS = true;
const DEFAULT_FILL_MODE: FillMode = 'replicate';
const DEFAULT_PAD_VALUE = 0;

/** Smallest per-axis downscale factor that gets the box-average prefilter. */
const MIN_PREFILTER_FACTOR = 2;

/**
 * Warps `image` into an `outWidth`×`outHeight` image with bilinear sampling. Samples outside
 * the source take the nearest edge pixel, so the output has no black or constant fill.
 *
 * @param matrixDstToSrc Maps output pixel coordinates to source pixel coordinates.
 * @throws FacekitError `ERR_INVALID_ARGUMENT` for a malformed image, matrix, size or option.
 */
export function warpAffine(
  image: RgbImage,
  matrixDstToSrc: readonly number[],
  outWidth: number,
  outHeight: number,
  options: WarpOptions = {},
): RgbImage {
  checkImage('image', image);
  checkAffine('matrixDstToSrc', matrixDstToSrc);
  checkOutputSize(outWidth, outHeight);
  const antialias = resolveAntialias(options);

  const bounds = boundsIndexRange(image, undefined);
  const source = prepareSource(image, matrixDstToSrc, outWidth, outHeight, bounds, antialias);
  const data = new Uint8Array(outWidth * outHeight * 3);
  sampleToBytes(source, outWidth, outHeight, data);
  return { data, width: outWidth, height: outHeight };
}

/**
 * Cuts an upright `size`×`size` face crop: estimates the similarity that maps the eyes,
 * nose tip and mouth centre onto `faceTemplatePx(size, margin)` and warps with
 * `warpAffine`. Faces 2 or more times larger than the crop are box-averaged first (see the
 * file header), so the crop does not alias.
 *
 * @param keypointsPx The 4 or 6 BlazeFace keypoints in source pixels, in model order; the
 *   ears (indices 4 and 5) are ignored.
 * @throws FacekitError `ERR_INVALID_ARGUMENT` for a malformed image, keypoint list or
 *   option, or keypoints that all coincide.
 */
export function alignFace(image: RgbImage, keypointsPx: readonly PointPx[], options: AlignOptions): AlignedFace {
  checkImage('image', image);
  if (
    !Array.isArray(keypointsPx) ||
    (keypointsPx.length !== ALIGNMENT_KEYPOINT_COUNT && keypointsPx.length !== BLAZEFACE_KEYPOINT_COUNT)
  ) {
    throw invalidArgument(
      'keypointsPx',
      `an array of ${ALIGNMENT_KEYPOINT_COUNT} or ${BLAZEFACE_KEYPOINT_COUNT} BlazeFace keypoints [x, y]`,
      keypointsPx,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('options', 'an object with a size', options);
  }
  keypointsPx.forEach((point, i) => {
    if (!Array.isArray(point) || point.length !== 2 || !point.every((value) => typeof value === 'number' && Number.isFinite(value))) {
      throw invalidArgument(`keypointsPx[${i}]`, 'a point [x, y] of 2 finite numbers', point);
    }
  });
  if (!Number.isInteger(options.size) || options.size <= 0) {
    throw invalidArgument('options.size', 'an integer number of pixels > 0', options.size);
  }
  const margin = options.margin ?? DEFAULT_ALIGN_MARGIN;
  if (typeof margin !== 'number' || !Number.isFinite(margin) || margin < 0) {
    throw invalidArgument('options.margin', 'a finite fraction >= 0', margin);
  }
  const antialias = resolveAntialias(options);

  const template = faceTemplatePx(options.size, margin).slice(0, ALIGNMENT_KEYPOINT_COUNT);
  const alignmentPoints = keypointsPx.slice(0, ALIGNMENT_KEYPOINT_COUNT);
  const [first] = alignmentPoints;
  if (alignmentPoints.every((point) => point[0] === first[0] && point[1] === first[1])) {
    throw invalidArgument('keypointsPx', 'eye, nose and mouth keypoints that are not all at one point', keypointsPx);
  }
  const matrix = estimateSimilarity(alignmentPoints, template);
  const crop = warpAffine(image, invertAffine(matrix), options.size, options.size, { antialias });
  return { image: crop, matrix };
}

/**
 * Fits `srcRegion` into a `size`×`size` square, scaled to keep its aspect ratio and centred
 * with equal padding on both sides of the shorter axis. For a tile of a larger image, pass
 * the same box as `boundsPx` to `sampleToTensor`, so the padding is not filled with the
 * neighbouring pixels.
 *
 * @throws FacekitError `ERR_INVALID_ARGUMENT` for a region without positive finite size.
 */
export function letterboxMatrix(srcRegion: BoxPx, size: number): Letterbox {
  checkBox('srcRegion', srcRegion);
  if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) {
    throw invalidArgument('size', 'a finite number of pixels > 0', size);
  }
  // Tensor pixels per source pixel, and the padding in tensor pixels.
  const scale = size / Math.max(srcRegion.width, srcRegion.height);
  const padX = (size - srcRegion.width * scale) / 2;
  const padY = (size - srcRegion.height * scale) / 2;

  const matrixSrcToDst: AffineMatrix = [scale, 0, padX - scale * srcRegion.x, 0, scale, padY - scale * srcRegion.y];
  const matrixDstToSrc: AffineMatrix = [1 / scale, 0, srcRegion.x - padX / scale, 0, 1 / scale, srcRegion.y - padY / scale];
  return {
    matrixDstToSrc,
    matrixSrcToDst,
    toSource: (point) => applyAffine(matrixDstToSrc, point),
  };
}

/**
 * Samples `image` through an affine matrix straight into a float32 NHWC tensor in RGB order,
 * `value = pixel * scale + offset`, with the same bilinear sampling as `warpAffine`.
 *
 * @param matrixDstToSrc Maps tensor pixel coordinates to source pixel coordinates, for
 *   example `letterboxMatrix(...).matrixDstToSrc`.
 * @param out Tensor to write into, for example one image of a batch. A new one when omitted.
 * @param outOffset Index in `out` of the first value written. Default `0`. A new tensor
 *   always starts at 0.
 * @returns `out`, or the new tensor of `outHeight * outWidth * 3` values.
 * @throws FacekitError `ERR_INVALID_ARGUMENT` for a malformed image, matrix, size, option, or
 *   an `out` too short to hold the values from `outOffset`.
 */
export function sampleToTensor(
  image: RgbImage,
  matrixDstToSrc: readonly number[],
  outWidth: number,
  outHeight: number,
  options: TensorSampleOptions,
  out?: Float32Array,
  outOffset = 0,
): Float32Array {
  checkImage('image', image);
  checkAffine('matrixDstToSrc', matrixDstToSrc);
  checkOutputSize(outWidth, outHeight);
  const resolved = resolveTensorOptions(options);
  const valueCount = outWidth * outHeight * 3;
  if (!Number.isInteger(outOffset) || outOffset < 0) {
    throw invalidArgument('outOffset', 'an integer >= 0', outOffset);
  }
  if (out !== undefined && (!(out instanceof Float32Array) || out.length < outOffset + valueCount)) {
    throw invalidArgument('out', `a Float32Array of at least ${outOffset + valueCount} values`, out);
  }
  const target = out ?? new Float32Array(valueCount);
  const targetOffset = out === undefined ? 0 : outOffset;

  const bounds = boundsIndexRange(image, resolved.boundsPx);
  const source = prepareSource(image, matrixDstToSrc, outWidth, outHeight, bounds, resolved.antialias);
  const inside = resolved.fillMode === 'constant' ? insideArea(image, resolved.boundsPx) : undefined;
  const matrix = matrixDstToSrc as AffineMatrix;
  if (matrix[1] === 0 && matrix[3] === 0 && source.m[1] === 0 && source.m[3] === 0 && !isPixelAligned(source, matrix)) {
    sampleAxisAlignedToFloats(source, outWidth, outHeight, resolved, inside, matrix, target, targetOffset);
  } else {
    sampleToFloats(source, outWidth, outHeight, resolved, inside, matrix, target, targetOffset);
  }
  return target;
}

/**
 * Returns `image` at half its width and height (rounded up), each pixel the rounded mean of a
 * 2×2 block. An odd last column or row repeats its edge pixel. Pixel `(i, j)` covers source
 * pixels `[2i, 2i + 2) × [2j, 2j + 2)`, so a matrix onto the source, divided by 2, maps onto the
 * half image. The detector samples its whole-image passes that shrink by 2 or more from it.
 */
export function halveImage(image: RgbImage): RgbImage {
  checkImage('image', image);
  return halve(image, { x0: 0, x1: image.width, y0: 0, y1: image.height });
}

// ---------------------------------------------------------------------------------------
// Sampling internals.

/** Pixel index range `[x0, x1) × [y0, y1)` of the source that counts as inside. */
interface IndexRange {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * Pixels that bilinear sampling reads: the image itself or a box-averaged copy of part of it.
 * Positions are in index space, where pixel centres sit at integers, and clamping them to
 * the limits implements edge replication.
 */
interface SampleSource {
  data: Uint8Array;
  /** Row length in pixels. */
  width: number;
  /** Last column and row index, the limit for the right and lower bilinear neighbours. */
  lastX: number;
  lastY: number;
  /** Sample positions are clamped to these, in index space. */
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  /** Output pixel index `(u, v)` to sample position: `x = m[0]·u + m[1]·v + m[2]`, likewise y. */
  m: AffineMatrix;
}

interface ResolvedTensorOptions {
  scale: number;
  offset: number;
  fillMode: FillMode;
  padValue: number;
  antialias: boolean;
  boundsPx: BoxPx | undefined;
}

/** Continuous-coordinate area `[x0, x1] × [y0, y1]` whose samples are not padding. */
interface InsideArea {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * Largest box-average block side, which keeps block sums (at most 255 · side²) within a
 * 32-bit integer. Larger downscales are box-averaged at this factor and bilinear sampling
 * does the rest, so they alias.
 */
const MAX_PREFILTER_FACTOR = 2048;

/**
 * Chooses between sampling the image directly and sampling a box-averaged copy of the
 * covered area, and builds the index-space matrix for it.
 */
function prepareSource(
  image: RgbImage,
  matrix: readonly number[],
  outWidth: number,
  outHeight: number,
  bounds: IndexRange,
  antialias: boolean,
): SampleSource {
  const [a, b, tx, c, d, ty] = matrix as AffineMatrix;
  // Source pixels per output pixel along the output's x and y axes.
  const stepU = Math.hypot(a, c);
  const stepV = Math.hypot(b, d);
  const factor = antialias ? Math.min(MAX_PREFILTER_FACTOR, Math.floor(Math.min(stepU, stepV))) : 1;

  if (factor < MIN_PREFILTER_FACTOR) {
    // Index space is continuous minus 0.5, at both the output and the source.
    return {
      data: image.data,
      width: image.width,
      lastX: image.width - 1,
      lastY: image.height - 1,
      minX: bounds.x0,
      maxX: bounds.x1 - 1,
      minY: bounds.y0,
      maxY: bounds.y1 - 1,
      m: [a, b, tx + 0.5 * (a + b) - 0.5, c, d, ty + 0.5 * (c + d) - 0.5],
    };
  }

  const area = coveredArea(matrix, outWidth, outHeight, bounds, factor);
  const shrunk = boxShrink(image, area, factor);
  // Continuous source x maps to shrunk index (x - area.x0) / factor - 0.5, likewise y.
  const k = 1 / factor;
  return {
    data: shrunk.data,
    width: shrunk.width,
    lastX: shrunk.width - 1,
    lastY: shrunk.height - 1,
    minX: Math.max(0, (bounds.x0 + 0.5 - area.x0) * k - 0.5),
    maxX: Math.min(shrunk.width - 1, (bounds.x1 - 0.5 - area.x0) * k - 0.5),
    minY: Math.max(0, (bounds.y0 + 0.5 - area.y0) * k - 0.5),
    maxY: Math.min(shrunk.height - 1, (bounds.y1 - 0.5 - area.y0) * k - 0.5),
    m: [
      a * k,
      b * k,
      (tx + 0.5 * (a + b) - area.x0) * k - 0.5,
      c * k,
      d * k,
      (ty + 0.5 * (c + d) - area.y0) * k - 0.5,
    ],
  };
}

/**
 * Returns the source pixel range that the output's samples and their bilinear neighbours
 * can read: the bounding box of the mapped output corners, widened by one block on each
 * side and cut to `bounds`. An output entirely outside `bounds` gets the nearest edge strip.
 */
function coveredArea(
  matrix: readonly number[],
  outWidth: number,
  outHeight: number,
  bounds: IndexRange,
  factor: number,
): IndexRange {
  const [a, b, tx, c, d, ty] = matrix as AffineMatrix;
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const [u, v] of [
    [0, 0],
    [outWidth, 0],
    [0, outHeight],
    [outWidth, outHeight],
  ] as const) {
    const x = a * u + b * v + tx;
    const y = c * u + d * v + ty;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const x0 = clamp(Math.floor(minX) - factor, bounds.x0, bounds.x1 - 1);
  const y0 = clamp(Math.floor(minY) - factor, bounds.y0, bounds.y1 - 1);
  return {
    x0,
    x1: clamp(Math.ceil(maxX) + factor, x0 + 1, bounds.x1),
    y0,
    y1: clamp(Math.ceil(maxY) + factor, y0 + 1, bounds.y1),
  };
}

/**
 * Averages `factor`×`factor` blocks of `area` into an 8-bit RGB image, rounding to the
 * nearest level. Blocks that run past the area's right or lower edge repeat the edge
 * pixel, the same rule as edge replication.
 */
function boxShrink(image: RgbImage, area: IndexRange, factor: number): { data: Uint8Array; width: number; height: number } {
  if (factor === 2) return halve(image, area);
  const rowStride = image.width * 3;
  const { x0, x1, y0, y1 } = area;
  const width = Math.ceil((x1 - x0) / factor);
  const height = Math.ceil((y1 - y0) / factor);
  const data = new Uint8Array(width * height * 3);
  const sums = new Int32Array(width * 3);
  const norm = 1 / (factor * factor);
  const fullBlocks = Math.floor((x1 - x0) / factor);

  for (let by = 0; by < height; by++) {
    sums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      const sy = Math.min(y0 + by * factor + dy, y1 - 1);
      addBlockRow(image.data, sy * rowStride + x0 * 3, x1 - x0, factor, fullBlocks, sums);
    }
    const rowOut = by * width * 3;
    for (let i = 0; i < width * 3; i++) data[rowOut + i] = sums[i] * norm + 0.5;
  }
  return { data, width, height };
}

/**
 * `boxShrink` by a factor of 2, the finest level of the detector's scale pyramid: the same
 * result, about twice as fast as the general loop on a 1920×1280 photo.
 */
function halve(image: RgbImage, area: IndexRange): { data: Uint8Array; width: number; height: number } {
  const src = image.data;
  const rowStride = image.width * 3;
  const { x0, x1, y0, y1 } = area;
  const width = Math.ceil((x1 - x0) / 2);
  const height = Math.ceil((y1 - y0) / 2);
  const data = new Uint8Array(width * height * 3);
  // Column pairs that lie wholly inside the area. An odd last column is a pair of its own.
  const pairs = (x1 - x0) >> 1;
  for (let by = 0; by < height; by++) {
    const top = (y0 + 2 * by) * rowStride + x0 * 3;
    const bottom = y0 + 2 * by + 1 < y1 ? top + rowStride : top;
    let o = by * width * 3;
    let p = top;
    let q = bottom;
    for (let i = 0; i < pairs; i++) {
      // (sum + 2) >> 2 is the rounded mean, as `sum / 4 + 0.5` truncated in boxShrink.
      data[o] = (src[p] + src[p + 3] + src[q] + src[q + 3] + 2) >> 2;
      data[o + 1] = (src[p + 1] + src[p + 4] + src[q + 1] + src[q + 4] + 2) >> 2;
      data[o + 2] = (src[p + 2] + src[p + 5] + src[q + 2] + src[q + 5] + 2) >> 2;
      o += 3;
      p += 6;
      q += 6;
    }
    if (pairs < width) {
      data[o] = (2 * (src[p] + src[q]) + 2) >> 2;
      data[o + 1] = (2 * (src[p + 1] + src[q + 1]) + 2) >> 2;
      data[o + 2] = (2 * (src[p + 2] + src[q + 2]) + 2) >> 2;
    }
  }
  return { data, width, height };
}

/**
 * Adds one source row to the block sums: each run of `factor` pixels from `start` goes to
 * one RGB entry of `sums`. A last, partial run counts its edge pixel until it has `factor`.
 * This is a separate function because with the loop written inside `boxShrink`, V8 in
 * Node 20 deoptimized `boxShrink` on each call.
 */
function addBlockRow(src: Uint8Array, start: number, pixels: number, factor: number, fullBlocks: number, sums: Int32Array): void {
  const blockBytes = factor * 3;
  let p = start;
  let s = 0;
  for (let bx = 0; bx < fullBlocks; bx++) {
    let r = 0;
    let g = 0;
    let b = 0;
    const blockEnd = p + blockBytes;
    for (; p < blockEnd; p += 3) {
      r += src[p];
      g += src[p + 1];
      b += src[p + 2];
    }
    sums[s] += r;
    sums[s + 1] += g;
    sums[s + 2] += b;
    s += 3;
  }
  const tailPixels = pixels - fullBlocks * factor;
  if (tailPixels > 0) {
    let r = 0;
    let g = 0;
    let b = 0;
    const blockEnd = p + tailPixels * 3;
    for (; p < blockEnd; p += 3) {
      r += src[p];
      g += src[p + 1];
      b += src[p + 2];
    }
    const repeats = factor - tailPixels;
    p -= 3;
    sums[s] += r + repeats * src[p];
    sums[s + 1] += g + repeats * src[p + 1];
    sums[s + 2] += b + repeats * src[p + 2];
  }
}

/**
 * Writes bilinear samples as 8-bit RGB, rounded to the nearest level. Positions outside
 * the source are clamped to its edge, so every output pixel gets an edge colour there.
 */
function sampleToBytes(source: SampleSource, outWidth: number, outHeight: number, out: Uint8Array): void {
  const { data, lastX, lastY, minX, maxX, minY, maxY } = source;
  const [m0, m1, m2, m3, m4, m5] = source.m;
  const rowBytes = source.width * 3;

  let o = 0;
  for (let v = 0; v < outHeight; v++) {
    const rowX = m1 * v + m2;
    const rowY = m4 * v + m5;
    for (let u = 0; u < outWidth; u++) {
      // Clamped sample position, its top-left pixel and the four bilinear weights.
      const fx = Math.min(Math.max(rowX + m0 * u, minX), maxX);
      const fy = Math.min(Math.max(rowY + m3 * u, minY), maxY);
      const xi = fx | 0;
      const yi = fy | 0;
      const wx = fx - xi;
      const wy = fy - yi;
      const p00 = yi * rowBytes + xi * 3;
      const p01 = xi < lastX ? p00 + 3 : p00;
      const p10 = yi < lastY ? p00 + rowBytes : p00;
      const p11 = p10 + (p01 - p00);
      const w11 = wx * wy;
      const w01 = wx - w11;
      const w10 = wy - w11;
      const w00 = 1 - wx - w10;

      // Storing into a Uint8Array truncates, so + 0.5 rounds. The sum stays below 255.5.
      out[o] = w00 * data[p00] + w01 * data[p01] + w10 * data[p10] + w11 * data[p11] + 0.5;
      out[o + 1] = w00 * data[p00 + 1] + w01 * data[p01 + 1] + w10 * data[p10 + 1] + w11 * data[p11 + 1] + 0.5;
      out[o + 2] = w00 * data[p00 + 2] + w01 * data[p01 + 2] + w10 * data[p10 + 2] + w11 * data[p11 + 2] + 0.5;
      o += 3;
    }
  }
}

/**
 * Writes bilinear samples as `pixel * scale + offset`. With an `inside` area, samples whose
 * continuous source position (through `matrix`) falls outside it get `padValue`.
 */
function sampleToFloats(
  source: SampleSource,
  outWidth: number,
  outHeight: number,
  options: ResolvedTensorOptions,
  inside: InsideArea | undefined,
  matrix: AffineMatrix,
  out: Float32Array,
  outOffset: number,
): void {
  const { data, lastX, lastY, minX, maxX, minY, maxY } = source;
  const [m0, m1, m2, m3, m4, m5] = source.m;
  const rowBytes = source.width * 3;
  const { scale, offset, padValue } = options;

  // The pad test runs on the pixel centre's continuous source position.
  const [a, b, tx, c, d, ty] = matrix;
  const checkInside = inside !== undefined;
  const insideX0 = inside?.x0 ?? 0;
  const insideX1 = inside?.x1 ?? 0;
  const insideY0 = inside?.y0 ?? 0;
  const insideY1 = inside?.y1 ?? 0;

  // Where each output pixel lands on a source pixel centre (a pyramid level that the box
  // prefilter shrank by its exact factor, for one), bilinear sampling reads one pixel with
  // weight 1. Such a run of a row is copied directly, with the same values.
  const pixelAligned = isPixelAligned(source, matrix);

  let o = outOffset;
  for (let v = 0; v < outHeight; v++) {
    const rowX = m1 * v + m2;
    const rowY = m4 * v + m5;
    const rowSourceX = a * 0.5 + b * (v + 0.5) + tx;
    const rowSourceY = c * 0.5 + d * (v + 0.5) + ty;
    let directStart = outWidth;
    let directEnd = outWidth;
    if (pixelAligned && rowY >= minY && rowY <= maxY && (!checkInside || (rowSourceY >= insideY0 && rowSourceY <= insideY1))) {
      // Output columns whose source column is within the clamp limits and, with padding, inside.
      let first = Math.ceil(minX - rowX);
      let last = Math.floor(maxX - rowX);
      if (checkInside) {
        first = Math.max(first, Math.ceil((insideX0 - rowSourceX) / a));
        last = Math.min(last, Math.floor((insideX1 - rowSourceX) / a));
      }
      // Rounding in the divisions above may be off by one, so the per-pixel tests decide.
      const copies = (u: number): boolean => {
        const x = rowX + u;
        const sx = rowSourceX + a * u;
        return x >= minX && x <= maxX && (!checkInside || (sx >= insideX0 && sx <= insideX1));
      };
      first = Math.max(0, first);
      last = Math.min(outWidth - 1, last);
      while (first <= last && !copies(first)) first += 1;
      while (last >= first && !copies(last)) last -= 1;
      directStart = first;
      directEnd = Math.max(first, last + 1);
    }
    for (let u = 0; u < outWidth; u++) {
      if (u === directStart && directEnd > directStart) {
        o = copyRow(data, (rowY * source.width + rowX + u) * 3, (directEnd - u) * 3, scale, offset, out, o);
        u = directEnd - 1;
        continue;
      }
      if (checkInside) {
        const sx = rowSourceX + a * u;
        const sy = rowSourceY + c * u;
        if (sx < insideX0 || sx > insideX1 || sy < insideY0 || sy > insideY1) {
          out[o] = padValue;
          out[o + 1] = padValue;
          out[o + 2] = padValue;
          o += 3;
          continue;
        }
      }

      // Clamped sample position, its top-left pixel and the four bilinear weights.
      const fx = Math.min(Math.max(rowX + m0 * u, minX), maxX);
      const fy = Math.min(Math.max(rowY + m3 * u, minY), maxY);
      const xi = fx | 0;
      const yi = fy | 0;
      const wx = fx - xi;
      const wy = fy - yi;
      const p00 = yi * rowBytes + xi * 3;
      const p01 = xi < lastX ? p00 + 3 : p00;
      const p10 = yi < lastY ? p00 + rowBytes : p00;
      const p11 = p10 + (p01 - p00);
      writeBilinear(data, p00, p01, p10, p11, wx, wy, scale, offset, out, o);
      o += 3;
    }
  }
}

/**
 * Writes the RGB bilinear blend of the pixels at byte offsets `p00` (top left), `p01`, `p10`
 * and `p11` as `value * scale + offset`, at `out[o..o + 2]`. `wx` and `wy` are the weights of
 * the right and lower pixels, and `scale` is folded into the weights.
 */
function writeBilinear(
  data: Uint8Array,
  p00: number,
  p01: number,
  p10: number,
  p11: number,
  wx: number,
  wy: number,
  scale: number,
  offset: number,
  out: Float32Array,
  o: number,
): void {
  const w11 = wx * wy * scale;
  const w01 = wx * scale - w11;
  const w10 = wy * scale - w11;
  const w00 = scale - wx * scale - w10;
  out[o] = w00 * data[p00] + w01 * data[p01] + w10 * data[p10] + w11 * data[p11] + offset;
  out[o + 1] = w00 * data[p00 + 1] + w01 * data[p01 + 1] + w10 * data[p10 + 1] + w11 * data[p11 + 1] + offset;
  out[o + 2] = w00 * data[p00 + 2] + w01 * data[p01 + 2] + w10 * data[p10 + 2] + w11 * data[p11 + 2] + offset;
}

/** Tells whether every output pixel of `source.m` lands on a source pixel centre, along rows. */
function isPixelAligned(source: SampleSource, matrix: AffineMatrix): boolean {
  const [m0, m1, m2, m3, m4, m5] = source.m;
  return m0 === 1 && m1 === 0 && m3 === 0 && m4 === 1 && Number.isInteger(m2) && Number.isInteger(m5) && matrix[0] > 0;
}

/**
 * Writes the same samples as `sampleToFloats` for a matrix without rotation or shear, as every
 * pyramid level and letterbox has. The sample column then depends on the output column only,
 * and the row on the output row. So their pixel offsets, weights and pad tests are worked out
 * once per column and row. Both functions write through `writeBilinear`.
 */
function sampleAxisAlignedToFloats(
  source: SampleSource,
  outWidth: number,
  outHeight: number,
  options: ResolvedTensorOptions,
  inside: InsideArea | undefined,
  matrix: AffineMatrix,
  out: Float32Array,
  outOffset: number,
): void {
  const { data, lastX, lastY, minX, maxX, minY, maxY } = source;
  const [m0, , m2, , m4, m5] = source.m;
  const rowBytes = source.width * 3;
  const { scale, offset, padValue } = options;
  const [a, , tx, , d, ty] = matrix;

  // Per column: byte offsets of the left and right neighbours, the right weight, and whether
  // the pixel centre is inside the unpadded area. Rows likewise.
  const left = new Int32Array(outWidth);
  const right = new Int32Array(outWidth);
  const weightX = new Float64Array(outWidth);
  const columnInside = new Uint8Array(outWidth);
  for (let u = 0; u < outWidth; u++) {
    const fx = Math.min(Math.max(m2 + m0 * u, minX), maxX);
    const xi = fx | 0;
    left[u] = xi * 3;
    right[u] = (xi < lastX ? xi + 1 : xi) * 3;
    weightX[u] = fx - xi;
    const sx = a * 0.5 + tx + a * u;
    columnInside[u] = inside === undefined || (sx >= inside.x0 && sx <= inside.x1) ? 1 : 0;
  }

  let o = outOffset;
  for (let v = 0; v < outHeight; v++) {
    const fy = Math.min(Math.max(m4 * v + m5, minY), maxY);
    const yi = fy | 0;
    const wy = fy - yi;
    const top = yi * rowBytes;
    const bottom = yi < lastY ? top + rowBytes : top;
    const sy = d * (v + 0.5) + ty;
    const rowInside = inside === undefined || (sy >= inside.y0 && sy <= inside.y1);
    for (let u = 0; u < outWidth; u++) {
      if (!rowInside || columnInside[u] === 0) {
        out[o] = padValue;
        out[o + 1] = padValue;
        out[o + 2] = padValue;
        o += 3;
        continue;
      }
      const wx = weightX[u];
      const p00 = top + left[u];
      const p01 = top + right[u];
      const p10 = bottom + left[u];
      const p11 = bottom + right[u];
      writeBilinear(data, p00, p01, p10, p11, wx, wy, scale, offset, out, o);
      o += 3;
    }
  }
}

/** Writes `count` bytes of `data` from `start` as `byte * scale + offset` into `out` at `o`, and returns the next `o`. */
function copyRow(data: Uint8Array, start: number, count: number, scale: number, offset: number, out: Float32Array, o: number): number {
  for (let i = 0; i < count; i++) out[o + i] = data[start + i] * scale + offset;
  return o + count;
}

// ---------------------------------------------------------------------------------------
// Input checks and defaults.

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/** Pixel index range of `boundsPx` within the image; the whole image when omitted. */
function boundsIndexRange(image: RgbImage, boundsPx: BoxPx | undefined): IndexRange {
  if (boundsPx === undefined) return { x0: 0, x1: image.width, y0: 0, y1: image.height };
  const range = {
    x0: Math.max(0, Math.floor(boundsPx.x)),
    x1: Math.min(image.width, Math.ceil(boundsPx.x + boundsPx.width)),
    y0: Math.max(0, Math.floor(boundsPx.y)),
    y1: Math.min(image.height, Math.ceil(boundsPx.y + boundsPx.height)),
  };
  if (range.x1 <= range.x0 || range.y1 <= range.y0) {
    throw invalidArgument('options.boundsPx', `a box that overlaps the ${image.width}×${image.height} image`, boundsPx);
  }
  return range;
}

/** Continuous-coordinate area of `boundsPx` within the image; the whole image when omitted. */
function insideArea(image: RgbImage, boundsPx: BoxPx | undefined): InsideArea {
  if (boundsPx === undefined) return { x0: 0, x1: image.width, y0: 0, y1: image.height };
  return {
    x0: Math.max(0, boundsPx.x),
    x1: Math.min(image.width, boundsPx.x + boundsPx.width),
    y0: Math.max(0, boundsPx.y),
    y1: Math.min(image.height, boundsPx.y + boundsPx.height),
  };
}

function checkImage(name: string, image: unknown): asserts image is RgbImage {
  if (typeof image !== 'object' || image === null) {
    throw invalidArgument(name, 'an RgbImage { data, width, height }', image);
  }
  const { data, width, height } = image as Partial<RgbImage>;
  if (!Number.isInteger(width) || (width as number) <= 0) {
    throw invalidArgument(`${name}.width`, 'an integer number of pixels > 0', width);
  }
  if (!Number.isInteger(height) || (height as number) <= 0) {
    throw invalidArgument(`${name}.height`, 'an integer number of pixels > 0', height);
  }
  const expectedLength = (width as number) * (height as number) * 3;
  if (!(data instanceof Uint8Array)) {
    throw invalidArgument(`${name}.data`, 'a Uint8Array of RGB bytes', data);
  }
  if (data.length !== expectedLength) {
    throw new FacekitError(
      'ERR_INVALID_ARGUMENT',
      `Invalid ${name}.data: expected width × height × 3 = ${expectedLength} bytes, received ${data.length} bytes`,
    );
  }
}

function checkOutputSize(outWidth: number, outHeight: number): void {
  if (!Number.isInteger(outWidth) || outWidth <= 0) {
    throw invalidArgument('outWidth', 'an integer number of pixels > 0', outWidth);
  }
  if (!Number.isInteger(outHeight) || outHeight <= 0) {
    throw invalidArgument('outHeight', 'an integer number of pixels > 0', outHeight);
  }
}

function checkBox(name: string, box: unknown): asserts box is BoxPx {
  if (typeof box !== 'object' || box === null) {
    throw invalidArgument(name, 'a box { x, y, width, height } in pixels', box);
  }
  const { x, y, width, height } = box as Partial<BoxPx>;
  for (const [key, value] of [
    ['x', x],
    ['y', y],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw invalidArgument(`${name}.${key}`, 'a finite number of pixels', value);
    }
  }
  for (const [key, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw invalidArgument(`${name}.${key}`, 'a finite number of pixels > 0', value);
    }
  }
}

function resolveAntialias(options: { antialias?: boolean } | undefined): boolean {
  if (typeof options !== 'object' || options === null) {
    throw invalidArgument('options', 'an object', options);
  }
  const antialias = options.antialias ?? DEFAULT_ANTIALIAS;
  if (typeof antialias !== 'boolean') {
    throw invalidArgument('options.antialias', 'a boolean', antialias);
  }
  return antialias;
}

/** Copies the caller's options with every default applied. */
function resolveTensorOptions(options: TensorSampleOptions): ResolvedTensorOptions {
  const antialias = resolveAntialias(options);
  const { scale, offset } = options;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) {
    throw invalidArgument('options.scale', 'a finite number (tensor value per pixel value)', scale);
  }
  if (typeof offset !== 'number' || !Number.isFinite(offset)) {
    throw invalidArgument('options.offset', 'a finite number', offset);
  }
  const fillMode = options.fillMode ?? DEFAULT_FILL_MODE;
  if (fillMode !== 'replicate' && fillMode !== 'constant') {
    throw invalidArgument('options.fillMode', "'replicate' or 'constant'", fillMode);
  }
  const padValue = options.padValue ?? DEFAULT_PAD_VALUE;
  if (typeof padValue !== 'number' || !Number.isFinite(padValue)) {
    throw invalidArgument('options.padValue', 'a finite number (tensor value)', padValue);
  }
  if (options.boundsPx !== undefined) checkBox('options.boundsPx', options.boundsPx);
  const boundsPx = options.boundsPx === undefined ? undefined : { ...options.boundsPx };
  return { scale, offset, fillMode, padValue, antialias, boundsPx };
}
