import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import sharp from 'sharp';
import {
  BASE_HEIGHT,
  BASE_WIDTH,
  BOMB_HEIGHT,
  BOMB_WIDTH,
  FIXTURES,
  LARGE_FIXTURE_LIMIT,
  MARKER_SIZE,
  RGBA_HALF_ALPHA,
  RGBA_TRANSPARENT_FROM_ROW,
  TOP_LEFT_MARKER,
  TOP_RIGHT_MARKER,
  UNICODE_FILE_NAME,
  ensureFixtures,
  fixturePath,
  type FixtureName,
} from '../scripts/make-fixtures.js';
import { FacekitError, type ErrorCode } from '../src/errors.js';
import {
  DEFAULT_MAX_PIXELS,
  FLATTEN_BACKGROUND_RGB,
  decodeImage,
  encodeImage,
  imageFromRaw,
  resizeImage,
  type DecodedImage,
} from '../src/image/decode.js';
import type { RgbImage } from '../src/types.js';

/** Mean absolute difference, in 8-bit levels, allowed between a JPEG fixture and the lossless base (quality 95 measures about 1.3). */
const JPEG_MEAN_TOLERANCE = 3;
/** Mean absolute difference, in 8-bit levels, allowed after the 256-colour GIF palette (measures about 1.1). */
const GIF_MEAN_TOLERANCE = 3;
/**
 * Mean absolute difference, in 8-bit levels, allowed after a round trip through libvips'
 * built-in CMYK profile, outside the saturated markers (measures about 10 over the whole image).
 */
const CMYK_MEAN_TOLERANCE = 16;
/** Per-channel difference, in 8-bit levels, allowed between a marker block's mean colour and its painted colour. */
const MARKER_TOLERANCE = 20;
/** Per-channel difference, in 8-bit levels, allowed for the 16-bit to 8-bit conversion (rounding). */
const DEPTH_TOLERANCE = 1;
/** Per-channel difference, in 8-bit levels, allowed for alpha blending onto the grey background (rounding). */
const BLEND_TOLERANCE = 2;

let base: RgbImage;

before(async () => {
  await ensureFixtures();
  const { data, info } = await sharp(fixturePath('upright')).raw().toBuffer({ resolveWithObject: true });
  base = { data, width: info.width, height: info.height };
});

function pixelAt(image: RgbImage, x: number, y: number): [number, number, number] {
  const offset = (y * image.width + x) * 3;
  return [image.data[offset]!, image.data[offset + 1]!, image.data[offset + 2]!];
}

/** Mean colour of a square block, per channel. */
function blockMean(image: RgbImage, left: number, top: number, size: number): [number, number, number] {
  const sum = [0, 0, 0];
  for (let y = top; y < top + size; y++) {
    for (let x = left; x < left + size; x++) {
      const pixel = pixelAt(image, x, y);
      for (let c = 0; c < 3; c++) sum[c]! += pixel[c]!;
    }
  }
  return sum.map((value) => value / (size * size)) as [number, number, number];
}

/** Mean absolute difference in 8-bit levels over the pixels that `include` accepts (all by default). */
function meanAbsDiff(a: RgbImage, b: RgbImage, include: (x: number, y: number) => boolean = () => true): number {
  assert.equal(a.width, b.width, 'widths differ');
  assert.equal(a.height, b.height, 'heights differ');
  let sum = 0;
  let count = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (!include(x, y)) continue;
      const pa = pixelAt(a, x, y);
      const pb = pixelAt(b, x, y);
      for (let c = 0; c < 3; c++) sum += Math.abs(pa[c]! - pb[c]!);
      count += 3;
    }
  }
  return sum / count;
}

function assertColourNear(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(actual[c]! - expected[c]!) <= tolerance,
      `${what}: channel ${c} is ${actual[c]!.toFixed(1)}, expected ${expected[c]} ± ${tolerance} (colour ${actual.map((v) => v.toFixed(0)).join(',')})`,
    );
  }
}

/** Checks the green marker in the top-left corner and the blue marker in the top-right corner. */
function assertUpright(image: RgbImage, what: string): void {
  const inset = MARKER_SIZE / 4;
  const inner = MARKER_SIZE / 2;
  assertColourNear(blockMean(image, inset, inset, inner), TOP_LEFT_MARKER, MARKER_TOLERANCE, `${what} top-left marker`);
  assertColourNear(blockMean(image, image.width - inset - inner, inset, inner), TOP_RIGHT_MARKER, MARKER_TOLERANCE, `${what} top-right marker`);
}

function isInMarker(x: number, y: number): boolean {
  return y < MARKER_SIZE && (x < MARKER_SIZE || x >= BASE_WIDTH - MARKER_SIZE);
}

function assertBaseSize(image: DecodedImage): void {
  assert.equal(image.width, BASE_WIDTH);
  assert.equal(image.height, BASE_HEIGHT);
  assert.equal(image.data.length, BASE_WIDTH * BASE_HEIGHT * 3);
}

/** Asserts a FacekitError with `code` whose message names the file and whose `path` is set. */
async function assertDecodeError(name: FixtureName, code: ErrorCode, options?: Parameters<typeof decodeImage>[1]): Promise<FacekitError> {
  const file = fixturePath(name);
  let caught: unknown;
  try {
    await decodeImage(file, options);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FacekitError, `expected a FacekitError for ${FIXTURES[name].file}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.path, file);
  assert.ok(caught.message.includes(FIXTURES[name].file), `message does not name the file: ${caught.message}`);
  return caught;
}

describe('decodeImage', () => {
  test('lossless PNG decodes exactly', async () => {
    const image = await decodeImage(fixturePath('upright'));

    assertBaseSize(image);
    assert.deepEqual(Buffer.from(image.data), Buffer.from(base.data));
    assert.equal(image.format, 'png');
    assert.equal(image.source, fixturePath('upright'));
  });

  for (const orientation of [2, 3, 4, 5, 6, 7, 8] as const) {
    test(`EXIF orientation ${orientation} is applied`, async () => {
      const file = fixturePath(`orientation${orientation}`);
      const stored = await sharp(file).metadata();
      assert.equal(stored.orientation, orientation, 'fixture lacks its orientation tag');

      const image = await decodeImage(file);

      assertBaseSize(image);
      assertUpright(image, `orientation ${orientation}`);
      const diff = meanAbsDiff(image, base);
      assert.ok(diff < JPEG_MEAN_TOLERANCE, `mean difference from the upright base is ${diff.toFixed(2)} levels`);
    });
  }

  test('greyscale JPEG becomes 3 equal channels', async () => {
    const image = await decodeImage(fixturePath('grayJpeg'));

    assertBaseSize(image);
    for (let i = 0; i < image.width * image.height; i++) {
      const [r, g, b] = [image.data[i * 3], image.data[i * 3 + 1], image.data[i * 3 + 2]];
      assert.equal(g, r, `pixel ${i}: G differs from R`);
      assert.equal(b, r, `pixel ${i}: B differs from R`);
    }
    assert.equal(image.format, 'jpeg');
  });

  test('1-channel PNG keeps its grey values', async () => {
    const file = fixturePath('grayPng');
    const stored = await sharp(file).metadata();
    assert.equal(stored.channels, 1, 'fixture is not 1-channel');
    const grey = await sharp(file).toColourspace('b-w').raw().toBuffer();
    assert.equal(grey.length, BASE_WIDTH * BASE_HEIGHT);

    const image = await decodeImage(file);

    assertBaseSize(image);
    for (let i = 0; i < grey.length; i++) {
      const pixel = [image.data[i * 3], image.data[i * 3 + 1], image.data[i * 3 + 2]];
      assert.deepEqual(pixel, [grey[i], grey[i], grey[i]], `pixel ${i}`);
    }
  });

  test('alpha is flattened onto neutral grey', async () => {
    const image = await decodeImage(fixturePath('rgba'));

    assertBaseSize(image);
    const opaque = meanAbsDiff(image, base, (_x, y) => y < RGBA_TRANSPARENT_FROM_ROW);
    assert.equal(opaque, 0, 'opaque pixels changed');

    const transparent = pixelAt(image, 10, BASE_HEIGHT - 10);
    assert.deepEqual(transparent, [...FLATTEN_BACKGROUND_RGB], 'fully transparent red pixel');

    // Red (255, 0, 0) at alpha a over grey g: a/255 × 255 + (1 − a/255) × g per channel.
    const weight = RGBA_HALF_ALPHA / 255;
    const [greyR, greyG, greyB] = FLATTEN_BACKGROUND_RGB;
    const expectedBlend = [255 * weight + greyR * (1 - weight), greyG * (1 - weight), greyB * (1 - weight)];
    assertColourNear(pixelAt(image, BASE_WIDTH - 10, BASE_HEIGHT - 10), expectedBlend, BLEND_TOLERANCE, 'half-transparent red pixel');
  });

  test('CMYK JPEG is converted to sRGB', async () => {
    const stored = await sharp(fixturePath('cmyk')).metadata();
    assert.equal(stored.space, 'cmyk', 'fixture is not CMYK');

    const image = await decodeImage(fixturePath('cmyk'));

    assertBaseSize(image);
    // The pure green and blue markers lie outside the CMYK gamut, so only the photo is compared.
    const diff = meanAbsDiff(image, base, (x, y) => !isInMarker(x, y));
    assert.ok(diff < CMYK_MEAN_TOLERANCE, `mean difference from the RGB source is ${diff.toFixed(2)} levels`);
  });

  for (const name of ['png16', 'tiff16'] as const) {
    test(`16-bit ${FIXTURES[name].file} becomes 8-bit`, async () => {
      const stored = await sharp(fixturePath(name)).metadata();
      assert.equal(stored.depth, 'ushort', 'fixture is not 16-bit');

      const image = await decodeImage(fixturePath(name));

      assertBaseSize(image);
      for (let i = 0; i < image.data.length; i++) {
        assert.ok(Math.abs(image.data[i]! - base.data[i]!) <= DEPTH_TOLERANCE, `byte ${i} is ${image.data[i]}, expected ${base.data[i]}`);
      }
    });
  }

  test('animated GIF yields its first frame', async () => {
    const stored = await sharp(fixturePath('animatedGif')).metadata();
    assert.equal(stored.pages, 2, 'fixture is not a 2-frame animation');

    const image = await decodeImage(fixturePath('animatedGif'));

    assertBaseSize(image);
    assertUpright(image, 'first GIF frame');
    const diff = meanAbsDiff(image, base);
    assert.ok(diff < GIF_MEAN_TOLERANCE, `mean difference from frame 1 is ${diff.toFixed(2)} levels`);
    assert.equal(image.format, 'gif');
  });

  test('animated WebP yields its first frame', async () => {
    const image = await decodeImage(fixturePath('animatedWebp'));

    assertBaseSize(image);
    assert.deepEqual(Buffer.from(image.data), Buffer.from(base.data));
    assert.equal(image.format, 'webp');
  });

  test('Unicode file name is read', async () => {
    const file = fixturePath('unicodeName');
    assert.equal(path.basename(file), UNICODE_FILE_NAME);

    const image = await decodeImage(file);

    assertBaseSize(image);
    assert.equal(image.source, file);
  });

  test('Buffer and Uint8Array input', async () => {
    const bytes = await sharp(fixturePath('upright')).png().toBuffer();

    const fromBuffer = await decodeImage(bytes);
    const fromView = await decodeImage(new Uint8Array(bytes));
    const named = await decodeImage(bytes, { sourceName: 'upload.png' });

    assert.equal(fromBuffer.source, '<buffer>');
    assert.deepEqual(Buffer.from(fromBuffer.data), Buffer.from(base.data));
    assert.deepEqual(Buffer.from(fromView.data), Buffer.from(base.data));
    assert.equal(named.source, 'upload.png');
  });

  test('missing file is ERR_FILE_NOT_FOUND', async () => {
    const file = path.join(path.dirname(fixturePath('upright')), 'no-such-photo.jpg');

    await assert.rejects(decodeImage(file), (error: unknown) => {
      assert.ok(error instanceof FacekitError);
      assert.equal(error.code, 'ERR_FILE_NOT_FOUND');
      assert.equal(error.path, file);
      assert.ok(error.message.includes('no-such-photo.jpg'), error.message);
      return true;
    });
  });

  test('zero-byte file is ERR_EMPTY_FILE', async () => {
    await assertDecodeError('empty', 'ERR_EMPTY_FILE');
  });

  test('empty buffer is ERR_EMPTY_FILE', async () => {
    await assert.rejects(decodeImage(Buffer.alloc(0), { sourceName: 'upload.jpg' }), (error: unknown) => {
      assert.ok(error instanceof FacekitError);
      assert.equal(error.code, 'ERR_EMPTY_FILE');
      assert.ok(error.message.includes('upload.jpg'), error.message);
      return true;
    });
  });

  test('text file is ERR_UNSUPPORTED_IMAGE', async () => {
    await assertDecodeError('text', 'ERR_UNSUPPORTED_IMAGE');
  });

  test('folder is ERR_UNSUPPORTED_IMAGE', async () => {
    const folder = path.dirname(fixturePath('upright'));

    await assert.rejects(decodeImage(folder), (error: unknown) => {
      assert.ok(error instanceof FacekitError);
      assert.equal(error.code, 'ERR_UNSUPPORTED_IMAGE');
      assert.equal(error.path, folder);
      return true;
    });
  });

  test('truncated JPEG is ERR_CORRUPT_IMAGE', async () => {
    await assertDecodeError('truncatedJpeg', 'ERR_CORRUPT_IMAGE');
  });

  test('truncated PNG is ERR_CORRUPT_IMAGE', async () => {
    await assertDecodeError('truncatedPng', 'ERR_CORRUPT_IMAGE');
  });

  test('damaged PNG header is ERR_CORRUPT_IMAGE', async () => {
    await assertDecodeError('truncatedHeaderPng', 'ERR_CORRUPT_IMAGE');
  });

  test('image over maxPixels is ERR_IMAGE_TOO_LARGE', async () => {
    const error = await assertDecodeError('large', 'ERR_IMAGE_TOO_LARGE', { maxPixels: LARGE_FIXTURE_LIMIT });

    assert.ok(error.message.includes(String(LARGE_FIXTURE_LIMIT)), error.message);
  });

  test('image under default maxPixels decodes', async () => {
    const image = await decodeImage(fixturePath('large'));

    assert.equal(image.width * image.height > LARGE_FIXTURE_LIMIT, true);
    assert.deepEqual(pixelAt(image, 0, 0), [90, 90, 90]);
  });

  test('pixel limit is checked on the header', async () => {
    // bomb.png has a valid header but almost no pixel data. Only a check on the header
    // can report ERR_IMAGE_TOO_LARGE, because decoding it would give ERR_CORRUPT_IMAGE.
    assert.ok(BOMB_WIDTH * BOMB_HEIGHT > DEFAULT_MAX_PIXELS);

    const error = await assertDecodeError('bomb', 'ERR_IMAGE_TOO_LARGE');

    assert.ok(error.message.includes(`${BOMB_WIDTH}×${BOMB_HEIGHT}`), error.message);
  });

  test('unreadable file is reported', { skip: process.getuid?.() === 0 ? 'root can read any file' : false }, async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'facekit-decode-'));
    const file = path.join(folder, 'locked.jpg');
    try {
      await copyFile(fixturePath('uprightJpeg'), file);
      await chmod(file, 0o000);

      await assert.rejects(decodeImage(file), (error: unknown) => {
        assert.ok(error instanceof FacekitError);
        assert.equal(error.code, 'ERR_FILE_NOT_FOUND');
        assert.ok(error.message.includes('locked.jpg'), error.message);
        return true;
      });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('invalid input and options are rejected', async () => {
    const cases: [unknown, unknown, string][] = [
      [42, undefined, 'input'],
      ['', undefined, 'input'],
      [fixturePath('upright'), null, 'options'],
      [fixturePath('upright'), { maxPixels: 0 }, 'maxPixels'],
      [fixturePath('upright'), { maxPixels: -5 }, 'maxPixels'],
      [fixturePath('upright'), { maxPixels: 1.5 }, 'maxPixels'],
      [fixturePath('upright'), { maxPixels: Number.NaN }, 'maxPixels'],
      [fixturePath('upright'), { maxPixels: '100' }, 'maxPixels'],
      [Buffer.from([1]), { sourceName: '' }, 'sourceName'],
    ];
    for (const [input, options, parameter] of cases) {
      await assert.rejects(
        decodeImage(input as string, options as object),
        (error: unknown) => {
          assert.ok(error instanceof FacekitError);
          assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
          assert.ok(error.message.includes(parameter), `message for ${JSON.stringify(options)} does not name ${parameter}: ${error.message}`);
          return true;
        },
      );
    }
  });
});

describe('imageFromRaw', () => {
  test('valid image is returned', () => {
    const data = new Uint8Array(2 * 3 * 3);

    const image = imageFromRaw({ data, width: 2, height: 3 });

    assert.equal(image.data, data);
    assert.equal(image.width, 2);
    assert.equal(image.height, 3);
  });

  test('Uint8ClampedArray is viewed as bytes', () => {
    const data = new Uint8ClampedArray([1, 2, 3]);

    const image = imageFromRaw({ data, width: 1, height: 1 });

    assert.ok(image.data instanceof Uint8Array);
    assert.deepEqual([...image.data], [1, 2, 3]);
    assert.equal(image.data.buffer, data.buffer);
  });

  test('bad images are ERR_INVALID_ARGUMENT', () => {
    const cases: [unknown, string][] = [
      [null, 'image'],
      [{ data: new Uint8Array(12), width: 2, height: 3 }, 'image.data length'],
      [{ data: new Uint8Array(24), width: 2, height: 3 }, 'image.data length'],
      [{ data: [0, 0, 0], width: 1, height: 1 }, 'image.data'],
      [{ data: new Uint8Array(3), width: 0, height: 1 }, 'image.width'],
      [{ data: new Uint8Array(3), width: 1, height: 1.5 }, 'image.height'],
    ];
    for (const [value, parameter] of cases) {
      assert.throws(
        () => imageFromRaw(value),
        (error: unknown) => {
          assert.ok(error instanceof FacekitError);
          assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
          assert.ok(error.message.includes(`Invalid ${parameter}:`), error.message);
          return true;
        },
      );
    }
  });

  test('length message gives expected size', () => {
    assert.throws(() => imageFromRaw({ data: new Uint8Array(10), width: 2, height: 3 }, 'frame'), /Invalid frame\.data length: expected 18 bytes.*received number 10/);
  });
});

describe('encodeImage and resizeImage', () => {
  test('PNG round trip is lossless', async () => {
    const png = await encodeImage(base, 'png');

    const decoded = await decodeImage(png);

    assert.deepEqual(Buffer.from(decoded.data), Buffer.from(base.data));
  });

  test('JPEG keeps size and content', async () => {
    const jpeg = await encodeImage(base, 'jpeg', 95);

    const decoded = await decodeImage(jpeg);

    assert.equal(decoded.format, 'jpeg');
    assert.ok(meanAbsDiff(decoded, base) < JPEG_MEAN_TOLERANCE);
  });

  test('bad format and quality are rejected', async () => {
    await assert.rejects(encodeImage(base, 'gif' as 'png'), /Invalid format/);
    await assert.rejects(encodeImage(base, 'jpeg', 0), /Invalid quality/);
    await assert.rejects(encodeImage(base, 'jpeg', 101), /Invalid quality/);
    await assert.rejects(encodeImage(base, 'jpeg', 80.5), /Invalid quality/);
  });

  test('resize fill gives exact size', async () => {
    const resized = await resizeImage(base, { width: 60, height: 40 });

    assert.equal(resized.width, 60);
    assert.equal(resized.height, 40);
    assert.equal(resized.data.length, 60 * 40 * 3);
    assertColourNear(pixelAt(resized, 2, 2), TOP_LEFT_MARKER, MARKER_TOLERANCE, 'top-left marker after resize');
  });

  test('resize contain pads with grey', async () => {
    const resized = await resizeImage(base, { width: 100, height: 50, fit: 'contain' });

    assert.equal(resized.data.length, 100 * 50 * 3);
    assert.deepEqual(pixelAt(resized, 0, 25), [...FLATTEN_BACKGROUND_RGB]);
    assert.deepEqual(pixelAt(resized, 99, 25), [...FLATTEN_BACKGROUND_RGB]);
  });

  test('bad resize options are rejected', async () => {
    await assert.rejects(resizeImage(base, { width: 0, height: 10 }), /Invalid width/);
    await assert.rejects(resizeImage(base, { width: 10, height: 2.5 }), /Invalid height/);
    await assert.rejects(resizeImage(base, { width: 10, height: 10, fit: 'stretch' as 'fill' }), /Invalid fit/);
  });
});
