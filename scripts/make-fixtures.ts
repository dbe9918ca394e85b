/**
 * Generates the image-decoding test fixtures into `test/fixtures/generated/` (gitignored).
 *
 * Every fixture derives from one face photo: a crop of
 * `node_modules/@vladmandic/face-api/demo/sample1.jpg` (a dev dependency), so no
 * third-party image is committed. `FIXTURES` below is the registry: file name and how
 * each file was made.
 *
 * Run `npm run fixtures` to regenerate them all. Tests call `ensureFixtures()`, which
 * regenerates only when the folder is missing or was made by another generator version.
 */

import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp, { type Sharp } from 'sharp';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'generated');
const SOURCE_PHOTO = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo', 'sample1.jpg');

/** Bump when any fixture changes, so `ensureFixtures()` regenerates stale folders. */
const GENERATOR_VERSION = 1;
const STAMP_FILE = 'fixtures.json';

/** Face region in sample1.jpg (1920×1280): the woman on the left, head and shoulders. */
const FACE_CROP = { left: 350, top: 280, width: 360, height: 400 };

/** Size of the upright base image. Width differs from height so a 90° rotation shows in the dimensions. */
export const BASE_WIDTH = 120;
export const BASE_HEIGHT = 150;

/** Side of the square colour markers painted into the top corners of the base image, in pixels. */
export const MARKER_SIZE = 20;
/** Marker in the top-left corner of the upright image. Pure green does not occur in the photo. */
export const TOP_LEFT_MARKER: readonly [number, number, number] = [0, 255, 0];
/** Marker in the top-right corner of the upright image. */
export const TOP_RIGHT_MARKER: readonly [number, number, number] = [0, 0, 255];

/** Pixel limit that `large.png` exceeds, for tests of `maxPixels`. */
export const LARGE_FIXTURE_LIMIT = 1_000_000;
const LARGE_WIDTH = 1500;
const LARGE_HEIGHT = 1000;

/** Dimensions written into the header of `bomb.png`: 900 megapixels, above every default limit. */
export const BOMB_WIDTH = 30_000;
export const BOMB_HEIGHT = 30_000;

/** In `rgba.png`, rows from this one down hold pure red under alpha 0 (left half) and alpha 128 (right half). */
export const RGBA_TRANSPARENT_FROM_ROW = 100;
export const RGBA_HALF_ALPHA = 128;

export const UNICODE_FILE_NAME = 'visage-élodie-顔.jpg';

interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

interface FixtureEntry {
  file: string;
  origin: string;
  build: (base: RawRgb) => Promise<Buffer>;
}

/** Fixture registry: name → file and how it was made from the base image. */
export const FIXTURES = {
  upright: {
    file: 'upright.png',
    origin: `base image: sample1.jpg cropped to ${JSON.stringify(FACE_CROP)}, resized to ${BASE_WIDTH}×${BASE_HEIGHT}, green marker top-left and blue marker top-right (${MARKER_SIZE} px); lossless PNG`,
    build: (base) => rawToSharp(base).png().toBuffer(),
  },
  uprightJpeg: {
    file: 'upright.jpg',
    origin: 'base image as JPEG, quality 95, 4:4:4 chroma, no EXIF orientation',
    build: (base) => toJpeg(base),
  },
  ...orientationFixtures(),
  grayJpeg: {
    file: 'gray.jpg',
    origin: 'base image converted to 1-channel greyscale (b-w colourspace), JPEG quality 95',
    build: (base) => rawToSharp(base).toColourspace('b-w').jpeg({ quality: 95 }).toBuffer(),
  },
  grayPng: {
    file: 'gray.png',
    origin: 'base image converted to 1-channel greyscale (b-w colourspace), 8-bit PNG',
    build: (base) => rawToSharp(base).toColourspace('b-w').png().toBuffer(),
  },
  rgba: {
    file: 'rgba.png',
    origin: `base image plus alpha: opaque above row ${RGBA_TRANSPARENT_FROM_ROW}; below it RGB is pure red with alpha 0 on the left half and ${RGBA_HALF_ALPHA} on the right half`,
    build: (base) => buildRgba(base),
  },
  cmyk: {
    file: 'cmyk.jpg',
    origin: "base image converted by sharp/libvips to CMYK (its built-in CMYK profile), JPEG quality 95",
    build: (base) => rawToSharp(base).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(),
  },
  png16: {
    file: 'rgb16.png',
    origin: 'base image converted to 16 bits per channel (rgb16 colourspace), PNG',
    build: (base) => rawToSharp(base).toColourspace('rgb16').png().toBuffer(),
  },
  tiff16: {
    file: 'rgb16.tiff',
    // sharp's default TIFF compression is JPEG, which only stores 8 bits per channel.
    origin: 'base image converted to 16 bits per channel (rgb16 colourspace), deflate-compressed TIFF',
    build: (base) => rawToSharp(base).toColourspace('rgb16').tiff({ compression: 'deflate' }).toBuffer(),
  },
  animatedGif: {
    file: 'animated.gif',
    origin: 'two-frame GIF, 200 ms per frame: frame 1 is the base image, frame 2 its negative (255 - value)',
    build: (base) => animated(base).gif({ delay: [200, 200] }).toBuffer(),
  },
  animatedWebp: {
    file: 'animated.webp',
    origin: 'two-frame lossless WebP, 200 ms per frame: frame 1 is the base image, frame 2 its negative',
    build: (base) => animated(base).webp({ lossless: true, delay: [200, 200] }).toBuffer(),
  },
  unicodeName: {
    file: UNICODE_FILE_NAME,
    origin: 'same bytes as upright.jpg under a file name with Latin accents and a CJK character',
    build: (base) => toJpeg(base),
  },
  truncatedJpeg: {
    file: 'truncated.jpg',
    origin: 'first 60% of the bytes of upright.jpg: header intact, scan data cut off',
    build: async (base) => truncate(await toJpeg(base), 0.6),
  },
  truncatedPng: {
    file: 'truncated.png',
    origin: 'first 60% of the bytes of upright.png: header intact, IDAT data cut off',
    build: async (base) => truncate(await rawToSharp(base).png().toBuffer(), 0.6),
  },
  truncatedHeaderPng: {
    file: 'truncated-header.png',
    origin: 'first 20 bytes of upright.png: the PNG signature and part of the IHDR chunk',
    build: async (base) => (await rawToSharp(base).png().toBuffer()).subarray(0, 20),
  },
  empty: {
    file: 'empty.jpg',
    origin: 'zero-byte file with a .jpg name',
    build: async () => Buffer.alloc(0),
  },
  text: {
    file: 'not-an-image.jpg',
    origin: 'a UTF-8 text file with a .jpg name',
    build: async () => Buffer.from('This is a text file with a .jpg extension, not an image.\n', 'utf8'),
  },
  large: {
    file: 'large.png',
    origin: `uniform grey PNG of ${LARGE_WIDTH}×${LARGE_HEIGHT} pixels, more than LARGE_FIXTURE_LIMIT (${LARGE_FIXTURE_LIMIT})`,
    build: () =>
      sharp({ create: { width: LARGE_WIDTH, height: LARGE_HEIGHT, channels: 3, background: { r: 90, g: 90, b: 90 } } })
        .png()
        .toBuffer(),
  },
  bomb: {
    file: 'bomb.png',
    origin: `hand-built PNG whose IHDR claims ${BOMB_WIDTH}×${BOMB_HEIGHT} pixels, followed by a tiny IDAT and IEND; decoding its pixels would fail or exhaust memory`,
    build: async () => buildPngBomb(BOMB_WIDTH, BOMB_HEIGHT),
  },
} satisfies Record<string, FixtureEntry>;

export type FixtureName = keyof typeof FIXTURES;

/** Returns the absolute path of a fixture. Call `ensureFixtures()` first. */
export function fixturePath(name: FixtureName): string {
  return path.join(FIXTURE_DIR, FIXTURES[name].file);
}

/**
 * Makes sure every fixture exists and returns the folder. Regenerates all of them when a
 * file is missing or the folder was made by another generator version.
 */
export async function ensureFixtures(): Promise<string> {
  if (await isComplete(FIXTURE_DIR)) return FIXTURE_DIR;

  // Test files run in parallel processes, so each builds into a private folder and moves
  // it into place with one rename. A process that loses the race discards its copy.
  const tempDir = `${FIXTURE_DIR}-${process.pid}.tmp`;
  const staleDir = `${FIXTURE_DIR}-${process.pid}.stale`;
  await rm(tempDir, { recursive: true, force: true });
  try {
    await generateInto(tempDir);
    if (await isComplete(FIXTURE_DIR)) return FIXTURE_DIR;
    await moveAside(FIXTURE_DIR, staleDir);
    try {
      await rename(tempDir, FIXTURE_DIR);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await isComplete(FIXTURE_DIR))) throw error;
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true });
    await rm(staleDir, { recursive: true, force: true });
  }
  return FIXTURE_DIR;
}

/** Renames a stale or incomplete folder out of the way in one step. A missing folder is fine. */
async function moveAside(dir: string, staleDir: string): Promise<void> {
  try {
    await rename(dir, staleDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function isComplete(dir: string): Promise<boolean> {
  let stamp: { version?: unknown };
  try {
    stamp = JSON.parse(await readFile(path.join(dir, STAMP_FILE), 'utf8')) as { version?: unknown };
  } catch {
    return false;
  }
  if (stamp.version !== GENERATOR_VERSION) return false;
  return Object.values(FIXTURES).every((entry) => existsSync(path.join(dir, entry.file)));
}

async function generateInto(dir: string): Promise<void> {
  if (!existsSync(SOURCE_PHOTO)) {
    throw new Error(
      `Source photo not found: ${SOURCE_PHOTO}. Install the dev dependencies (npm install) so @vladmandic/face-api is present.`,
    );
  }
  await mkdir(dir, { recursive: true });
  const base = await buildBase();

  const origins: Record<string, { file: string; origin: string }> = {};
  for (const [name, entry] of Object.entries(FIXTURES) as [string, FixtureEntry][]) {
    await writeFile(path.join(dir, entry.file), await entry.build(base));
    origins[name] = { file: entry.file, origin: entry.origin };
  }

  // Written last: its presence marks a complete folder.
  const stamp = { version: GENERATOR_VERSION, source: path.relative(REPO_ROOT, SOURCE_PHOTO), fixtures: origins };
  await writeFile(path.join(dir, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n');
}

/** Crops the face, resizes it and paints the two corner markers. */
async function buildBase(): Promise<RawRgb> {
  const { data, info } = await sharp(SOURCE_PHOTO)
    .extract(FACE_CROP)
    .resize(BASE_WIDTH, BASE_HEIGHT, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`Expected 3 channels from ${SOURCE_PHOTO}, got ${info.channels}`);

  const base: RawRgb = { data, width: info.width, height: info.height };
  paintBlock(base, 0, 0, MARKER_SIZE, MARKER_SIZE, TOP_LEFT_MARKER);
  paintBlock(base, BASE_WIDTH - MARKER_SIZE, 0, MARKER_SIZE, MARKER_SIZE, TOP_RIGHT_MARKER);
  return base;
}

function paintBlock(image: RawRgb, left: number, top: number, width: number, height: number, rgb: readonly number[]): void {
  for (let y = top; y < top + height; y++) {
    for (let x = left; x < left + width; x++) {
      const offset = (y * image.width + x) * 3;
      image.data[offset] = rgb[0]!;
      image.data[offset + 1] = rgb[1]!;
      image.data[offset + 2] = rgb[2]!;
    }
  }
}

function rawToSharp(image: RawRgb): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

function toJpeg(image: RawRgb): Promise<Buffer> {
  return rawToSharp(image).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
}

function truncate(bytes: Buffer, fraction: number): Buffer {
  return bytes.subarray(0, Math.floor(bytes.length * fraction));
}

/**
 * Maps a display (upright) pixel to its position in the stored pixels for an EXIF
 * orientation, following the tag's definition: which visual side stored row 0 and stored
 * column 0 lie on. Orientations 5–8 store the image transposed (width and height swapped).
 */
function storedPosition(orientation: number, x: number, y: number, width: number, height: number): [number, number] {
  switch (orientation) {
    case 1: return [x, y];
    case 2: return [width - 1 - x, y];
    case 3: return [width - 1 - x, height - 1 - y];
    case 4: return [x, height - 1 - y];
    case 5: return [y, x];
    case 6: return [y, width - 1 - x];
    case 7: return [height - 1 - y, width - 1 - x];
    case 8: return [height - 1 - y, x];
    default: throw new Error(`EXIF orientation must be 1 to 8, got ${orientation}`);
  }
}

/** Rearranges upright pixels into the stored layout that the orientation tag undoes. */
function toStoredLayout(upright: RawRgb, orientation: number): RawRgb {
  const transposed = orientation >= 5;
  const storedWidth = transposed ? upright.height : upright.width;
  const storedHeight = transposed ? upright.width : upright.height;
  const data = Buffer.alloc(upright.data.length);
  for (let y = 0; y < upright.height; y++) {
    for (let x = 0; x < upright.width; x++) {
      const [sx, sy] = storedPosition(orientation, x, y, upright.width, upright.height);
      upright.data.copy(data, (sy * storedWidth + sx) * 3, (y * upright.width + x) * 3, (y * upright.width + x) * 3 + 3);
    }
  }
  return { data, width: storedWidth, height: storedHeight };
}

function orientationFixtures(): Record<`orientation${2 | 3 | 4 | 5 | 6 | 7 | 8}`, FixtureEntry> {
  const entries: Partial<Record<`orientation${2 | 3 | 4 | 5 | 6 | 7 | 8}`, FixtureEntry>> = {};
  for (const orientation of [2, 3, 4, 5, 6, 7, 8] as const) {
    entries[`orientation${orientation}`] = {
      file: `orientation-${orientation}.jpg`,
      origin: `base image rearranged into the stored layout for EXIF orientation ${orientation}, JPEG quality 95 with Orientation=${orientation}; upright after the tag is applied`,
      build: (base) =>
        rawToSharp(toStoredLayout(base, orientation))
          .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
          .withMetadata({ orientation })
          .toBuffer(),
    };
  }
  return entries as Record<`orientation${2 | 3 | 4 | 5 | 6 | 7 | 8}`, FixtureEntry>;
}

function buildRgba(base: RawRgb): Promise<Buffer> {
  const rgba = Buffer.alloc(base.width * base.height * 4);
  for (let i = 0; i < base.width * base.height; i++) {
    const x = i % base.width;
    const y = Math.floor(i / base.width);
    if (y < RGBA_TRANSPARENT_FROM_ROW) {
      base.data.copy(rgba, i * 4, i * 3, i * 3 + 3);
      rgba[i * 4 + 3] = 255;
    } else {
      rgba[i * 4] = 255;
      rgba[i * 4 + 3] = x < base.width / 2 ? 0 : RGBA_HALF_ALPHA;
    }
  }
  return sharp(rgba, { raw: { width: base.width, height: base.height, channels: 4 } }).png().toBuffer();
}

/** Stacks the base image and its negative vertically as the two frames of an animation. */
function animated(base: RawRgb): Sharp {
  const frames = Buffer.alloc(base.data.length * 2);
  base.data.copy(frames, 0);
  for (let i = 0; i < base.data.length; i++) frames[base.data.length + i] = 255 - base.data[i]!;
  return sharp(frames, {
    raw: { width: base.width, height: base.height * 2, channels: 3, pageHeight: base.height },
  });
}

/** Builds a PNG whose header announces `width`×`height` RGB pixels but whose data is a few bytes. */
function buildPngBomb(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: truecolour RGB
  // Bytes 10–12 (compression, filter, interlace) stay 0, the only values PNG defines.
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00]); // start of a zlib stream, cut short
  return Buffer.concat([signature, pngChunk('IHDR', header), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, payload: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(payload.length, 0);
  const typeAndPayload = Buffer.concat([Buffer.from(type, 'latin1'), payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndPayload), 0);
  return Buffer.concat([length, typeAndPayload, crc]);
}

/** CRC-32 as PNG chunks use it (ISO 3309, polynomial 0xEDB88320, reflected). */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function main(): Promise<void> {
  await rm(FIXTURE_DIR, { recursive: true, force: true });
  await ensureFixtures();
  for (const entry of Object.values(FIXTURES)) console.log(`${entry.file}: ${entry.origin}`);
  console.log(`Wrote ${Object.keys(FIXTURES).length} fixtures to ${path.relative(process.cwd(), FIXTURE_DIR)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
