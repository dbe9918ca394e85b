/**
 * Turns image files into backbone features: decode → detect → pick a face → align →
 * embed, plus seeded augmented views for training images. Results are cached by the
 * file's content hash and the pipeline fingerprint, so a second run on unchanged data
 * does no detection or embedding.
 *
 * Cache layout: `<cacheDir>/<fingerprint>/<first two hex digits>/<sha256>.bin` contains a
 * JSON header (face count, chosen face, view count) and the float32 features of view 0
 * (the aligned face) followed by the augmented views; `<sha256>.jpg` next to it is the
 * aligned crop.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AffineMatrix } from '../align/similarity.js';
import type { DetectedFace } from '../detect/detector.js';
import { type FacePipeline, largestFace } from '../embed/face-pipeline.js';
import { FacekitError, type ErrorCode, isFacekitError } from '../errors.js';
import { decodeImage, encodeImage } from '../image/decode.js';
import type { RgbImage } from '../types.js';
import { AUGMENT_DEFAULTS, drawAugmentation, renderAugmentedView, viewRandom } from './augment.js';

/** Bumped whenever a change to detection, alignment or augmentation changes cached features. */
export const PIPELINE_VERSION = 1;

export type MultiFacePolicy = 'largest' | 'skip';

export type PreparedStatus = 'ok' | 'no-face' | 'multiple-faces' | 'error';

export interface PreparedImage {
  path: string;
  /** SHA-256 of the file's bytes, hex; empty when the file could not be read. */
  hash: string;
  status: PreparedStatus;
  /** Faces the detector found. */
  faceCount: number;
  /** The face used, in image pixels. */
  face?: DetectedFace;
  /** View 0 is the aligned face; views 1.. are augmented. Empty unless status is `ok`. */
  features: Float32Array[];
  error?: { code: ErrorCode | 'ERR_INTERNAL'; message: string };
  /** Whether the features came from the cache. */
  cached: boolean;
}

export interface PrepareOptions {
  /** Augmented views per image, on top of the aligned face itself. Default 0. */
  augmentViews?: number;
  /** Policy for an image that contains several faces. Default `largest`. */
  multiFace?: MultiFacePolicy;
  /** Cache folder; `false` turns the cache off. Default: `$XDG_CACHE_HOME/facekit` or `~/.cache/facekit`. */
  cacheDir?: string | false;
  /** Seed of the augmentation. Default 1. */
  seed?: number;
  /** Largest image in pixels that is decoded. Default: the decoder's limit (100 megapixels). */
  maxPixels?: number;
  signal?: AbortSignal;
  /** Called after each image. */
  onImage?: (image: PreparedImage, index: number, total: number) => void;
}

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'facekit');
}

interface CacheHeader {
  version: number;
  status: PreparedStatus;
  faceCount: number;
  face?: DetectedFace;
  imageToCrop?: AffineMatrix;
  views: number;
  featureSize: number;
}

/** Prepares every image in order. Per-image failures are returned, not thrown. */
export async function prepareImages(pipeline: FacePipeline, paths: readonly string[], options: PrepareOptions = {}): Promise<PreparedImage[]> {
  const results: PreparedImage[] = [];
  for (let i = 0; i < paths.length; i++) {
    if (options.signal?.aborted) throw new FacekitError('ERR_CANCELLED', 'Preparing images was cancelled');
    const prepared = await prepareImage(pipeline, paths[i]!, options);
    results.push(prepared);
    options.onImage?.(prepared, i, paths.length);
  }
  return results;
}

/** Prepares one image file; failures come back as a status with the error code. */
export async function prepareImage(pipeline: FacePipeline, file: string, options: PrepareOptions = {}): Promise<PreparedImage> {
  const views = 1 + (options.augmentViews ?? 0);
  const multiFace = options.multiFace ?? 'largest';
  const seed = options.seed ?? 1;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ERR_FILE_NOT_FOUND' : 'ERR_UNSUPPORTED_IMAGE';
    return failed(file, '', code, `Cannot read ${file}: ${(error as Error).message}`);
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  const cacheFile = options.cacheDir === false ? undefined : cachePath(options.cacheDir ?? defaultCacheDir(), pipeline, hash, seed);

  const cached = cacheFile ? await readCache(cacheFile) : undefined;
  if (cached && (cached.header.status !== 'ok' || cached.header.views >= views)) {
    return fromCache(file, hash, cached, views, multiFace);
  }

  let image: RgbImage;
  try {
    image = await decodeImage(bytes, { maxPixels: options.maxPixels, sourceName: file });
  } catch (error) {
    if (isFacekitError(error)) return failed(file, hash, error.code, error.message);
    throw error;
  }

  let header: CacheHeader;
  let features: Float32Array[];
  if (cached?.header.status === 'ok' && cached.header.face && cached.header.imageToCrop) {
    // More augmented views are wanted than the cache holds: reuse the detection.
    header = cached.header;
    features = [...cached.features, ...(await embedViews(pipeline, image, header.imageToCrop!, hash, seed, header.views, views))];
  } else {
    const faces = await pipeline.detect(image);
    const face = largestFace(faces);
    if (!face) {
      header = { version: PIPELINE_VERSION, status: 'no-face', faceCount: 0, views: 0, featureSize: 0 };
      features = [];
    } else {
      const [aligned] = pipeline.align(image, [face]);
      const first = await pipeline.embed([aligned!.crop]);
      const more = await embedViews(pipeline, image, aligned!.imageToCrop, hash, seed, 1, views);
      header = {
        version: PIPELINE_VERSION,
        status: 'ok',
        faceCount: faces.length,
        face,
        imageToCrop: aligned!.imageToCrop,
        views,
        featureSize: first[0]!.length,
      };
      features = [...first, ...more];
      if (cacheFile) await writeCrop(cacheFile, aligned!.crop);
    }
  }
  header.views = features.length;
  if (cacheFile) await writeCache(cacheFile, header, features);
  return fromCache(file, hash, { header, features }, views, multiFace, false);
}

/** Path of the aligned-crop JPEG cached for an image, when it exists. */
export function cachedCropPath(cacheDir: string, pipeline: FacePipeline, hash: string, seed = 1): string {
  return cachePath(cacheDir, pipeline, hash, seed).replace(/\.bin$/, '.jpg');
}

async function embedViews(
  pipeline: FacePipeline,
  image: RgbImage,
  imageToCrop: AffineMatrix,
  hash: string,
  seed: number,
  from: number,
  to: number,
): Promise<Float32Array[]> {
  const size = pipeline.embedder.inputSize;
  const crops: RgbImage[] = [];
  for (let view = from; view < to; view++) {
    const params = drawAugmentation(viewRandom(hash, view, seed), AUGMENT_DEFAULTS);
    crops.push(renderAugmentedView(image, imageToCrop, size, params));
  }
  return crops.length ? pipeline.embed(crops) : [];
}

function fromCache(
  file: string,
  hash: string,
  entry: { header: CacheHeader; features: Float32Array[] },
  views: number,
  multiFace: MultiFacePolicy,
  cached = true,
): PreparedImage {
  const { header } = entry;
  if (header.status !== 'ok') return { path: file, hash, status: header.status, faceCount: header.faceCount, features: [], cached };
  if (header.faceCount > 1 && multiFace === 'skip') {
    return { path: file, hash, status: 'multiple-faces', faceCount: header.faceCount, face: header.face, features: [], cached };
  }
  return { path: file, hash, status: 'ok', faceCount: header.faceCount, face: header.face, features: entry.features.slice(0, views), cached };
}

function failed(file: string, hash: string, code: ErrorCode, message: string): PreparedImage {
  return { path: file, hash, status: 'error', faceCount: 0, features: [], error: { code, message }, cached: false };
}

function cachePath(cacheDir: string, pipeline: FacePipeline, hash: string, seed: number): string {
  const folder = `v${PIPELINE_VERSION}-${pipeline.fingerprint}-seed${seed}`;
  return path.join(cacheDir, folder, hash.slice(0, 2), `${hash}.bin`);
}

async function readCache(file: string): Promise<{ header: CacheHeader; features: Float32Array[] } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  try {
    const headerLength = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString('utf8')) as CacheHeader;
    if (header.version !== PIPELINE_VERSION) return undefined;
    const start = 4 + headerLength;
    const expected = header.views * header.featureSize * 4;
    if (bytes.length - start !== expected) return undefined;
    const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + expected));
    const features: Float32Array[] = [];
    for (let v = 0; v < header.views; v++) features.push(floats.slice(v * header.featureSize, (v + 1) * header.featureSize));
    return { header, features };
  } catch {
    // A damaged cache entry is recomputed, never trusted.
    return undefined;
  }
}

async function writeCache(file: string, header: CacheHeader, features: Float32Array[]): Promise<void> {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const size = Buffer.alloc(4);
  size.writeUInt32LE(json.length, 0);
  const floats = Buffer.concat(features.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  await writeAtomically(file, Buffer.concat([size, json, floats]));
}

async function writeCrop(cacheFile: string, crop: RgbImage): Promise<void> {
  await writeAtomically(cacheFile.replace(/\.bin$/, '.jpg'), await encodeImage(crop, 'jpeg', 90));
}

/** Cache writes go through a temporary file and a rename, so readers never see half a file. */
async function writeAtomically(file: string, data: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, file);
  } catch {
    // The cache is an optimisation: a failed write (full disk, read-only folder) only
    // means the work is redone next time.
    await rm(temporary, { force: true });
  }
}
