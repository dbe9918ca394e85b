import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FacekitError } from '../src/errors.js';
import { MARK_COLORS, annotateImage, escapeXml, type Annotation } from '../src/image/annotate.js';
import { decodeImage } from '../src/image/decode.js';
import type { RgbImage } from '../src/types.js';

const BACKGROUND: [number, number, number] = [60, 60, 60];
const GREEN: [number, number, number] = [0x00, 0xc8, 0x53]; // MARK_COLORS.known
const ORANGE: [number, number, number] = [0xff, 0x6d, 0x00]; // MARK_COLORS.unknown
/**
 * Per-channel difference, in 8-bit levels, allowed where a mark is drawn. The checked
 * pixels lie on pixel-aligned outlines and tags and measure 0 with sharp 0.35.
 */
const COLOUR_TOLERANCE = 2;

function plainImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(BACKGROUND, i);
  return { data, width, height };
}

function pixelAt(image: RgbImage, x: number, y: number): [number, number, number] {
  const offset = (y * image.width + x) * 3;
  return [image.data[offset]!, image.data[offset + 1]!, image.data[offset + 2]!];
}

function assertColour(image: RgbImage, x: number, y: number, expected: readonly number[], what: string): void {
  const actual = pixelAt(image, x, y);
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(actual[c]! - expected[c]!) <= COLOUR_TOLERANCE,
      `${what} at (${x}, ${y}) is ${actual.join(',')}, expected ${expected.join(',')}`,
    );
  }
}

async function annotatePng(image: RgbImage, marks: Annotation[], lineWidthPx?: number): Promise<RgbImage> {
  const png = await annotateImage(image, marks, { format: 'png', ...(lineWidthPx === undefined ? {} : { lineWidthPx }) });
  return decodeImage(png);
}

describe('annotateImage', () => {
  test('box edges take the mark colour', async () => {
    const box = { x: 40, y: 50, width: 80, height: 70 };

    const result = await annotatePng(plainImage(200, 160), [{ boxPx: box, color: MARK_COLORS.known }]);

    assertColour(result, box.x, box.y + 35, GREEN, 'left edge');
    assertColour(result, box.x + box.width - 1, box.y + 35, GREEN, 'right edge');
    assertColour(result, box.x + 40, box.y, GREEN, 'top edge');
    assertColour(result, box.x + 40, box.y + box.height - 1, GREEN, 'bottom edge');
  });

  test('pixels away from marks are unchanged', async () => {
    const box = { x: 40, y: 50, width: 80, height: 70 };

    const result = await annotatePng(plainImage(200, 160), [{ boxPx: box, label: 'Alice', keypointsPx: [[70, 80]] }]);

    assert.deepEqual(pixelAt(result, 190, 150), BACKGROUND, 'far corner');
    assert.deepEqual(pixelAt(result, box.x - 2, box.y + 35), BACKGROUND, 'just outside the left edge');
    assert.deepEqual(pixelAt(result, box.x + 60, box.y + 50), BACKGROUND, 'inside the box');
  });

  test('label tag sits above the box', async () => {
    const box = { x: 40, y: 50, width: 80, height: 70 };

    const result = await annotatePng(plainImage(200, 160), [{ boxPx: box, label: 'Alice', color: MARK_COLORS.unknown }]);

    // x + 1 lies in the tag's left padding, where no glyph is drawn.
    assertColour(result, box.x + 1, box.y - 5, ORANGE, 'tag above the box');
    assert.deepEqual(pixelAt(result, box.x + 10, box.y + 10), BACKGROUND, 'inside the box below the tag');
  });

  test('label moves inside a box at the top edge', async () => {
    const box = { x: 40, y: 0, width: 80, height: 70 };
    const lineWidthPx = 2;

    const withLabel = await annotatePng(plainImage(200, 160), [{ boxPx: box, label: 'Bob' }], lineWidthPx);
    const withoutLabel = await annotatePng(plainImage(200, 160), [{ boxPx: box }], lineWidthPx);

    // Inside the box, right of the outline, in the tag's left padding.
    const x = box.x + lineWidthPx + 1;
    assertColour(withLabel, x, 8, GREEN, 'tag inside the box');
    assert.deepEqual(pixelAt(withoutLabel, x, 8), BACKGROUND, 'same pixel without a label');
  });

  test('keypoints are drawn as dots', async () => {
    const result = await annotatePng(plainImage(200, 160), [
      { boxPx: { x: 40, y: 50, width: 80, height: 70 }, keypointsPx: [[70, 80], [90.5, 80.5]] },
    ]);

    assertColour(result, 70, 80, GREEN, 'first keypoint');
    assertColour(result, 90, 80, GREEN, 'second keypoint');
  });

  test('each mark keeps its colour', async () => {
    const result = await annotatePng(plainImage(200, 160), [
      { boxPx: { x: 10, y: 30, width: 60, height: 60 }, color: MARK_COLORS.known },
      { boxPx: { x: 110, y: 30, width: 60, height: 60 }, color: MARK_COLORS.unknown },
    ]);

    assertColour(result, 10, 60, GREEN, 'first box');
    assertColour(result, 110, 60, ORANGE, 'second box');
  });

  test('line width scales with image size', async () => {
    const small = await annotatePng(plainImage(300, 300), [{ boxPx: { x: 50, y: 50, width: 100, height: 100 } }]);
    const large = await annotatePng(plainImage(1200, 1200), [{ boxPx: { x: 50, y: 50, width: 100, height: 100 } }]);

    // Default line width: shorter side / 300, at least 2 → 2 px and 4 px.
    assertColour(small, 51, 100, GREEN, 'small image, second column of the outline');
    assert.deepEqual(pixelAt(small, 52, 100), BACKGROUND, 'small image, third column');
    assertColour(large, 53, 100, GREEN, 'large image, fourth column of the outline');
    assert.deepEqual(pixelAt(large, 54, 100), BACKGROUND, 'large image, fifth column');
  });

  test('XML special characters in labels', async () => {
    const labels = ['<&"\'>', 'Élodie & 顔 <script>', ']]><!--', 'tab\tand\nnewline', 'bell\u0007 and lone \uD800 surrogate'];
    for (const label of labels) {
      const result = await annotatePng(plainImage(200, 160), [{ boxPx: { x: 40, y: 50, width: 80, height: 70 }, label }]);

      assertColour(result, 41, 45, GREEN, `tag for ${JSON.stringify(label)}`);
    }
  });

  test('escapeXml escapes markup characters', () => {
    assert.equal(escapeXml(`<a href="x">Tom & Jerry's</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;');
  });

  test('JPEG by default, PNG on request', async () => {
    const marks = [{ boxPx: { x: 10, y: 10, width: 20, height: 20 } }];

    const jpeg = await annotateImage(plainImage(64, 48), marks);
    const png = await annotateImage(plainImage(64, 48), marks, { format: 'png' });

    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal((await decodeImage(jpeg)).width, 64);
  });

  test('input image is not modified', async () => {
    const image = plainImage(64, 48);
    const before = Buffer.from(image.data);

    await annotateImage(image, [{ boxPx: { x: 0, y: 0, width: 64, height: 48 }, label: 'x' }]);

    assert.deepEqual(Buffer.from(image.data), before);
  });

  test('invalid marks and options are rejected', async () => {
    const image = plainImage(64, 48);
    const box = { x: 10, y: 10, width: 20, height: 20 };
    const cases: [unknown, unknown, string][] = [
      ['not an array', undefined, 'marks'],
      [[null], undefined, 'marks[0]'],
      [[{ boxPx: { ...box, width: 0 } }], undefined, 'marks[0].boxPx'],
      [[{ boxPx: { ...box, x: Number.NaN } }], undefined, 'marks[0].boxPx.x'],
      [[{ boxPx: box, color: 'green' }], undefined, 'marks[0].color'],
      [[{ boxPx: box, color: '#00c853" onload="x' }], undefined, 'marks[0].color'],
      [[{ boxPx: box, label: 42 }], undefined, 'marks[0].label'],
      [[{ boxPx: box, keypointsPx: [[1]] }], undefined, 'marks[0].keypointsPx[0]'],
      [[{ boxPx: box }], { format: 'gif' }, 'format'],
      [[{ boxPx: box }], { quality: 0 }, 'quality'],
      [[{ boxPx: box }], { lineWidthPx: -1 }, 'lineWidthPx'],
      [[{ boxPx: box }], { fontSizePx: Number.POSITIVE_INFINITY }, 'fontSizePx'],
    ];
    for (const [marks, options, parameter] of cases) {
      await assert.rejects(annotateImage(image, marks as Annotation[], options as object), (error: unknown) => {
        assert.ok(error instanceof FacekitError);
        assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
        assert.ok(error.message.includes(`Invalid ${parameter}:`), error.message);
        return true;
      });
    }
  });

  test('invalid image is rejected', async () => {
    const image = { data: new Uint8Array(10), width: 64, height: 48 };

    await assert.rejects(annotateImage(image, []), (error: unknown) => {
      assert.ok(error instanceof FacekitError);
      assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
      return true;
    });
  });
});
