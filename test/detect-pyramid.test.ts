import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFacekitError } from '../src/errors.js';
import { MAX_LEVEL_SCALE, planScalePyramid, RANGE_OVERLAP_MARGIN, type ScalePyramidRequest } from '../src/detect/pyramid.js';

/** The back model's settings, as the registry and `DETECTOR_MODELS.blazeface` state them. */
const BACK_MODEL = { baseSizePx: 256, canvasMultiplePx: 32, minDetectableFacePx: 20, maxDetectableFacePx: 192 };

/** Largest allowed error of a computed scale or face width (float rounding). */
const TOLERANCE = 1e-9;

function request(imageWidth: number, imageHeight: number, minFaceSizePx = 40): ScalePyramidRequest {
  return { imageWidth, imageHeight, minFaceSizePx, ...BACK_MODEL };
}

/** Image sizes and minimum face widths that the plan tests run over. */
const CASES: Array<[number, number, number]> = [
  [1920, 1280, 40],
  [1080, 1920, 40],
  [4032, 3024, 40],
  [8000, 6000, 40],
  [1920, 1280, 5],
  [640, 480, 40],
  [1921, 301, 40],
  [1000, 1000, 25],
  [100, 50, 40],
];

describe('planScalePyramid', () => {
  test('1920×1280 photo, 40-px faces', () => {
    const levels = planScalePyramid(request(1920, 1280));
    // Level 0 scales the long side to 256 and finds faces from 20 × 7.5 = 150 px. Level 1 puts a
    // 40-px face at 20 px (scale 0.5) and is responsible for faces up to 150 × 1.5 = 225 px.
    assert.equal(levels.length, 2);
    assert.deepEqual(
      levels.map((level) => [level.level, level.canvasWidthPx, level.canvasHeightPx]),
      [
        [0, 256, 192],
        [1, 960, 640],
      ],
    );
    assert.ok(Math.abs(levels[0].scale - 256 / 1920) < TOLERANCE, `level 0 scale ${levels[0].scale}`);
    assert.equal(levels[1].scale, 0.5);
    assert.ok(Math.abs(levels[0].reliableMinFacePx - 150) < TOLERANCE, `level 0 reliable min ${levels[0].reliableMinFacePx}`);
    assert.equal(levels[0].reliableMaxFacePx, Infinity);
    assert.equal(levels[1].reliableMinFacePx, 0);
    assert.ok(Math.abs(levels[1].reliableMaxFacePx - 225) < TOLERANCE, `level 1 reliable max ${levels[1].reliableMaxFacePx}`);
    for (const level of levels) assert.deepEqual(level.regionPx, { x: 0, y: 0, width: 1920, height: 1280 });
  });

  test('canvases hold the scaled image, padded to multiples of 32', () => {
    for (const [width, height, minFace] of CASES) {
      for (const level of planScalePyramid(request(width, height, minFace))) {
        const label = `${width}×${height} level ${level.level}`;
        assert.equal(level.canvasWidthPx % 32, 0, `${label}: canvas width ${level.canvasWidthPx}`);
        assert.equal(level.canvasHeightPx % 32, 0, `${label}: canvas height ${level.canvasHeightPx}`);
        assert.ok(level.canvasWidthPx >= width * level.scale - TOLERANCE, `${label}: canvas width ${level.canvasWidthPx} < ${width * level.scale}`);
        assert.ok(level.canvasHeightPx >= height * level.scale - TOLERANCE, `${label}: canvas height ${level.canvasHeightPx} < ${height * level.scale}`);
        assert.ok(level.canvasWidthPx < width * level.scale + 32, `${label}: canvas width ${level.canvasWidthPx} pads 32 px or more`);
        assert.ok(level.canvasHeightPx < height * level.scale + 32, `${label}: canvas height ${level.canvasHeightPx} pads 32 px or more`);
      }
    }
  });

  test('level 0 scales the long side to 256', () => {
    for (const [width, height, minFace] of CASES) {
      const [level0] = planScalePyramid(request(width, height, minFace));
      assert.ok(Math.abs(Math.max(width, height) * level0.scale - 256) < 1e-6, `${width}×${height}: long side ${Math.max(width, height) * level0.scale}`);
    }
  });

  test('every face width from minFaceSize up has a level', () => {
    for (const [width, height, minFace] of CASES) {
      const levels = planScalePyramid(request(width, height, minFace));
      const finest = levels[levels.length - 1];
      // Below the finest level's reach, faces are found only by chance (no upsampling past scale 1).
      const smallest = Math.max(minFace, BACK_MODEL.minDetectableFacePx / finest.scale);
      for (let face = smallest; face <= Math.max(width, height); face *= 1.05) {
        // Some level must be responsible for the face and see it within the detector's reliable range.
        const owners = levels.filter((level) => face >= level.reliableMinFacePx && face <= level.reliableMaxFacePx);
        const label = `${width}×${height}, ${face.toFixed(1)}-px face`;
        assert.ok(owners.length > 0, `${label}: no level is responsible for it`);
        const seen = owners.some((level) => {
          const inputPx = face * level.scale;
          return inputPx >= BACK_MODEL.minDetectableFacePx - TOLERANCE && (inputPx <= BACK_MODEL.maxDetectableFacePx || level.level === 0);
        });
        assert.ok(seen, `${label}: no responsible level sees it at 20-192 input px`);
      }
    }
  });

  test('neighbouring levels stay within the overlap limit', () => {
    const maxRatio = BACK_MODEL.maxDetectableFacePx / (BACK_MODEL.minDetectableFacePx * RANGE_OVERLAP_MARGIN);
    for (const [width, height, minFace] of CASES) {
      const levels = planScalePyramid(request(width, height, minFace));
      levels.forEach((level, i) => assert.equal(level.level, i, `${width}×${height}: level numbers`));
      for (let i = 1; i < levels.length; i++) {
        const ratio = levels[i].scale / levels[i - 1].scale;
        const label = `${width}×${height}: levels ${i - 1}-${i} are ${ratio.toFixed(3)}× apart`;
        assert.ok(ratio > 1, label);
        assert.ok(ratio <= maxRatio + TOLERANCE, label);
      }
    }
  });

  test('8000×6000 photo needs three levels', () => {
    // 256 / 8000 to 0.5 is 15.6×, more than the 6.4× one step allows: two steps of 3.95×.
    const levels = planScalePyramid(request(8000, 6000));
    assert.equal(levels.length, 3);
    assert.equal(levels[2].scale, 0.5);
    assert.deepEqual([levels[2].canvasWidthPx, levels[2].canvasHeightPx], [4000, 3008]);
  });

  test('small photo needs only level 0', () => {
    // A 40-px face in a 512-px photo is 20 px at level 0.
    const levels = planScalePyramid(request(512, 384));
    assert.equal(levels.length, 1);
    assert.equal(levels[0].reliableMinFacePx, 0);
    assert.equal(levels[0].reliableMaxFacePx, Infinity);
  });

  test('never upsamples past scale 1', () => {
    const levels = planScalePyramid(request(1920, 1280, 5));
    const finest = levels[levels.length - 1];
    assert.equal(finest.scale, MAX_LEVEL_SCALE);
    assert.deepEqual([finest.canvasWidthPx, finest.canvasHeightPx], [1920, 1280]);
  });

  test('image smaller than 256 px keeps level 0 upsampled', () => {
    const levels = planScalePyramid(request(100, 50));
    assert.equal(levels.length, 1);
    assert.equal(levels[0].scale, 2.56);
    assert.deepEqual([levels[0].canvasWidthPx, levels[0].canvasHeightPx], [256, 128]);
  });

  test('rejects invalid requests', () => {
    const cases: Array<[string, Partial<ScalePyramidRequest>]> = [
      ['imageWidth', { imageWidth: 0 }],
      ['imageHeight', { imageHeight: 12.5 }],
      ['baseSizePx', { baseSizePx: -256 }],
      ['canvasMultiplePx', { canvasMultiplePx: 0 }],
      ['minFaceSizePx', { minFaceSizePx: 0 }],
      ['minDetectableFacePx', { minDetectableFacePx: Number.NaN }],
      ['maxDetectableFacePx', { maxDetectableFacePx: Infinity }],
      // A range of 1.5× or less leaves no room between levels.
      ['maxDetectableFacePx', { maxDetectableFacePx: 30 }],
    ];
    for (const [name, change] of cases) {
      assert.throws(
        () => planScalePyramid({ ...request(1920, 1280), ...change }),
        (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name),
        `expected ERR_INVALID_ARGUMENT naming ${name}`,
      );
    }
    assert.throws(() => planScalePyramid(null as never), (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT'));
  });
});
