import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFacekitError } from '../src/errors.js';
import { BLAZEFACE_BACK_ANCHORS, BLAZEFACE_FULL_RANGE_ANCHORS, generateAnchors } from '../src/detect/anchors.js';

/** Largest allowed error of an anchor coordinate, as a fraction of the input (float32 rounding). */
const COORD_TOLERANCE = 1e-6;

function centerAt(anchors: ReturnType<typeof generateAnchors>, index: number): [number, number] {
  return [anchors.centersRel[2 * index], anchors.centersRel[2 * index + 1]];
}

function assertCenter(actual: [number, number], expected: [number, number], label: string): void {
  assert.ok(Math.abs(actual[0] - expected[0]) <= COORD_TOLERANCE, `${label}: x ${actual[0]} != ${expected[0]}`);
  assert.ok(Math.abs(actual[1] - expected[1]) <= COORD_TOLERANCE, `${label}: y ${actual[1]} != ${expected[1]}`);
}

describe('generateAnchors for the BlazeFace back model', () => {
  const anchors = generateAnchors(BLAZEFACE_BACK_ANCHORS);

  test('count is 512 + 384', () => {
    assert.equal(anchors.count, 896);
    assert.equal(anchors.centersRel.length, 896 * 2);
  });

  test('stride-16 map comes first, 2 per cell', () => {
    // Cell (0, 0) of the 16×16 map: centre at 8 px of 256.
    assertCenter(centerAt(anchors, 0), [8 / 256, 8 / 256], 'anchor 0');
    assertCenter(centerAt(anchors, 1), [8 / 256, 8 / 256], 'anchor 1');
    // Cell (row 0, column 1).
    assertCenter(centerAt(anchors, 2), [24 / 256, 8 / 256], 'anchor 2');
    // Cell (row 1, column 0) starts after 16 cells of 2 anchors.
    assertCenter(centerAt(anchors, 32), [8 / 256, 24 / 256], 'anchor 32');
    // Last cell of the 16×16 map.
    assertCenter(centerAt(anchors, 511), [248 / 256, 248 / 256], 'anchor 511');
  });

  test('stride-32 map follows, 6 per cell', () => {
    for (let i = 512; i < 518; i++) assertCenter(centerAt(anchors, i), [16 / 256, 16 / 256], `anchor ${i}`);
    assertCenter(centerAt(anchors, 518), [48 / 256, 16 / 256], 'anchor 518');
    assertCenter(centerAt(anchors, 895), [240 / 256, 240 / 256], 'anchor 895');
  });
});

describe('generateAnchors for the BlazeFace full-range model', () => {
  const anchors = generateAnchors(BLAZEFACE_FULL_RANGE_ANCHORS);

  test('count is 48 × 48', () => {
    assert.equal(anchors.count, 2304);
  });

  test('one anchor per stride-4 cell', () => {
    assertCenter(centerAt(anchors, 0), [2 / 192, 2 / 192], 'anchor 0');
    assertCenter(centerAt(anchors, 1), [6 / 192, 2 / 192], 'anchor 1');
    assertCenter(centerAt(anchors, 48), [2 / 192, 6 / 192], 'anchor 48');
    assertCenter(centerAt(anchors, 2303), [190 / 192, 190 / 192], 'anchor 2303');
  });
});

describe('generateAnchors', () => {
  test('applies the offset within a cell', () => {
    const anchors = generateAnchors({ inputWidth: 8, inputHeight: 4, strides: [4], anchorsPerLayer: 1, offsetX: 0, offsetY: 1 });
    assert.equal(anchors.count, 2);
    assertCenter(centerAt(anchors, 0), [0, 1], 'anchor 0');
    assertCenter(centerAt(anchors, 1), [0.5, 1], 'anchor 1');
  });

  test('rounds a partial cell up', () => {
    // ceil(10 / 4) = 3 columns and rows, as MediaPipe's SsdAnchorsCalculator sizes its feature maps.
    const anchors = generateAnchors({ inputWidth: 10, inputHeight: 10, strides: [4], anchorsPerLayer: 1, offsetX: 0.5, offsetY: 0.5 });
    assert.equal(anchors.count, 9);
    assertCenter(centerAt(anchors, 2), [2.5 / 3, 0.5 / 3], 'anchor 2');
  });

  test('rejects invalid settings', () => {
    const base = BLAZEFACE_BACK_ANCHORS;
    const cases: Array<[string, unknown]> = [
      ['config.inputWidth', { ...base, inputWidth: 0 }],
      ['config.anchorsPerLayer', { ...base, anchorsPerLayer: 1.5 }],
      ['config.offsetX', { ...base, offsetX: 2 }],
      ['config.strides', { ...base, strides: [] }],
      ['config.strides', { ...base, strides: [16, -32] }],
      ['config', null],
    ];
    for (const [name, config] of cases) {
      assert.throws(
        () => generateAnchors(config as typeof base),
        (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name),
        `expected ERR_INVALID_ARGUMENT naming ${name}`,
      );
    }
  });
});
