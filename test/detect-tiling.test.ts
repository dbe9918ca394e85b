import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFacekitError } from '../src/errors.js';
import type { DetectedFace } from '../src/detect/decode.js';
import {
  axisStarts,
  isCutByTileEdge,
  isGroupDetection,
  mergeTileDetections,
  planTiles,
  type Tile,
  type TileDetection,
  type TilePlanRequest,
} from '../src/detect/tiling.js';
import type { BoxPx } from '../src/types.js';

/** The back model's settings, as `DETECTOR_MODELS.blazeface` states them. */
const BACK_MODEL = { inputSize: 256, minDetectableFacePx: 20, maxDetectableFacePx: 192 };

function request(imageWidth: number, imageHeight: number, minFaceSizePx = 40): TilePlanRequest {
  return { imageWidth, imageHeight, minFaceSizePx, ...BACK_MODEL };
}

function contains(outer: BoxPx, inner: BoxPx): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

describe('axisStarts', () => {
  test('one tile when it spans the axis', () => {
    assert.deepEqual(axisStarts(500, 512, 94), [0]);
    assert.deepEqual(axisStarts(512, 512, 94), [0]);
  });

  test('first at 0, last at the end, overlap kept', () => {
    for (const [length, side, overlap] of [
      [1920, 512, 94],
      [1281, 960, 188],
      [1000, 300, 298],
      [3001, 700, 10],
    ]) {
      const starts = axisStarts(length, side, overlap);
      assert.equal(starts[0], 0, `first start for ${length}/${side}/${overlap}`);
      assert.equal(starts[starts.length - 1] + side, length, `last end for ${length}/${side}/${overlap}`);
      for (let i = 1; i < starts.length; i++) {
        assert.ok(starts[i - 1] + side - starts[i] >= overlap, `overlap ${starts[i - 1] + side - starts[i]} < ${overlap} at tile ${i}`);
        assert.ok(Number.isInteger(starts[i]), `start ${starts[i]} is not an integer`);
      }
    }
  });

  test('rejects an overlap as large as the tile', () => {
    assert.throws(() => axisStarts(1000, 100, 99), (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT'));
  });
});

describe('planTiles', () => {
  test('1920×1280 photo, 40-px faces', () => {
    const plan = planTiles(request(1920, 1280));
    // Level 0 finds faces from 20 × 1920 / 256 = 150 px; level 1 (960-px tiles) from 75 px;
    // level 2 tiles of 40 × 256 / 20 = 512 px from 40 px.
    assert.deepEqual(
      plan.levels.map((level) => [level.tileSizePx, level.overlapPx, level.minFacePx]),
      [
        [1920, 0, 150],
        [960, 188, 75],
        [512, 94, 40],
      ],
    );
    assert.equal(plan.tiles.filter((tile) => tile.level === 0).length, 1);
    assert.equal(plan.tiles.filter((tile) => tile.level === 1).length, 3 * 2);
    assert.equal(plan.tiles.filter((tile) => tile.level === 2).length, 5 * 3);
  });

  test('tiles cover the image and overlap by the stated amount', () => {
    for (const [width, height, minFace] of [
      [1920, 1280, 40],
      [1080, 1920, 40],
      [4032, 3024, 40],
      [1921, 301, 40],
      [1000, 1000, 25],
    ]) {
      const plan = planTiles(request(width, height, minFace));
      const image = { x: 0, y: 0, width, height };
      for (const level of plan.levels.slice(1)) {
        const tiles = plan.tiles.filter((tile) => tile.level === level.level);
        for (const tile of tiles) assert.ok(contains(image, tile.regionPx), `tile ${JSON.stringify(tile.regionPx)} leaves the ${width}×${height} image`);

        // Every face of up to overlapPx anywhere in the image lies whole in some tile of the level.
        const face = Math.min(level.overlapPx, width, height);
        const step = Math.max(1, Math.floor(face / 3));
        for (let y = 0; y + face <= height; y += step) {
          for (let x = 0; x + face <= width; x += step) {
            const box = { x, y, width: face, height: face };
            assert.ok(
              tiles.some((tile) => contains(tile.regionPx, box)),
              `${width}×${height} level ${level.level}: no tile holds the ${face}-px face at (${x}, ${y})`,
            );
          }
        }
      }
    }
  });

  test('reliable face ranges per tile', () => {
    const plan = planTiles(request(1920, 1280));
    const [whole] = plan.tiles;
    assert.equal(whole.reliableMinFacePx, 150);
    assert.equal(whole.reliableMaxFacePx, Infinity);
    const level1 = plan.tiles.find((tile) => tile.level === 1)!;
    assert.equal(level1.reliableMinFacePx, 75);
    assert.equal(level1.reliableMaxFacePx, 188);
    const finest = plan.tiles.find((tile) => tile.level === 2)!;
    assert.equal(finest.reliableMinFacePx, 0);
    assert.equal(finest.reliableMaxFacePx, 94);
  });

  test('small image needs only the whole-image pass', () => {
    // A 40-px face in a 512-px image is 20 px at the 256-px input.
    const plan = planTiles(request(512, 384));
    assert.equal(plan.tiles.length, 1);
    assert.equal(plan.tiles[0].reliableMinFacePx, 0);
  });

  test('tiles never go below the input size', () => {
    const plan = planTiles(request(1920, 1280, 5));
    const finest = plan.levels[plan.levels.length - 1];
    assert.equal(finest.tileSizePx, 256);
  });

  test('rejects invalid requests', () => {
    const cases: Array<[string, Partial<TilePlanRequest>]> = [
      ['imageWidth', { imageWidth: 0 }],
      ['inputSize', { inputSize: 25.5 }],
      ['minFaceSizePx', { minFaceSizePx: -1 }],
      ['maxDetectableFacePx', { maxDetectableFacePx: 10 }],
      ['maxDetectableFacePx', { maxDetectableFacePx: 256 }],
      // A size range of under 2.5× leaves gaps between halving levels.
      ['maxDetectableFacePx', { maxDetectableFacePx: 40 }],
    ];
    for (const [name, change] of cases) {
      assert.throws(
        () => planTiles({ ...request(1920, 1280), ...change }),
        (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name),
        `expected ERR_INVALID_ARGUMENT naming ${name}`,
      );
    }
  });
});

function tile(regionPx: BoxPx, level = 1, reliableMinFacePx = 0, reliableMaxFacePx = Infinity): Tile {
  return { regionPx, level, reliableMinFacePx, reliableMaxFacePx };
}

function face(x: number, y: number, width: number, score: number, height = width): DetectedFace {
  return { boxPx: { x, y, width, height }, keypointsPx: [[x + width / 2, y + height / 2]], score };
}

const mergeOptions = { method: 'weighted' as const, iouThreshold: 0.3, maxFaces: 100, imageWidth: 900, imageHeight: 500 };

describe('isCutByTileEdge', () => {
  const left = tile({ x: 0, y: 0, width: 500, height: 500 });

  test('box at an inner tile edge is cut', () => {
    assert.equal(isCutByTileEdge({ face: face(450, 100, 50, 0.9), tile: left }, 900, 500), true);
  });

  test('box at the image border is not cut', () => {
    assert.equal(isCutByTileEdge({ face: face(0, 0, 50, 0.9), tile: left }, 900, 500), false);
    assert.equal(isCutByTileEdge({ face: face(100, 450, 50, 0.9), tile: left }, 900, 500), false);
  });

  test('box clear of the edges is not cut', () => {
    assert.equal(isCutByTileEdge({ face: face(200, 200, 50, 0.9), tile: left }, 900, 500), false);
  });
});

describe('mergeTileDetections', () => {
  const left = tile({ x: 0, y: 0, width: 500, height: 500 });
  const right = tile({ x: 400, y: 0, width: 500, height: 500 });

  test('drops a cut box that another tile holds whole', () => {
    // The face spans x 450-520: the left tile contains its left part, the right tile all of it.
    const whole = face(450, 100, 70, 0.8);
    const cut: TileDetection = { face: face(452, 100, 48, 0.9, 70), tile: left };
    const merged = mergeTileDetections([cut, { face: whole, tile: right }], mergeOptions);
    assert.equal(merged.length, 1);
    assert.deepEqual(merged[0].boxPx, whole.boxPx);
  });

  test('keeps a cut box that no tile holds whole', () => {
    const cut: TileDetection = { face: face(452, 100, 48, 0.9), tile: left };
    const merged = mergeTileDetections([cut], mergeOptions);
    assert.deepEqual(merged.map((f) => f.boxPx), [cut.face.boxPx]);
  });

  test('merges one face seen whole by two tiles', () => {
    // In the overlap x 400-500, both tiles see the face whole; the boxes differ by a pixel.
    const a: TileDetection = { face: face(420, 100, 60, 0.9), tile: left };
    const b: TileDetection = { face: face(421, 101, 60, 0.7), tile: right };
    const merged = mergeTileDetections([a, b], mergeOptions);
    assert.equal(merged.length, 1);
    assert.equal(merged[0].score, 0.9);
    assert.ok(merged[0].boxPx.x > 420 && merged[0].boxPx.x < 421, `blended x ${merged[0].boxPx.x}`);
  });

  test('keeps separate faces in different tiles', () => {
    const merged = mergeTileDetections(
      [
        { face: face(100, 100, 60, 0.9), tile: left },
        { face: face(700, 100, 60, 0.8), tile: right },
      ],
      mergeOptions,
    );
    assert.equal(merged.length, 2);
  });

  test('drops detections wider than the tile is responsible for', () => {
    const small = tile({ x: 0, y: 0, width: 500, height: 500 }, 2, 0, 94);
    const merged = mergeTileDetections([{ face: face(100, 100, 200, 0.9), tile: small }], mergeOptions);
    assert.deepEqual(merged, []);
  });

  test('applies maxFaces after merging', () => {
    const detections = [0, 1, 2].map((i) => ({ face: face(20 + 150 * i, 300, 60, 0.9 - i / 10), tile: left }));
    assert.equal(mergeTileDetections(detections, { ...mergeOptions, maxFaces: 2 }).length, 2);
  });
});

describe('isGroupDetection', () => {
  const whole = tile({ x: 0, y: 0, width: 900, height: 500 }, 0, 150, Infinity);
  const fine = tile({ x: 0, y: 0, width: 500, height: 500 }, 1);
  const iouThreshold = mergeOptions.iouThreshold;

  test('below-range box around a finer face is a group', () => {
    const group: TileDetection = { face: face(100, 100, 136, 0.8), tile: whole };
    const inner: TileDetection = { face: face(120, 130, 40, 0.9), tile: fine };
    assert.equal(isGroupDetection(group, [group, inner], iouThreshold), true);
    assert.deepEqual(mergeTileDetections([group, inner], mergeOptions).map((f) => f.boxPx), [inner.face.boxPx]);
  });

  test('below-range box across two finer faces is a group', () => {
    // The coarse box covers the right part of one face and the left edge of its neighbour.
    const straddling: TileDetection = { face: face(743, 809, 63, 0.66), tile: whole };
    const left: TileDetection = { face: face(725, 804, 47, 0.88), tile: fine };
    const right: TileDetection = { face: face(798, 794, 46, 0.65), tile: fine };
    assert.equal(isGroupDetection(straddling, [straddling, left, right], iouThreshold), true);
    assert.equal(mergeTileDetections([straddling, left, right], { ...mergeOptions, imageWidth: 1920, imageHeight: 1280 }).length, 2);
  });

  test('below-range box with nothing inside is kept', () => {
    const lone: TileDetection = { face: face(100, 100, 136, 0.8), tile: whole };
    assert.equal(isGroupDetection(lone, [lone], iouThreshold), false);
  });

  test('box within the range is never a group', () => {
    const big: TileDetection = { face: face(100, 100, 200, 0.8), tile: whole };
    const inner: TileDetection = { face: face(120, 130, 40, 0.9), tile: fine };
    assert.equal(isGroupDetection(big, [big, inner], iouThreshold), false);
  });

  test('a same-size finer detection is the same face, not a group', () => {
    const coarse: TileDetection = { face: face(100, 100, 136, 0.8), tile: whole };
    const same: TileDetection = { face: face(102, 101, 134, 0.9), tile: fine };
    assert.equal(isGroupDetection(coarse, [coarse, same], iouThreshold), false);
  });

  test('finer detections beyond their own range do not count', () => {
    // The finer box is wider than its pass is responsible for, so merging drops it as well.
    const narrowFine = tile({ x: 0, y: 0, width: 500, height: 500 }, 1, 0, 30);
    const coarse: TileDetection = { face: face(100, 100, 136, 0.8), tile: whole };
    const inner: TileDetection = { face: face(120, 130, 40, 0.9), tile: narrowFine };
    assert.equal(isGroupDetection(coarse, [coarse, inner], iouThreshold), false);
  });

  test('same-level detections do not count', () => {
    const coarse: TileDetection = { face: face(100, 100, 136, 0.8), tile: whole };
    const neighbour: TileDetection = { face: face(120, 130, 40, 0.9), tile: whole };
    assert.equal(isGroupDetection(coarse, [coarse, neighbour], iouThreshold), false);
  });
});
