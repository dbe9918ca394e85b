/**
 * Face fixtures for the server and browser tests, made from the group photos in
 * `node_modules/@vladmandic/face-api/demo/` (a dev dependency, so no third-party image is
 * committed):
 *
 * - `writeFaceDataset(root, ...)`: a dataset folder with one sub-folder per face, each
 *   holding jittered crops of that one face (shifted, rescaled, brightened, mirrored);
 * - `writePersonVideo(file, face, ...)`: a Y4M video of one face with slow pan, zoom and
 *   brightness changes, to feed Chromium's fake webcam
 *   (`--use-file-for-fake-video-capture`).
 *
 * Each face is a different person; `FACES` records where each box came from. Output is
 * deterministic for a given seed.
 *
 * CLI: `node --import tsx scripts/make-face-crops.ts OUT_DIR` writes `OUT_DIR/dataset/`
 * and `OUT_DIR/video/<face>.y4m` for every face in `FACES`.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp, { type Sharp } from 'sharp';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PHOTO_DIR = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo');

/** Folder of the videos that `ensurePersonVideo` writes (gitignored). */
export const PERSON_VIDEO_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'generated', 'people-video');
/** Bump when `writePersonVideo`'s output changes, so `ensurePersonVideo` writes new files instead of reusing old ones. */
const VIDEO_GENERATOR_VERSION = 2;

/** A square box in photo pixels: left, top, side. */
interface SquareBox {
  x: number;
  y: number;
  side: number;
}

export interface FaceSource {
  /** File name in `@vladmandic/face-api/demo/`. */
  photo: string;
  box: SquareBox;
  /** The photo's other faces. They are blurred away, so crops and frames show one person only. */
  others: readonly SquareBox[];
  description: string;
}

/**
 * Faces of three different people. Boxes are BlazeFace detections (facekit's
 * `FacePipeline.detect`, default options) on the 1920-px photos, rounded to pixels.
 */
export const FACES = Object.freeze({
  ada: {
    photo: 'sample1.jpg',
    box: { x: 421, y: 407, side: 187 },
    others: [{ x: 1490, y: 261, side: 160 }, { x: 854, y: 466, side: 180 }],
    description: 'sample1.jpg: the woman on the left, with face paint',
  },
  grace: {
    photo: 'sample6.jpg',
    box: { x: 656, y: 377, side: 242 },
    others: [{ x: 240, y: 537, side: 219 }, { x: 1143, y: 353, side: 234 }, { x: 1471, y: 319, side: 238 }],
    description: 'sample6.jpg: the second woman from the left, dark hair',
  },
  hedy: {
    photo: 'sample3.jpg',
    box: { x: 591, y: 385, side: 201 },
    others: [{ x: 1064, y: 253, side: 245 }, { x: 1476, y: 360, side: 190 }],
    description: 'sample3.jpg: the woman on the left, blonde curls',
  },
} satisfies Record<string, FaceSource>);

/** Gaussian blur, in pixels, that hides the other faces; at this strength the detector finds none of them. */
const MASK_BLUR_SIGMA_PX = 30;

interface RawPhoto {
  data: Buffer;
  width: number;
  height: number;
}

/** Decodes a face's photo to raw RGB with its other faces blurred (each box widened by half its side). */
async function maskedPhoto(source: FaceSource): Promise<RawPhoto> {
  const file = path.join(PHOTO_DIR, source.photo);
  const { width = 0, height = 0 } = await sharp(file).metadata();
  const patches = [];
  for (const other of source.others) {
    const left = clamp(Math.round(other.x - other.side / 4), 0, width - 1);
    const top = clamp(Math.round(other.y - other.side / 4), 0, height - 1);
    const patchWidth = Math.min(width - left, Math.round(other.side * 1.5));
    const patchHeight = Math.min(height - top, Math.round(other.side * 1.5));
    const input = await sharp(file).extract({ left, top, width: patchWidth, height: patchHeight }).blur(MASK_BLUR_SIGMA_PX).toBuffer();
    patches.push({ input, left, top });
  }
  const { data, info } = await sharp(file).composite(patches).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function fromRaw(photo: RawPhoto): Sharp {
  return sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } });
}

export type FaceId = keyof typeof FACES;

/** Seeded uniform numbers in [0, 1) (mulberry32), so every run writes the same files. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Side of the written crops, in pixels. */
const CROP_SIDE_PX = 320;

/**
 * Writes `count` jittered JPEG crops of one face into `folder` (created when missing) and
 * returns their paths. Crops span 2–2.8 face widths, so the face fills 35–50% of the width.
 */
export async function writeFaceCrops(folder: string, face: FaceId, count: number, seed = 1): Promise<string[]> {
  const source = FACES[face];
  const photo = await maskedPhoto(source);
  const next = createRandom(seed);
  await mkdir(folder, { recursive: true });
  const files: string[] = [];
  for (let k = 0; k < count; k++) {
    const side = source.box.side * (2 + next() * 0.8);
    const cx = source.box.x + source.box.side / 2 + (next() - 0.5) * 0.2 * source.box.side;
    const cy = source.box.y + source.box.side / 2 + (next() - 0.5) * 0.2 * source.box.side;
    const left = Math.max(0, Math.round(cx - side / 2));
    const top = Math.max(0, Math.round(cy - side / 2));
    const width = Math.min(photo.width - left, Math.round(side));
    const height = Math.min(photo.height - top, Math.round(side));
    let crop = fromRaw(photo).extract({ left, top, width, height }).resize(CROP_SIDE_PX).modulate({ brightness: 0.8 + next() * 0.4 });
    if (next() < 0.5) crop = crop.flop();
    const file = path.join(folder, `${face}-${k + 1}.jpg`);
    await crop.jpeg({ quality: 80 + Math.round(next() * 15) }).toFile(file);
    files.push(file);
  }
  return files;
}

/** Writes a dataset folder with `perPerson` crops of each face in `people`, one sub-folder per face id. */
export async function writeFaceDataset(root: string, people: readonly FaceId[], perPerson: number): Promise<void> {
  for (const [index, face] of people.entries()) await writeFaceCrops(path.join(root, face), face, perPerson, index + 1);
}

export interface PersonVideoOptions {
  /** Frame size in pixels. Default 640 × 480, a common webcam size. */
  width?: number;
  height?: number;
  /** Frames per second. Default 15. */
  fps?: number;
  /** Length in seconds; Chromium loops the file. Default 8. */
  seconds?: number;
}

/**
 * Writes a Y4M video (4:2:0, full-range BT.601, the `C420jpeg` colour space) of one face.
 * The crop window pans, zooms, tilts and changes brightness along smooth loops, so
 * consecutive frames differ as a person moving in front of a webcam would.
 */
export async function writePersonVideo(file: string, face: FaceId, options: PersonVideoOptions = {}): Promise<void> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const fps = options.fps ?? 15;
  const frames = Math.round((options.seconds ?? 8) * fps);
  const source = FACES[face];
  // Decoded once: every frame is cut from the same pixels.
  const photo = await maskedPhoto(source);
  const photoWidth = photo.width;
  const photoHeight = photo.height;
  await mkdir(path.dirname(file), { recursive: true });

  const out = createWriteStream(file);
  const write = (chunk: string | Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())));
  await write(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
  for (let i = 0; i < frames; i++) {
    const phase = (2 * Math.PI * i) / frames;
    // The face spans a quarter to a half of the frame width, as at arm's length from a
    // webcam. Zoom, pan, tilt and brightness follow loops of different lengths, so frames
    // a fraction of a second apart show the face at clearly different sizes and angles.
    const windowWidth = source.box.side * (3.1 + 0.9 * Math.sin(phase));
    const windowHeight = (windowWidth * height) / width;
    const cx = source.box.x + source.box.side / 2 + 0.35 * source.box.side * Math.sin(3 * phase);
    const cy = source.box.y + source.box.side / 2 + 0.2 * source.box.side * Math.cos(2 * phase);
    const tiltDeg = 20 * Math.sin(5 * phase);
    const left = clamp(Math.round(cx - windowWidth / 2), 0, photoWidth - Math.round(windowWidth));
    const top = clamp(Math.round(cy - windowHeight / 2), 0, photoHeight - Math.round(windowHeight));
    const crop = await fromRaw(photo).extract({ left, top, width: Math.round(windowWidth), height: Math.round(windowHeight) }).raw().toBuffer({ resolveWithObject: true });
    const rotated = await sharp(crop.data, { raw: { width: crop.info.width, height: crop.info.height, channels: 3 } })
      .rotate(tiltDeg, { background: '#404040' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    // Rotation enlarges the canvas; cut the centre back out at the window's size.
    const trimLeft = Math.floor((rotated.info.width - Math.round(windowWidth)) / 2);
    const trimTop = Math.floor((rotated.info.height - Math.round(windowHeight)) / 2);
    const rgb = await sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: 3 } })
      .extract({ left: trimLeft, top: trimTop, width: Math.round(windowWidth), height: Math.round(windowHeight) })
      .resize(width, height, { fit: 'fill' })
      .modulate({ brightness: 1 + 0.25 * Math.sin(7 * phase) })
      .removeAlpha()
      .raw()
      .toBuffer();
    await write('FRAME\n');
    await write(rgbToYuv420(rgb, width, height));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/**
 * Returns the path of the default video of `face` in `PERSON_VIDEO_DIR`, writing it first
 * when this generator version has not made it yet. Takes several seconds per new video.
 */
export async function ensurePersonVideo(face: FaceId): Promise<string> {
  const file = path.join(PERSON_VIDEO_DIR, `${face}-v${VIDEO_GENERATOR_VERSION}.y4m`);
  if (existsSync(file)) return file;
  // Written under a temporary name and renamed, so an interrupted run leaves no partial video in use.
  const temporary = `${file}.${process.pid}.tmp`;
  await writePersonVideo(temporary, face);
  await rename(temporary, file);
  return file;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/**
 * Converts interleaved RGB to planar 4:2:0 YUV with full-range BT.601 (JPEG) coefficients.
 * Chroma is the mean of each 2 × 2 block. Width and height must be even.
 */
export function rgbToYuv420(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const lumaSize = width * height;
  const chromaWidth = width / 2;
  const out = new Uint8Array(lumaSize + 2 * (lumaSize / 4));
  const uPlane = lumaSize;
  const vPlane = lumaSize + lumaSize / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[y * width + x] = clamp(Math.round(0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!), 0, 255);
    }
  }
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const i = ((y + dy) * width + x + dx) * 3;
        r += rgb[i]!;
        g += rgb[i + 1]!;
        b += rgb[i + 2]!;
      }
      r /= 4;
      g /= 4;
      b /= 4;
      const c = (y / 2) * chromaWidth + x / 2;
      out[uPlane + c] = clamp(Math.round(128 - 0.168736 * r - 0.331264 * g + 0.5 * b), 0, 255);
      out[vPlane + c] = clamp(Math.round(128 + 0.5 * r - 0.418688 * g - 0.081312 * b), 0, 255);
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write('usage: node --import tsx scripts/make-face-crops.ts OUT_DIR\n');
    process.exit(2);
  }
  const faces = Object.keys(FACES) as FaceId[];
  await writeFaceDataset(path.join(outDir, 'dataset'), faces, 8);
  for (const face of faces) await writePersonVideo(path.join(outDir, 'video', `${face}.y4m`), face);
  process.stdout.write(`wrote ${path.join(outDir, 'dataset')} and ${faces.length} videos in ${path.join(outDir, 'video')}\n`);
}
