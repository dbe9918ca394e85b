/**
 * Planning of tiled detector passes over one image, and merging of the detections of all passes.
 *
 * A detector with a fixed input size finds faces only within a range of sizes at that input. The
 * BlazeFace full-range model at 192 px finds faces 20 to 64 px wide reliably (measured, see
 * `DETECTOR_MODELS` in `detector.ts`). Letterboxing a whole 1920-px photo into 192 px shrinks it
 * 10×, so faces narrower than about 200 px are missed. The plan is a pyramid. Level 0 is the
 * whole image, and each further level halves the tile side until a face of `minFaceSizePx` reaches
 * the detector's smallest reliable size. Tiles of a level overlap by the largest face that level
 * is responsible for (the smallest face the next coarser level finds, with a margin), so every
 * such face lies whole inside at least one tile.
 *
 * Models that accept any input size use whole-image passes at several scales instead
 * (`pyramid.ts`). Their levels are tiles that cover the whole image, merged by the same rules.
 */

import { invalidArgument } from '../errors.js';
import type { BoxPx } from '../types.js';
import type { DetectedFace } from './decode.js';
import { intersectionArea, intersectionOverUnion, suppressOverlaps, type NmsMethod } from './nms.js';

/** Inputs of `planTiles`. */
export interface TilePlanRequest {
  /** Image width, in pixels. */
  imageWidth: number;
  /** Image height, in pixels. */
  imageHeight: number;
  /** Side of the square detector input, in pixels. */
  inputSize: number;
  /** Smallest face width to find, in image pixels. */
  minFaceSizePx: number;
  /** Smallest face width the detector finds reliably, in input pixels. */
  minDetectableFacePx: number;
  /** Largest face width the detector finds reliably, in input pixels. */
  maxDetectableFacePx: number;
}

/**
 * One detector pass as merging sees it: the image region that the detector input shows, the
 * pass's pyramid level and the face widths it is responsible for. A tile of `planTiles` is letterboxed
 * into the input. A level of `planScalePyramid` is a tile that covers the whole image.
 */
export interface Tile {
  /** Region of the image, in image pixels, with integer coordinates. */
  regionPx: BoxPx;
  /**
   * Pyramid level: 0 is the whole image at the smallest scale, and higher levels see the image at
   * larger scales. In `planTiles`, each further level has tiles of half the side, except that the
   * finest level uses the side that `minFaceSizePx` needs when that is larger.
   */
  level: number;
  /**
   * Smallest face width this tile finds reliably, in image pixels, on every level but the finest;
   * 0 on the finest level. Narrower detections are below the level's range, where the detector
   * also fires on groups of faces, and are checked against the finer levels when merging.
   */
  reliableMinFacePx: number;
  /**
   * Largest face width this tile is responsible for, in image pixels, `Infinity` on level 0. In
   * `planTiles` it is the tile overlap of the level. Wider faces are found whole by a coarser
   * level, so wider detections from this tile are dropped when merging.
   */
  reliableMaxFacePx: number;
}

/** One level of the pyramid, for inspection and tests. */
export interface TileLevel {
  level: number;
  /** Requested tile side, in image pixels (tiles are clipped to the image). */
  tileSizePx: number;
  /** Minimum overlap between neighbouring tiles, in image pixels. */
  overlapPx: number;
  /** Smallest face width this level finds, in image pixels. */
  minFacePx: number;
}

export interface TilePlan {
  tiles: Tile[];
  levels: TileLevel[];
}

/**
 * Factor by which a level's overlap exceeds the face width it must contain whole. The detector's
 * box is about as wide as the face, and its position varies by a few pixels between tiles, so 25%
 * keeps a face that is exactly at the limit clear of the tile edge.
 */
const OVERLAP_MARGIN = 1.25;

/** Plans the passes that find faces from `minFaceSizePx` up to the whole image. */
export function planTiles(request: TilePlanRequest): TilePlan {
  validatePlanRequest(request);
  const { imageWidth, imageHeight, inputSize, minFaceSizePx, minDetectableFacePx, maxDetectableFacePx } = request;

  const fullSide = Math.max(imageWidth, imageHeight);
  const levels: TileLevel[] = [{ level: 0, tileSizePx: fullSide, overlapPx: 0, minFacePx: (minDetectableFacePx * fullSide) / inputSize }];
  const tiles: Tile[] = [{ regionPx: { x: 0, y: 0, width: imageWidth, height: imageHeight }, level: 0, reliableMinFacePx: 0, reliableMaxFacePx: Infinity }];

  // Tile side at which a face of minFaceSizePx reaches the detector at its smallest reliable size.
  // NOTE: tiles never go below the input size, so the plan does not upsample. Faces narrower than
  // minDetectableFacePx image pixels are found only by chance.
  const finalTileSide = Math.max(inputSize, (minFaceSizePx * inputSize) / minDetectableFacePx);
  while (levels[levels.length - 1].tileSizePx > finalTileSide) {
    const coarser = levels[levels.length - 1];
    const level = levels.length;
    const tileSizePx = Math.max(finalTileSide, coarser.tileSizePx / 2);
    const overlapPx = Math.ceil(coarser.minFacePx * OVERLAP_MARGIN);
    // Halving leaves no gap between the face sizes of neighbouring levels when the detector's range
    // spans more than about 2.5×. Both BlazeFace models do, so this rejects only a narrow custom range.
    if ((maxDetectableFacePx * tileSizePx) / inputSize < overlapPx) {
      throw invalidArgument(
        'maxDetectableFacePx',
        `at least ${Math.ceil((overlapPx * inputSize) / tileSizePx)} so that pyramid levels leave no gap in face sizes`,
        maxDetectableFacePx,
      );
    }
    levels.push({ level, tileSizePx, overlapPx, minFacePx: (minDetectableFacePx * tileSizePx) / inputSize });

    const tileSide = Math.round(tileSizePx);
    for (const y of axisStarts(imageHeight, tileSide, overlapPx)) {
      for (const x of axisStarts(imageWidth, tileSide, overlapPx)) {
        tiles.push({
          regionPx: { x, y, width: Math.min(tileSide, imageWidth - x), height: Math.min(tileSide, imageHeight - y) },
          level,
          reliableMinFacePx: 0,
          reliableMaxFacePx: overlapPx,
        });
      }
    }
  }

  const finestLevel = levels.length - 1;
  for (const tile of tiles) {
    if (tile.level < finestLevel) tile.reliableMinFacePx = levels[tile.level].minFacePx;
  }
  return { tiles, levels };
}

/**
 * Returns integer tile start positions along one axis: evenly spread, the first at 0 and the last
 * ending at `length`, with neighbours overlapping by at least `overlap`. One tile when it spans
 * the axis. Requires `overlap < tileSide - 1`.
 */
export function axisStarts(length: number, tileSide: number, overlap: number): number[] {
  if (tileSide >= length) return [0];
  if (!(overlap < tileSide - 1)) throw invalidArgument('overlap', `less than tileSide - 1 (${tileSide - 1})`, overlap);
  // Steps of at most tileSide - overlap - 1 keep the overlap after rounding positions to integers.
  const count = Math.ceil((length - tileSide) / (tileSide - overlap - 1)) + 1;
  const step = (length - tileSide) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(i * step));
}

/** A detection in image pixels and the tile that produced it. */
export interface TileDetection {
  face: DetectedFace;
  tile: Tile;
}

/** Options of `mergeTileDetections`. */
export interface MergeOptions {
  method: NmsMethod;
  /** IoU above which two detections are the same face. */
  iouThreshold: number;
  /** Maximum number of faces to return. */
  maxFaces: number;
  /** Image width, in pixels, to tell tile edges inside the image from the image border. */
  imageWidth: number;
  /** Image height, in pixels. */
  imageHeight: number;
}

/**
 * Fraction of a box's width within which a box edge counts as touching a tile edge. Detections of
 * faces cut by a tile edge end at the edge or a little beyond it, in the padding.
 */
const EDGE_TOLERANCE = 0.05;

/**
 * Fraction of a cut detection's area that must lie inside an uncut detection for the cut one to
 * be dropped as a partial view of the same face.
 */
const CUT_COVERAGE = 0.5;

/**
 * Merges detections from all passes into one list of faces in image pixels. Drops group
 * detections (see `isGroupDetection`), and detections cut by a tile edge inside the image when an
 * uncut detection covers them. Then it suppresses overlaps across tiles and levels. A cut
 * detection with no uncut counterpart is kept, because a partial box is more useful than none.
 */
export function mergeTileDetections(detections: readonly TileDetection[], options: MergeOptions): DetectedFace[] {
  // A background patch seen at several times its size in a small tile can look like a large face.
  // A real face of that width is the coarser level's to find, so wider detections are dropped.
  const inRange = detections.filter(
    (detection) => detection.face.boxPx.width <= detection.tile.reliableMaxFacePx && !isGroupDetection(detection, detections, options.iouThreshold),
  );
  const cut = inRange.map((detection) => isCutByTileEdge(detection, options.imageWidth, options.imageHeight));
  const whole = inRange.filter((_, i) => !cut[i]);

  const retained: DetectedFace[] = [];
  inRange.forEach((detection, i) => {
    if (!cut[i]) {
      retained.push(detection.face);
      return;
    }
    const box = detection.face.boxPx;
    const area = box.width * box.height;
    const covered = whole.some((other) => intersectionArea(other.face.boxPx, box) >= CUT_COVERAGE * area);
    if (!covered) retained.push(detection.face);
  });
  return suppressOverlaps(retained, options.method, options.iouThreshold, options.maxFaces);
}

/**
 * Tells whether a detection is narrower than its pass's reliable range and overlaps a different
 * face found by a finer level. Coarse passes see small faces at a few input pixels, and there
 * BlazeFace also fires on a cluster of two or three faces, or on parts of neighbouring faces, with
 * one box across them. The finer levels see those faces separately, at a size they find reliably.
 * A finer detection counts when it is within its own pass's range and its IoU with the box is at
 * most `iouThreshold`, the merge threshold. Above it, the two are one face and are merged. A
 * below-range detection that overlaps no finer face is kept, because some faces (profiles, hands
 * over the face) are found at only one scale.
 */
export function isGroupDetection(detection: TileDetection, all: readonly TileDetection[], iouThreshold: number): boolean {
  const box = detection.face.boxPx;
  if (box.width >= detection.tile.reliableMinFacePx) return false;
  return all.some((other) => {
    const inner = other.face.boxPx;
    return (
      other.tile.level > detection.tile.level &&
      inner.width <= other.tile.reliableMaxFacePx &&
      intersectionArea(inner, box) > 0 &&
      intersectionOverUnion(inner, box) <= iouThreshold
    );
  });
}

/** Tells whether a detection's box reaches a tile edge that lies inside the image. */
export function isCutByTileEdge(detection: TileDetection, imageWidth: number, imageHeight: number): boolean {
  const { regionPx } = detection.tile;
  const box = detection.face.boxPx;
  const tolerance = EDGE_TOLERANCE * box.width;
  const right = regionPx.x + regionPx.width;
  const bottom = regionPx.y + regionPx.height;
  return (
    (regionPx.x > 0 && box.x <= regionPx.x + tolerance) ||
    (regionPx.y > 0 && box.y <= regionPx.y + tolerance) ||
    (right < imageWidth && box.x + box.width >= right - tolerance) ||
    (bottom < imageHeight && box.y + box.height >= bottom - tolerance)
  );
}

function validatePlanRequest(request: TilePlanRequest): void {
  if (typeof request !== 'object' || request === null) throw invalidArgument('request', 'a TilePlanRequest object', request);
  for (const name of ['imageWidth', 'imageHeight', 'inputSize'] as const) {
    const value = request[name];
    if (!Number.isInteger(value) || value < 1) throw invalidArgument(name, 'a positive integer', value);
  }
  for (const name of ['minFaceSizePx', 'minDetectableFacePx', 'maxDetectableFacePx'] as const) {
    const value = request[name];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw invalidArgument(name, 'a positive number', value);
  }
  if (request.maxDetectableFacePx <= request.minDetectableFacePx || request.maxDetectableFacePx >= request.inputSize) {
    throw invalidArgument(
      'maxDetectableFacePx',
      `a number above minDetectableFacePx (${request.minDetectableFacePx}) and below inputSize (${request.inputSize})`,
      request.maxDetectableFacePx,
    );
  }
}
