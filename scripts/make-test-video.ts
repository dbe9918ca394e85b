/**
 * Generates the video test fixtures into `test/fixtures/generated/video/` (gitignored).
 * The main video is 6 seconds of 640×480 at 15 fps, made of crops and pans of two face
 * photos, in MP4 and Y4M. Beside it are a truncated copy, an audio-only file and a short
 * clip with rotation metadata.
 *
 * Frames are rendered here with sharp from `node_modules/@vladmandic/face-api/demo/`
 * sample photos (a dev dependency, so no third-party image is committed) and piped to
 * ffmpeg as raw RGB. `createSourceFrameRenderer()` renders the same frames again, so tests
 * can compare decoded frames against their source. `VIDEO_SEGMENTS` is the registry of
 * what each time range shows, and `video.json` records it next to the files.
 *
 * CLI: `node --import tsx scripts/make-test-video.ts [--out DIR]` regenerates everything.
 * Tests call `ensureTestVideo()`, which regenerates only when the folder is missing or was
 * made by another generator version.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type { RgbImage } from '../src/types.js';
import { findFfmpeg, probeVideo } from '../src/video/ffmpeg.js';
import { ensureFixtures, FIXTURE_DIR } from './make-fixtures.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const VIDEO_FIXTURE_DIR = path.join(FIXTURE_DIR, 'video');
const PHOTO_DIR = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo');

/** Bump when any output changes, so `ensureTestVideo()` regenerates stale folders. */
const GENERATOR_VERSION = 1;
const MANIFEST_FILE = 'video.json';

/** Frame size and rate of the main video. Its Y4M copy can feed Chromium's fake webcam (--use-file-for-fake-video-capture). */
export const VIDEO_WIDTH = 640;
export const VIDEO_HEIGHT = 480;
export const VIDEO_FPS = 15;

/** Share of the MP4's bytes kept in `truncated.mp4`. The MP4 index is at the front, so the first frames still decode. */
export const TRUNCATED_FRACTION = 0.55;

/**
 * Upright frame size of `rotated.mp4`, a portrait picture. Its frames are stored turned
 * 90° clockwise, as landscape, and the rotation metadata turns them back.
 */
export const ROTATED_UPRIGHT_WIDTH = 120;
export const ROTATED_UPRIGHT_HEIGHT = 160;
export const ROTATED_FRAME_COUNT = 15;
/** Counter-clockwise display rotation written into `rotated.mp4`, in degrees, as ffmpeg's options take it. */
const ROTATED_DISPLAY_DEGREES = 90;

/** Output file names. */
export const VIDEO_FILES = {
  mp4: 'faces.mp4',
  y4m: 'faces.y4m',
  truncated: 'truncated.mp4',
  audioOnly: 'audio-only.mp4',
  rotated: 'rotated.mp4',
} as const;

export type VideoFileName = keyof typeof VIDEO_FILES;

/** A person in the video and the photo the frames are cropped from. */
export type Person = 'A' | 'B';

const PHOTOS: Record<Person, { file: string; description: string }> = {
  A: { file: 'sample1.jpg', description: 'sample1.jpg (1920×1280): the woman on the left' },
  B: { file: 'sample3.jpg', description: 'sample3.jpg (1920×1350): the woman in the middle' },
};

/** A 4:3 crop window in photo pixels. Its height is `width * 3 / 4`. */
interface CropWindow {
  left: number;
  top: number;
  width: number;
}

type FrameContent =
  | { kind: 'crop'; person: Person; from: CropWindow; to: CropWindow }
  | { kind: 'gradient' };

interface SegmentSpec {
  name: string;
  frameCount: number;
  content: FrameContent;
  /** Sigma, in video pixels, of the ffmpeg `gblur` applied to this segment's frames. */
  blurSigma?: number;
  origin: string;
}

/** One time range of the main video and how its frames were made. */
export interface VideoSegment {
  name: string;
  /** First frame, counted at `VIDEO_FPS`. */
  startFrame: number;
  frameCount: number;
  startSec: number;
  /** End of the range, exclusive: the start of the next segment. */
  endSec: number;
  /** Whose face is visible, or null when the frames show no face. */
  person: Person | null;
  /** Sigma of the ffmpeg `gblur` applied to the frames, in video pixels, or null. */
  blurSigma: number | null;
  origin: string;
}

// Crop windows were placed by eye on a grid overlay of each photo. Person A's face lies
// at about x 410–630, y 350–590 of sample1.jpg and person B's at about x 1070–1310,
// y 200–500 of sample3.jpg, so every window below contains the whole face and no other face.
const PERSON_A_WIDE: CropWindow = { left: 100, top: 185, width: 760 };
const PERSON_A_CLOSE: CropWindow = { left: 290, top: 290, width: 480 };
const PERSON_B_WIDE: CropWindow = { left: 950, top: 180, width: 480 };
const PERSON_B_CLOSE: CropWindow = { left: 975, top: 190, width: 440 };
/** Portrait (3:4) window around person A's face for `rotated.mp4`. */
const PERSON_A_PORTRAIT = { left: 355, top: 280, width: 330, height: 440 };
const BLUR_SIGMA = 12;

const SEGMENT_SPECS: readonly SegmentSpec[] = [
  {
    name: 'moving',
    frameCount: 30,
    content: { kind: 'crop', person: 'A', from: PERSON_A_WIDE, to: PERSON_A_CLOSE },
    origin: `person A: the crop window pans and zooms in linearly from ${describeWindow(PERSON_A_WIDE)} to ${describeWindow(PERSON_A_CLOSE)}`,
  },
  {
    name: 'still',
    frameCount: 15,
    content: { kind: 'crop', person: 'A', from: PERSON_A_CLOSE, to: PERSON_A_CLOSE },
    origin: `person A: the last frame of "moving" (${describeWindow(PERSON_A_CLOSE)}) held`,
  },
  {
    name: 'no-face',
    frameCount: 15,
    content: { kind: 'gradient' },
    origin: 'no face: a smooth colour gradient, blue-violet on the left to orange on the right, lighter downwards',
  },
  {
    name: 'blurred',
    frameCount: 15,
    content: { kind: 'crop', person: 'A', from: PERSON_A_CLOSE, to: PERSON_A_CLOSE },
    blurSigma: BLUR_SIGMA,
    origin: `person A: the "still" frame blurred by ffmpeg gblur with sigma ${BLUR_SIGMA} px`,
  },
  {
    name: 'second-person',
    frameCount: 15,
    content: { kind: 'crop', person: 'B', from: PERSON_B_WIDE, to: PERSON_B_CLOSE },
    origin: `person B: the crop window pans and zooms in linearly from ${describeWindow(PERSON_B_WIDE)} to ${describeWindow(PERSON_B_CLOSE)}`,
  },
];

/** The segments of the main video, in time order, covering it without gaps. */
export const VIDEO_SEGMENTS: readonly VideoSegment[] = buildSegments(SEGMENT_SPECS);

/** Number of frames of the main video. */
export const VIDEO_FRAME_COUNT = SEGMENT_SPECS.reduce((sum, spec) => sum + spec.frameCount, 0);

/** Contents of `video.json`. */
export interface VideoManifest {
  version: number;
  generator: string;
  ffmpegVersion: string;
  width: number;
  height: number;
  fps: number;
  frameCount: number;
  durationSec: number;
  /** ffmpeg encoder of `faces.mp4`: libx264, or mpeg4 when the ffmpeg build has no libx264. */
  videoCodec: string;
  photos: Record<Person, string>;
  segments: VideoSegment[];
  files: Record<VideoFileName, { file: string; origin: string }>;
}

/** The generated folder: absolute file paths and the manifest. */
export interface TestVideo {
  dir: string;
  paths: Record<VideoFileName, string>;
  manifest: VideoManifest;
}

function describeWindow(window: CropWindow): string {
  return `${window.width}×${(window.width * 3) / 4} at (${window.left}, ${window.top})`;
}

function buildSegments(specs: readonly SegmentSpec[]): VideoSegment[] {
  let startFrame = 0;
  return specs.map((spec) => {
    const segment: VideoSegment = {
      name: spec.name,
      startFrame,
      frameCount: spec.frameCount,
      startSec: startFrame / VIDEO_FPS,
      endSec: (startFrame + spec.frameCount) / VIDEO_FPS,
      person: spec.content.kind === 'crop' ? spec.content.person : null,
      blurSigma: spec.blurSigma ?? null,
      origin: spec.origin,
    };
    startFrame += spec.frameCount;
    return segment;
  });
}

/** Returns the segment that contains a time of the main video, or undefined past its end. */
export function segmentAt(timeSec: number): VideoSegment | undefined {
  return VIDEO_SEGMENTS.find((segment) => timeSec >= segment.startSec && timeSec < segment.endSec);
}

// ---------------------------------------------------------------------------------------
// Frame rendering

export interface SourceFrameRenderer {
  /** Renders frame `frameIndex` (0 to `VIDEO_FRAME_COUNT` − 1) of the main video, 640×480. */
  renderFrame(frameIndex: number): Promise<RgbImage>;
  /** Renders the upright picture of every frame of `rotated.mp4`, 120×160. */
  renderRotatedUpright(): Promise<RgbImage>;
}

/**
 * Creates a renderer of the main video's frames as they are sent to ffmpeg: before the
 * `gblur` of blurred segments and before compression. Each renderer decodes the photos
 * once and keeps them until it is garbage-collected.
 */
export function createSourceFrameRenderer(): SourceFrameRenderer {
  const photos = new Map<Person, Promise<RgbImage>>();
  const loadPhoto = (person: Person): Promise<RgbImage> => {
    let photo = photos.get(person);
    if (photo === undefined) {
      photo = decodePhoto(person);
      photos.set(person, photo);
    }
    return photo;
  };

  return {
    async renderFrame(frameIndex: number): Promise<RgbImage> {
      if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= VIDEO_FRAME_COUNT) {
        throw new RangeError(`frameIndex must be an integer from 0 to ${VIDEO_FRAME_COUNT - 1}, got ${frameIndex}`);
      }
      const segmentIndex = VIDEO_SEGMENTS.findIndex((segment) => frameIndex < segment.startFrame + segment.frameCount);
      const segment = VIDEO_SEGMENTS[segmentIndex]!;
      const content = SEGMENT_SPECS[segmentIndex]!.content;
      if (content.kind === 'gradient') return renderGradient(VIDEO_WIDTH, VIDEO_HEIGHT);

      // Fraction of the way through the segment, 0 at its first frame and 1 at its last.
      const progress = segment.frameCount > 1 ? (frameIndex - segment.startFrame) / (segment.frameCount - 1) : 0;
      const window = interpolateWindow(content.from, content.to, progress);
      return cropAndResize(await loadPhoto(content.person), window, VIDEO_WIDTH, VIDEO_HEIGHT);
    },

    async renderRotatedUpright(): Promise<RgbImage> {
      return cropAndResize(await loadPhoto('A'), PERSON_A_PORTRAIT, ROTATED_UPRIGHT_WIDTH, ROTATED_UPRIGHT_HEIGHT);
    },
  };
}

async function decodePhoto(person: Person): Promise<RgbImage> {
  const file = path.join(PHOTO_DIR, PHOTOS[person].file);
  if (!existsSync(file)) {
    throw new Error(`Source photo not found: ${file}. Install the dev dependencies (npm install) so @vladmandic/face-api is present.`);
  }
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function interpolateWindow(from: CropWindow, to: CropWindow, progress: number): { left: number; top: number; width: number; height: number } {
  const width = Math.round(from.width + (to.width - from.width) * progress);
  return {
    left: Math.round(from.left + (to.left - from.left) * progress),
    top: Math.round(from.top + (to.top - from.top) * progress),
    width,
    height: Math.round((width * 3) / 4),
  };
}

async function cropAndResize(
  photo: RgbImage,
  window: { left: number; top: number; width: number; height: number },
  width: number,
  height: number,
): Promise<RgbImage> {
  const data = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .extract(window)
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data, width, height };
}

function renderGradient(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const across = x / (width - 1);
      const down = y / (height - 1);
      const offset = (y * width + x) * 3;
      data[offset] = Math.round(60 + 170 * across + 20 * down);
      data[offset + 1] = Math.round(40 + 60 * across + 60 * down);
      data[offset + 2] = Math.round(170 - 120 * across + 20 * down);
    }
  }
  return { data, width, height };
}

// ---------------------------------------------------------------------------------------
// Generation

/**
 * Makes sure the video fixtures exist and returns them. Regenerates the folder when a
 * file is missing or it was made by another generator version.
 */
export async function ensureTestVideo(): Promise<TestVideo> {
  // make-fixtures replaces the whole generated/ folder when its own stamp is missing or
  // stale, which would delete a video folder made before it. Completing it first avoids that.
  await ensureFixtures();
  const existing = await loadTestVideo(VIDEO_FIXTURE_DIR);
  if (existing !== undefined) return existing;

  // Test files run in parallel processes, so each builds into a private folder and moves
  // it into place with one rename. A process that loses the race discards its copy.
  const tempDir = `${VIDEO_FIXTURE_DIR}-${process.pid}.tmp`;
  const staleDir = `${VIDEO_FIXTURE_DIR}-${process.pid}.stale`;
  await rm(tempDir, { recursive: true, force: true });
  try {
    await makeTestVideo(tempDir);
    const finished = await loadTestVideo(VIDEO_FIXTURE_DIR);
    if (finished !== undefined) return finished;
    await moveAside(VIDEO_FIXTURE_DIR, staleDir);
    try {
      await rename(tempDir, VIDEO_FIXTURE_DIR);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  } finally {
    await rm(tempDir, { recursive: true, force: true });
    await rm(staleDir, { recursive: true, force: true });
  }

  const moved = await loadTestVideo(VIDEO_FIXTURE_DIR);
  if (moved === undefined) throw new Error(`Video fixtures in ${VIDEO_FIXTURE_DIR} are incomplete after generation`);
  return moved;
}

async function moveAside(dir: string, staleDir: string): Promise<void> {
  try {
    await rename(dir, staleDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Reads a complete folder of this generator version, or returns undefined. */
async function loadTestVideo(dir: string): Promise<TestVideo | undefined> {
  let manifest: VideoManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as VideoManifest;
  } catch {
    return undefined;
  }
  if (manifest.version !== GENERATOR_VERSION) return undefined;
  const paths = filePaths(dir);
  if (!Object.values(paths).every((file) => existsSync(file))) return undefined;
  return { dir, paths, manifest };
}

function filePaths(dir: string): Record<VideoFileName, string> {
  const entries = Object.entries(VIDEO_FILES).map(([name, file]) => [name, path.join(dir, file)]);
  return Object.fromEntries(entries) as Record<VideoFileName, string>;
}

/**
 * Writes all video fixtures and `video.json` into `outDir`, replacing files of the same
 * names. Uses the ffmpeg that `findFfmpeg()` finds.
 */
export async function makeTestVideo(outDir: string = VIDEO_FIXTURE_DIR): Promise<TestVideo> {
  const { ffmpegPath } = await findFfmpeg();
  await mkdir(outDir, { recursive: true });
  const paths = filePaths(outDir);
  const videoCodec = (await runFfmpeg(ffmpegPath, ['-hide_banner', '-encoders'])).includes(' libx264 ') ? 'libx264' : 'mpeg4';
  const renderer = createSourceFrameRenderer();

  await encodeMainVideo(ffmpegPath, renderer, videoCodec, paths.mp4, paths.y4m);
  const mp4Bytes = await readFile(paths.mp4);
  await writeFile(paths.truncated, mp4Bytes.subarray(0, Math.floor(mp4Bytes.length * TRUNCATED_FRACTION)));
  await runFfmpeg(ffmpegPath, [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=1'],
    ...['-c:a', 'aac', '-b:a', '64k', paths.audioOnly],
  ]);
  await encodeRotatedClip(ffmpegPath, renderer, videoCodec, paths.rotated, outDir);

  const manifest: VideoManifest = {
    version: GENERATOR_VERSION,
    generator: 'scripts/make-test-video.ts',
    ffmpegVersion: (await runFfmpeg(ffmpegPath, ['-hide_banner', '-version'])).split('\n')[0]!.trim(),
    width: VIDEO_WIDTH,
    height: VIDEO_HEIGHT,
    fps: VIDEO_FPS,
    frameCount: VIDEO_FRAME_COUNT,
    durationSec: VIDEO_FRAME_COUNT / VIDEO_FPS,
    videoCodec,
    photos: { A: PHOTOS.A.description, B: PHOTOS.B.description },
    segments: [...VIDEO_SEGMENTS],
    files: describeFiles(videoCodec),
  };
  // Written last: its presence marks a complete folder.
  await writeFile(path.join(outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return { dir: outDir, paths, manifest };
}

function describeFiles(videoCodec: string): VideoManifest['files'] {
  const codecOptions = videoCodec === 'libx264' ? 'libx264, CRF 18' : 'mpeg4, qscale 3';
  return {
    mp4: {
      file: VIDEO_FILES.mp4,
      origin: `the frames listed in "segments", ${VIDEO_WIDTH}×${VIDEO_HEIGHT} at ${VIDEO_FPS} fps; ${codecOptions}, yuv420p, keyframe every ${VIDEO_FPS} frames, index at the front (+faststart)`,
    },
    y4m: {
      file: VIDEO_FILES.y4m,
      origin: `the same frames as uncompressed YUV4MPEG2 (yuv420p), for Chromium's --use-file-for-fake-video-capture`,
    },
    truncated: {
      file: VIDEO_FILES.truncated,
      origin: `the first ${Math.round(TRUNCATED_FRACTION * 100)}% of the bytes of ${VIDEO_FILES.mp4}: the early frames decode, then the data ends`,
    },
    audioOnly: {
      file: VIDEO_FILES.audioOnly,
      origin: 'MP4 with one AAC stream, a 1-second 440 Hz sine from ffmpeg lavfi, and no video stream',
    },
    rotated: {
      file: VIDEO_FILES.rotated,
      origin:
        `${ROTATED_FRAME_COUNT} copies of person A in a portrait window ${PERSON_A_PORTRAIT.width}×${PERSON_A_PORTRAIT.height} ` +
        `at (${PERSON_A_PORTRAIT.left}, ${PERSON_A_PORTRAIT.top}) scaled to ${ROTATED_UPRIGHT_WIDTH}×${ROTATED_UPRIGHT_HEIGHT}, ` +
        `stored turned 90° clockwise (${ROTATED_UPRIGHT_HEIGHT}×${ROTATED_UPRIGHT_WIDTH}) with display rotation metadata of ` +
        `${ROTATED_DISPLAY_DEGREES}° counter-clockwise, so players show it upright`,
    },
  };
}

function encoderArguments(videoCodec: string): string[] {
  // A keyframe every second keeps the truncated copy decodable up to the cut.
  const keyframes = ['-g', String(VIDEO_FPS)];
  if (videoCodec === 'libx264') return ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', ...keyframes];
  return ['-c:v', 'mpeg4', '-q:v', '3', ...keyframes];
}

async function encodeMainVideo(
  ffmpegPath: string,
  renderer: ReturnType<typeof createSourceFrameRenderer>,
  videoCodec: string,
  mp4Path: string,
  y4mPath: string,
): Promise<void> {
  // `n` is the frame number within the filter, equal to the source frame index here.
  const blurFilters = VIDEO_SEGMENTS.filter((segment) => segment.blurSigma !== null).map(
    (segment) => `gblur=sigma=${segment.blurSigma}:enable='between(n,${segment.startFrame},${segment.startFrame + segment.frameCount - 1})'`,
  );
  const filters = [...blurFilters, 'format=yuv420p'].join(',');
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...rawInputArguments(VIDEO_WIDTH, VIDEO_HEIGHT),
    ...['-vf', filters, ...encoderArguments(videoCodec), '-movflags', '+faststart', mp4Path],
    ...['-vf', filters, '-f', 'yuv4mpegpipe', y4mPath],
  ];
  await runFfmpeg(ffmpegPath, args, async function* () {
    for (let index = 0; index < VIDEO_FRAME_COUNT; index++) yield (await renderer.renderFrame(index)).data;
  });
}

async function encodeRotatedClip(
  ffmpegPath: string,
  renderer: ReturnType<typeof createSourceFrameRenderer>,
  videoCodec: string,
  outPath: string,
  workDir: string,
): Promise<void> {
  const upright = await renderer.renderRotatedUpright();
  // sharp's rotate(90) turns clockwise. The display rotation below turns counter-clockwise.
  const stored = await sharp(upright.data, { raw: { width: upright.width, height: upright.height, channels: 3 } })
    .rotate(90)
    .raw()
    .toBuffer();

  const storedPath = path.join(workDir, 'rotated-stored.tmp.mp4');
  await runFfmpeg(
    ffmpegPath,
    [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...rawInputArguments(ROTATED_UPRIGHT_HEIGHT, ROTATED_UPRIGHT_WIDTH),
      ...['-vf', 'format=yuv420p', ...encoderArguments(videoCodec), storedPath],
    ],
    async function* () {
      for (let index = 0; index < ROTATED_FRAME_COUNT; index++) yield stored;
    },
  );

  try {
    await addDisplayRotation(ffmpegPath, storedPath, outPath);
  } finally {
    await rm(storedPath, { force: true });
  }
  // probeVideo reports the clockwise turn ffmpeg applies: 270 undoes the clockwise storage.
  const { rotation } = await probeVideo(outPath);
  if (rotation !== 270) {
    throw new Error(`${outPath} has rotation ${rotation}° clockwise after writing the metadata, expected 270°; check the ffmpeg version`);
  }
}

/**
 * Copies a video and sets its display rotation. Tries the `-display_rotation` input
 * option first, which ffmpeg 5.1 lacks. ffmpeg 5.1 turns a `rotate` stream tag into the
 * display matrix instead, with the angle counter-clockwise.
 */
async function addDisplayRotation(ffmpegPath: string, inPath: string, outPath: string): Promise<void> {
  const common = ['-hide_banner', '-loglevel', 'error', '-y'];
  try {
    await runFfmpeg(ffmpegPath, [...common, '-display_rotation', String(ROTATED_DISPLAY_DEGREES), '-i', inPath, '-c', 'copy', outPath]);
  } catch {
    // NOTE: only this fallback has run (ffmpeg 5.1), so the -display_rotation call above is untested.
    await runFfmpeg(ffmpegPath, [...common, '-i', inPath, '-c', 'copy', '-metadata:s:v:0', `rotate=${ROTATED_DISPLAY_DEGREES}`, outPath]);
  }
}

function rawInputArguments(width: number, height: number): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-video_size', `${width}x${height}`, '-framerate', String(VIDEO_FPS), '-i', 'pipe:0'];
}

/** Runs ffmpeg, optionally writing chunks to its stdin, and returns its stdout. Rejects with its stderr on failure. */
async function runFfmpeg(ffmpegPath: string, args: string[], input?: () => AsyncIterable<Uint8Array>): Promise<string> {
  const child = spawn(ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });

  // When ffmpeg exits early, writes fail with EPIPE. The exit code and stderr below
  // report the cause, so the write error itself is dropped.
  const stdin = child.stdin;
  let stdinClosed = false;
  stdin.on('error', () => (stdinClosed = true));
  stdin.on('close', () => (stdinClosed = true));
  if (input === undefined) {
    stdin.end();
  } else {
    try {
      for await (const chunk of input()) {
        if (stdinClosed) break;
        if (!stdin.write(chunk)) {
          await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), exited.catch(() => undefined)]);
        }
      }
    } finally {
      stdin.end();
    }
  }

  const code = await exited;
  if (code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed with exit code ${code}: ${stderr.trim()}`);
  return stdout;
}

// ---------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: node --import tsx scripts/make-test-video.ts [--out DIR]

Writes the video test fixtures and video.json into DIR.
  --out DIR  output folder (default: ${path.relative(process.cwd(), VIDEO_FIXTURE_DIR)})
  --help     print this help`;

async function main(argv: string[]): Promise<void> {
  let outDir = VIDEO_FIXTURE_DIR;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      return;
    }
    if (arg === '--out' && argv[i + 1] !== undefined) {
      outDir = path.resolve(argv[++i]!);
      continue;
    }
    throw new Error(`Unknown or incomplete argument: ${arg}\n${USAGE}`);
  }

  const video = await makeTestVideo(outDir);
  for (const segment of video.manifest.segments) {
    console.log(`${segment.startSec.toFixed(2)}–${segment.endSec.toFixed(2)} s  ${segment.name}: ${segment.origin}`);
  }
  for (const entry of Object.values(video.manifest.files)) console.log(`${entry.file}: ${entry.origin}`);
  console.log(`Wrote ${Object.keys(video.paths).length} files and ${MANIFEST_FILE} to ${path.relative(process.cwd(), outDir) || '.'}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
