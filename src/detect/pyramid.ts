/**
 * Planning of a scale pyramid of whole-image detector passes, for detector models whose graph
 * accepts any input size (`anySize` in `src/models/registry.ts`).
 *
 * A fully convolutional detector run on the whole image scaled by `s` finds faces from
 * `minDetectableFacePx / s` to `maxDetectableFacePx / s` image pixels wide. Level 0 scales the
 * image so that its long side is the size the model was trained at, as a single letterboxed pass
 * does. Further levels scale it up until a face of `minFaceSizePx` reaches `minDetectableFacePx`.
 * The levels are spaced evenly in log scale, and no two neighbours are further apart than the
 * detector's size range allows with `RANGE_OVERLAP_MARGIN` to spare. Unlike tiles, a level has
 * no overlap to pay for and cuts no face.
 */

import { invalidArgument } from '../errors.js';
import type { Tile } from './tiling.js';

/** Inputs of `planScalePyramid`. */
export interface ScalePyramidRequest {
  /** Image width, in pixels. */
  imageWidth: number;
  /** Image height, in pixels. */
  imageHeight: number;
  /** Side the model was trained at, in pixels. Level 0 scales the long side of the image to it. */
  baseSizePx: number;
  /**
   * Canvas sides are padded up to a multiple of this, in pixels. The largest anchor stride makes
   * every feature map cover the canvas with whole cells, as the anchor grid assumes.
   */
  canvasMultiplePx: number;
  /** Smallest face width to find, in image pixels. */
  minFaceSizePx: number;
  /** Smallest face width the detector finds reliably, in canvas pixels. */
  minDetectableFacePx: number;
  /** Largest face width the detector finds reliably, in canvas pixels. */
  maxDetectableFacePx: number;
}

/**
 * One level of the pyramid: the whole image scaled by `scale`, placed at the top-left corner of
 * the canvas and padded on the right and below. As a `Tile`, its region is the whole image. Its
 * reliable face range starts at `minDetectableFacePx / scale`, except on the finest level, which
 * has no lower limit. It ends where the next coarser level becomes reliable, times
 * `RANGE_OVERLAP_MARGIN`, except on level 0, which has no upper limit.
 */
export interface ScaleLevel extends Tile {
  /** Canvas pixels per image pixel. */
  scale: number;
  /** Canvas width, in pixels: a multiple of `canvasMultiplePx`. */
  canvasWidthPx: number;
  /** Canvas height, in pixels: a multiple of `canvasMultiplePx`. */
  canvasHeightPx: number;
}

/**
 * Factor by which neighbouring levels' face ranges must overlap. With the `blazeface` range of
 * 20-192 px it allows levels up to 6.4× apart. A face at the edge of one level's range then lies
 * at least 1.5× inside the next level's range, which covers the few pixels by which box widths
 * vary between scales.
 */
export const RANGE_OVERLAP_MARGIN = 1.5;

/**
 * Largest scale of a level. Like the tile planner, whose tiles never go below the input size, the
 * pyramid does not upsample, so the input stays at most as large as the image. Level 0 of an
 * image smaller than `baseSizePx` is the exception, because it keeps the single-pass behaviour.
 */
export const MAX_LEVEL_SCALE = 1;

/**
 * Tolerance for rounding errors when a scaled side is padded up to the canvas multiple. Without
 * it, 1920 × (256 / 1920) would give 256.00000000000003 and a canvas of 288 px.
 */
const SIDE_EPSILON_PX = 1e-6;

/** Plans the levels that find faces from `minFaceSizePx` up to the whole image, coarsest first. */
export function planScalePyramid(request: ScalePyramidRequest): ScaleLevel[] {
  validatePyramidRequest(request);
  const { imageWidth, imageHeight, baseSizePx, minFaceSizePx, minDetectableFacePx, maxDetectableFacePx } = request;

  const baseScale = baseSizePx / Math.max(imageWidth, imageHeight);
  // NOTE: levels never upsample beyond MAX_LEVEL_SCALE, so faces narrower than minDetectableFacePx
  // image pixels are found only by chance.
  const finestScale = Math.max(baseScale, Math.min(MAX_LEVEL_SCALE, minDetectableFacePx / minFaceSizePx));
  const maxLevelRatio = maxDetectableFacePx / (minDetectableFacePx * RANGE_OVERLAP_MARGIN);
  const steps = finestScale > baseScale ? Math.ceil(Math.log(finestScale / baseScale) / Math.log(maxLevelRatio)) : 0;

  const levels: ScaleLevel[] = [];
  for (let level = 0; level <= steps; level++) {
    // The finest level is set directly so that it does not drift from finestScale by rounding.
    const scale = level === steps ? finestScale : baseScale * (finestScale / baseScale) ** (level / steps);
    const coarser = levels[level - 1];
    levels.push({
      regionPx: { x: 0, y: 0, width: imageWidth, height: imageHeight },
      level,
      scale,
      canvasWidthPx: canvasSide(imageWidth * scale, request.canvasMultiplePx),
      canvasHeightPx: canvasSide(imageHeight * scale, request.canvasMultiplePx),
      reliableMinFacePx: minDetectableFacePx / scale,
      // A level is responsible for faces up to where the next coarser level finds them reliably,
      // with a margin. Wider detections are dropped, because magnified textures (hair, shoulders)
      // cause most false positives of fine levels, and the coarser level finds a real face that wide.
      reliableMaxFacePx: coarser === undefined ? Infinity : coarser.reliableMinFacePx * RANGE_OVERLAP_MARGIN,
    });
  }
  levels[steps].reliableMinFacePx = 0;
  return levels;
}

/** Pads a scaled image side up to a multiple of `multiple`, in pixels. */
function canvasSide(scaledSidePx: number, multiple: number): number {
  return Math.max(1, Math.ceil(scaledSidePx / multiple - SIDE_EPSILON_PX / multiple)) * multiple;
}

function validatePyramidRequest(request: ScalePyramidRequest): void {
  if (typeof request !== 'object' || request === null) throw invalidArgument('request', 'a ScalePyramidRequest object', request);
  for (const name of ['imageWidth', 'imageHeight', 'baseSizePx', 'canvasMultiplePx'] as const) {
    const value = request[name];
    if (!Number.isInteger(value) || value < 1) throw invalidArgument(name, 'a positive integer', value);
  }
  for (const name of ['minFaceSizePx', 'minDetectableFacePx', 'maxDetectableFacePx'] as const) {
    const value = request[name];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw invalidArgument(name, 'a positive number', value);
  }
  // Levels further apart than the range allows would leave face sizes that no level finds.
  if (request.maxDetectableFacePx <= request.minDetectableFacePx * RANGE_OVERLAP_MARGIN) {
    throw invalidArgument(
      'maxDetectableFacePx',
      `more than ${RANGE_OVERLAP_MARGIN} × minDetectableFacePx (${request.minDetectableFacePx * RANGE_OVERLAP_MARGIN})`,
      request.maxDetectableFacePx,
    );
  }
}
