/**
 * Sample collection: frames from a video, a camera or a folder of photos go through
 * quality gates, and the faces that pass are saved as aligned JPEG crops into
 * `DATASET/NAME/`, the folder layout that `scanDataset` reads. The CLI (`facekit capture`)
 * and the HTTP server both collect samples through `SampleCollector`.
 *
 * Gate order, cheapest first: a face at all, one face (or the largest), face size, pose,
 * sharpness, and last the near-duplicate check, which needs a backbone feature.
 */
import { randomBytes } from 'node:crypto';
import { type Dirent, readdirSync } from 'node:fs';
import { link, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_ALIGN_MARGIN } from '../align/template.js';
import { alignFace } from '../align/warp.js';
import type { DetectedFace } from '../detect/detector.js';
import { FacePipeline, largestFace } from '../embed/face-pipeline.js';
import { FacekitError, describeValue, invalidArgument, isFacekitError, type ErrorCode } from '../errors.js';
import { DEFAULT_JPEG_QUALITY, decodeImage, encodeImage, imageFromRaw } from '../image/decode.js';
import { cosineSimilarity } from '../train/linalg.js';
import type { PointPx, RgbImage } from '../types.js';
import { DEFAULT_SAMPLE_FPS, readFrames } from '../video/ffmpeg.js';
import type { MultiFacePolicy } from './prepare.js';
import { IMAGE_EXTENSIONS, UNKNOWN_FOLDER, listImages } from './scan.js';

// ---------------------------------------------------------------------------------------
// Defaults and gates

/**
 * Quality gates that a face must pass to be kept as a sample. `auditDataset` applies the
 * size, pose and sharpness gates to existing datasets too.
 */
export interface QualityGates {
  /** Smallest face box width in pixels of the source image. */
  minFaceSizePx: number;
  /**
   * Smallest variance of the Laplacian on the grey aligned face, measured by
   * `measureSharpness` on a crop of `SHARPNESS_CROP_PX`, in squared 8-bit grey levels.
   */
  minSharpness: number;
  /** Largest horizontal nose offset from the eye midpoint, in eye distances (see `measurePose`). */
  maxYawRatio: number;
  /** Largest tilt of the eye line from horizontal, in degrees. */
  maxRollDeg: number;
  /**
   * Cosine similarity of backbone features at or above which a face counts as a near
   * duplicate of a sample kept earlier in the same run.
   */
  maxSimilarity: number;
  /** Side of the saved square crop in pixels. */
  size: number;
  /** Frames with several faces: keep the largest face, or skip the frame. */
  multiFace: MultiFacePolicy;
}

/**
 * Defaults of `captureSamples`, `SampleCollector` and the gates, each defined once here.
 *
 * Measurements behind the gate values used the `faceres` backbone, the `blazeface`
 * detector and the default alignment margin 0.2, on the 21 faces of the six
 * @vladmandic/face-api 1.7 `demo/sample*.jpg` photos and on `faces.mp4` from
 * `scripts/make-test-video.ts` sampled at 5 fps.
 */
export const CAPTURE_DEFAULTS = Object.freeze({
  /**
   * 64 px. The aligned crop spans about 1.9 face-box widths (1.82–2.24 measured), so a
   * 64-px face fills the `SHARPNESS_CROP_PX` crop at about its native resolution. Smaller
   * faces make 224-px crops that are mostly interpolated.
   */
  minFaceSizePx: 64,
  /**
   * 30 squared grey levels. Sharp faces measured 81–934 in the photos and 232–487 in the
   * video. The video's blurred segment (ffmpeg gblur, sigma 12 px) measured 9. Blurring
   * the photos with a Gaussian of sigma 1%, 2%, 3% and 4% of the face width gave 41–331,
   * 11–85, 5–31 and 3–15, so 30 rejects clearly soft faces and keeps mildly soft ones.
   */
  minSharpness: 30,
  /**
   * 0.6 eye distances. Three-quarter views in the photos measured up to 0.47 and the
   * test video's person A 0.36–0.44. A profile view measured 3.8.
   * NOTE: no face between 0.47 and 3.8 was measured, so the exact cut-off is a guess.
   */
  maxYawRatio: 0.6,
  /**
   * 45°. Alignment removes roll, so this only guards the keypoints. With the photos'
   * faces turned by up to 60°, the measured roll followed the rotation within 17° and the
   * feature kept a cosine similarity of 0.93 or more to the upright face. At 90° the
   * keypoints were off by up to 33° and the similarity fell to 0.61 in 2 of 7 faces.
   */
  maxRollDeg: 45,
  /**
   * 0.97. A held still frame measures 1.000 against the frame before it, and a still face
   * with Gaussian noise of sigma 4 grey levels (a typical webcam) 0.997–0.998. Consecutive
   * frames 0.2 s apart of a slowly panning and zooming video measured 0.938–0.994. Resized
   * and re-encoded copies of a photo measured 0.957–0.994, and different people at most 0.65.
   */
  maxSimilarity: 0.97,
  /** 224 px, the input size of the default `faceres` backbone. */
  size: 224,
  /** `largest`, the same default as training (`prepareImages`). */
  multiFace: 'largest' as MultiFacePolicy,
  /** New samples to keep in one `captureSamples` run. */
  count: 100,
  /** Frames sampled per second of video, or requested from a camera. */
  fps: DEFAULT_SAMPLE_FPS,
  /** Whether the whole frame is saved too, into `.originals/` inside the person's folder. */
  saveOriginal: false,
});

/**
 * Side, in pixels, of the aligned grey crop that `measureSharpness` works on. A fixed
 * size keeps the score independent of the saved crop size and the backbone.
 */
export const SHARPNESS_CROP_PX = 112;

/** Maximum length of a person name, in characters after NFC normalisation. */
export const MAX_PERSON_NAME_CHARS = 100;

/**
 * Maximum length of a person name, in UTF-8 bytes. File systems limit a file name to 255 bytes
 * (ext4, APFS, NTFS in UTF-16 units), and sample files add about 40 bytes to the name.
 */
export const MAX_PERSON_NAME_BYTES = 200;

/** Folder inside a person's folder that contains the original frames. `listImages` skips it because its name starts with a dot. */
export const ORIGINALS_FOLDER = '.originals';

export const REJECT_REASONS = ['no-face', 'multiple-faces', 'too-small', 'blurry', 'not-frontal', 'near-duplicate'] as const;

/** Reason a frame gave no sample. */
export type RejectReason = (typeof REJECT_REASONS)[number];

const MULTI_FACE_POLICIES: readonly MultiFacePolicy[] = ['largest', 'skip'];

/**
 * Checks gate overrides and returns a complete copy with the defaults filled in.
 *
 * @throws FacekitError ERR_INVALID_ARGUMENT naming the first invalid gate.
 */
export function resolveGates(gates: Partial<QualityGates> = {}): QualityGates {
  if (gates === null || typeof gates !== 'object' || Array.isArray(gates)) {
    throw invalidArgument('gates', 'an object of quality gates or undefined', gates);
  }
  const resolved: QualityGates = {
    minFaceSizePx: gates.minFaceSizePx ?? CAPTURE_DEFAULTS.minFaceSizePx,
    minSharpness: gates.minSharpness ?? CAPTURE_DEFAULTS.minSharpness,
    maxYawRatio: gates.maxYawRatio ?? CAPTURE_DEFAULTS.maxYawRatio,
    maxRollDeg: gates.maxRollDeg ?? CAPTURE_DEFAULTS.maxRollDeg,
    maxSimilarity: gates.maxSimilarity ?? CAPTURE_DEFAULTS.maxSimilarity,
    size: gates.size ?? CAPTURE_DEFAULTS.size,
    multiFace: gates.multiFace ?? CAPTURE_DEFAULTS.multiFace,
  };
  checkNumber('gates.minFaceSizePx', resolved.minFaceSizePx, 0, Infinity, 'a number of pixels >= 0');
  checkNumber('gates.minSharpness', resolved.minSharpness, 0, Infinity, 'a variance >= 0 in squared grey levels');
  checkNumber('gates.maxYawRatio', resolved.maxYawRatio, 0, Infinity, 'a ratio >= 0 of eye distances');
  checkNumber('gates.maxRollDeg', resolved.maxRollDeg, 0, 180, 'an angle from 0 to 180 degrees');
  checkNumber('gates.maxSimilarity', resolved.maxSimilarity, -1, 1, 'a cosine similarity from -1 to 1');
  if (!Number.isInteger(resolved.size) || resolved.size < 16 || resolved.size > 2048) {
    throw invalidArgument('gates.size', 'an integer number of pixels from 16 to 2048', resolved.size);
  }
  if (!MULTI_FACE_POLICIES.includes(resolved.multiFace)) {
    throw invalidArgument('gates.multiFace', "'largest' or 'skip'", resolved.multiFace);
  }
  return resolved;
}

function checkNumber(name: string, value: unknown, min: number, max: number, expected: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) throw invalidArgument(name, expected, value);
}

// ---------------------------------------------------------------------------------------
// Person names

/** Characters that Windows does not allow in file names. Rejected everywhere so datasets can be copied between systems. */
const NON_PORTABLE_CHARACTERS = /[<>:"|?*]/;
const CONTROL_CHARACTERS = /\p{Cc}/u;

/**
 * Checks a person's name for use as a dataset folder name and returns it trimmed and
 * NFC-normalised. `_unknown`, the folder of strangers, is allowed.
 *
 * @throws FacekitError ERR_INVALID_ARGUMENT when the name is not a string, is empty,
 *   contains `/`, `\`, a control character or one of `< > : " | ? *`, starts with a dot,
 *   or is longer than `MAX_PERSON_NAME_CHARS` characters or `MAX_PERSON_NAME_BYTES` bytes.
 */
export function validatePersonName(name: unknown): string {
  if (typeof name !== 'string') throw invalidPersonName(name, 'a string', 'Pass the person\'s name, such as "Ada Lovelace".');
  const normalized = name.trim().normalize('NFC');
  if (normalized === UNKNOWN_FOLDER) return normalized;

  if (normalized.length === 0) {
    throw invalidPersonName(name, 'a non-empty name', 'Pass the person\'s name, such as "Ada Lovelace".');
  }
  if (normalized.includes('/') || normalized.includes('\\')) {
    throw invalidPersonName(name, 'a name without "/" or "\\"', 'The name becomes one folder name, so pass the name alone, not a path.');
  }
  if (normalized.startsWith('.')) {
    throw invalidPersonName(name, 'a name that does not start with "."', 'Names starting with a dot, such as "..", are hidden or special folders.');
  }
  if (CONTROL_CHARACTERS.test(normalized)) {
    throw invalidPersonName(name, 'a name without control characters', 'Remove tabs, line breaks and NUL characters from the name.');
  }
  if (NON_PORTABLE_CHARACTERS.test(normalized)) {
    throw invalidPersonName(name, 'a name without < > : " | ? *', 'Windows does not allow these characters in folder names; leave them out.');
  }
  const characters = [...normalized].length;
  if (characters > MAX_PERSON_NAME_CHARS || Buffer.byteLength(normalized, 'utf8') > MAX_PERSON_NAME_BYTES) {
    throw invalidPersonName(
      name,
      `a name of at most ${MAX_PERSON_NAME_CHARS} characters and ${MAX_PERSON_NAME_BYTES} UTF-8 bytes`,
      'Use a shorter form of the name.',
    );
  }
  return normalized;
}

function invalidPersonName(name: unknown, expected: string, hint: string): FacekitError {
  return new FacekitError('ERR_INVALID_ARGUMENT', `Invalid person name: expected ${expected}, received ${describeValue(name)}. ${hint}`);
}

// ---------------------------------------------------------------------------------------
// Measurements

/** Head pose estimated from the BlazeFace keypoints. */
export interface PoseEstimate {
  /**
   * Offset of the nose tip from the eye midpoint along the eye line, divided by the eye
   * distance; 0 for a frontal face, growing as the head turns left or right. Its sign
   * follows the image's x axis (positive: the nose is towards the image's right).
   */
  yawRatio: number;
  /** Angle of the eye line from the image's horizontal, in degrees, -180 to 180; 0 for an upright face. */
  rollDeg: number;
}

/**
 * Estimates yaw and roll from the eye and nose keypoints of a BlazeFace detection (model
 * order: right eye, left eye, nose tip, ...). "Right" is the subject's right, on the
 * image's left, so the eye line of an upright face points along +x.
 */
export function measurePose(keypointsPx: readonly PointPx[]): PoseEstimate {
  const [rightEye, leftEye, nose] = keypointsPx;
  if (!rightEye || !leftEye || !nose) throw invalidArgument('keypointsPx', 'at least the 3 BlazeFace keypoints: right eye, left eye, nose tip', keypointsPx);
  const eyeX = leftEye[0] - rightEye[0];
  const eyeY = leftEye[1] - rightEye[1];
  const eyeDistanceSquared = eyeX * eyeX + eyeY * eyeY;
  const rollDeg = (Math.atan2(eyeY, eyeX) * 180) / Math.PI;
  if (eyeDistanceSquared === 0) return { yawRatio: Infinity, rollDeg };
  const noseX = nose[0] - (rightEye[0] + leftEye[0]) / 2;
  const noseY = nose[1] - (rightEye[1] + leftEye[1]) / 2;
  return { yawRatio: (noseX * eyeX + noseY * eyeY) / eyeDistanceSquared, rollDeg };
}

/**
 * Returns the variance of the 4-neighbour Laplacian of an image's grey values (ITU-R
 * BT.601 luma of the 8-bit RGB), over the pixels that have all four neighbours, in
 * squared grey levels. Sharp detail gives large values and blur small ones. Images
 * narrower or lower than 3 pixels give 0.
 */
export function laplacianVariance(image: RgbImage): number {
  const { width, height, data } = imageFromRaw(image);
  if (width < 3 || height < 3) return 0;
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = 0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]!;

  let sum = 0;
  let sumOfSquares = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const response = grey[i - 1]! + grey[i + 1]! + grey[i - width]! + grey[i + width]! - 4 * grey[i]!;
      sum += response;
      sumOfSquares += response * response;
    }
  }
  const count = (width - 2) * (height - 2);
  const mean = sum / count;
  return Math.max(0, sumOfSquares / count - mean * mean);
}

/**
 * Measures how sharp a detected face is: `laplacianVariance` of the face aligned to a
 * `SHARPNESS_CROP_PX` crop with the default alignment margin, so that the value depends
 * neither on the saved crop size nor on the pipeline's settings.
 */
export function measureSharpness(image: RgbImage, keypointsPx: readonly PointPx[]): number {
  const aligned = alignFace(image, keypointsPx, { size: SHARPNESS_CROP_PX, margin: DEFAULT_ALIGN_MARGIN });
  return laplacianVariance(aligned.image);
}

/** Values the gates measured on a face. Fields are missing when an earlier gate rejected the face. */
export interface QualityMeasurements {
  /** Face box width in source pixels. */
  faceSizePx?: number;
  yawRatio?: number;
  rollDeg?: number;
  sharpness?: number;
  /** Highest cosine similarity to a sample kept earlier in the run; missing for the first sample. */
  similarity?: number;
}

export type GateVerdict =
  | { passed: true; measurements: QualityMeasurements }
  | { passed: false; reason: 'too-small' | 'not-frontal' | 'blurry'; detail: string; measurements: QualityMeasurements };

/**
 * Applies the size, pose and sharpness gates, in that order, to one detected face. The
 * near-duplicate gate needs earlier samples, so `SampleCollector` applies it separately.
 */
export function checkFaceQuality(image: RgbImage, face: DetectedFace, gates: QualityGates): GateVerdict {
  const faceSizePx = face.boxPx.width;
  const measurements: QualityMeasurements = { faceSizePx };
  if (faceSizePx < gates.minFaceSizePx) {
    const detail = `face is ${Math.round(faceSizePx)} px wide, less than the minimum of ${gates.minFaceSizePx} px; move closer to the camera`;
    return { passed: false, reason: 'too-small', detail, measurements };
  }

  const { yawRatio, rollDeg } = measurePose(face.keypointsPx);
  measurements.yawRatio = yawRatio;
  measurements.rollDeg = rollDeg;
  if (Math.abs(yawRatio) > gates.maxYawRatio) {
    const detail = `head is turned: nose offset ${Math.abs(yawRatio).toFixed(2)} eye distances, more than ${gates.maxYawRatio}; face the camera more`;
    return { passed: false, reason: 'not-frontal', detail, measurements };
  }
  if (Math.abs(rollDeg) > gates.maxRollDeg) {
    const detail = `head is tilted by ${Math.abs(rollDeg).toFixed(0)}°, more than ${gates.maxRollDeg}°; hold the head upright`;
    return { passed: false, reason: 'not-frontal', detail, measurements };
  }

  const sharpness = measureSharpness(image, face.keypointsPx);
  measurements.sharpness = sharpness;
  if (sharpness < gates.minSharpness) {
    const detail = `face is blurry: sharpness ${sharpness.toFixed(1)}, less than ${gates.minSharpness}; hold still or add light`;
    return { passed: false, reason: 'blurry', detail, measurements };
  }
  return { passed: true, measurements };
}

// ---------------------------------------------------------------------------------------
// Sample collector

export interface SampleCollectorOptions {
  /** Dataset folder; created when missing. */
  dataset: string;
  /** Person name, checked by `validatePersonName`; samples go to `dataset/name/`. */
  name: string;
  /** Gate overrides; see `CAPTURE_DEFAULTS` for each default. */
  gates?: Partial<QualityGates>;
  /** Also save the whole frame into `dataset/name/.originals/`. Default `CAPTURE_DEFAULTS.saveOriginal` (false). */
  saveOriginal?: boolean;
}

/** Result of `SampleCollector.offer` for one frame. */
export type OfferResult =
  | {
      kept: true;
      /** The saved crop. */
      path: string;
      /** The saved original frame, with `saveOriginal`. */
      originalPath?: string;
      face: DetectedFace;
      measurements: QualityMeasurements;
    }
  | {
      kept: false;
      reason: RejectReason;
      /** One sentence on what failed and what to change. */
      detail: string;
      /** The face the gates looked at; missing for `no-face`. */
      face?: DetectedFace;
      measurements?: QualityMeasurements;
    };

/** Samples kept and frames rejected so far, by reason. */
export interface CaptureCounts {
  kept: number;
  rejected: Record<RejectReason, number>;
}

/** Extra information about an offered frame. */
export interface OfferInfo {
  /** Time of the frame in its video, in seconds. Not used by the gates. */
  timeSec?: number;
}

/** Upper bound on file names tried for one sample before giving up. */
const MAX_NAME_ATTEMPTS = 10_000;

/** `link` errors that mean the file system has no hard links (FAT, exFAT, some network shares). */
const NO_HARD_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Runs frames through the quality gates and saves the faces that pass as
 * `dataset/name/name_<UTC timestamp>_<n>.jpg`. Existing files are never overwritten. On
 * file systems with hard links, every file appears complete or not at all. Calls to
 * `offer` run one at a time in call order, so a server may call it from concurrent requests.
 *
 * NOTE: the near-duplicate gate compares only with samples kept by this collector, not
 * with files already in the folder, so a second run over the same video saves the same
 * views again.
 */
export class SampleCollector {
  readonly name: string;
  /** The person's folder, `dataset/name`. */
  readonly folder: string;
  readonly gates: Readonly<QualityGates>;
  readonly saveOriginal: boolean;
  /** Images in the person's folder (sub-folders included) when the collector was created. */
  readonly existingCount: number;

  private readonly pipeline: FacePipeline;
  private readonly keptFeatures: Float32Array[] = [];
  private readonly rejected: Record<RejectReason, number> = zeroCounts();
  private sequence = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @throws FacekitError ERR_INVALID_ARGUMENT for an invalid option or name, and
   *   ERR_WRITE_FAILED when the person's folder path exists but is not a folder.
   */
  constructor(pipeline: FacePipeline, options: SampleCollectorOptions) {
    if (!(pipeline instanceof FacePipeline)) throw invalidArgument('pipeline', 'a FacePipeline', pipeline);
    if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object { dataset, name }', options);
    if (typeof options.dataset !== 'string' || options.dataset.length === 0) {
      throw invalidArgument('dataset', 'the path of a dataset folder', options.dataset);
    }
    const saveOriginal = options.saveOriginal ?? CAPTURE_DEFAULTS.saveOriginal;
    if (typeof saveOriginal !== 'boolean') throw invalidArgument('saveOriginal', 'a boolean', saveOriginal);

    this.pipeline = pipeline;
    this.name = validatePersonName(options.name);
    this.folder = path.join(options.dataset, this.name);
    this.gates = Object.freeze(resolveGates(options.gates));
    this.saveOriginal = saveOriginal;
    this.existingCount = countExistingImages(this.folder);
  }

  /** Samples kept by this collector and frames rejected, by reason. Returns a copy. */
  get counts(): CaptureCounts {
    return { kept: this.keptFeatures.length, rejected: { ...this.rejected } };
  }

  /**
   * Runs one frame through the gates and saves the face when it passes.
   *
   * @throws FacekitError ERR_INVALID_ARGUMENT for a malformed image, and ERR_WRITE_FAILED
   *   when saving fails (disk full, no permission). Samples saved before stay in place.
   */
  async offer(image: RgbImage, info: OfferInfo = {}): Promise<OfferResult> {
    const checked = imageFromRaw(image);
    if (info === null || typeof info !== 'object') throw invalidArgument('info', 'an object { timeSec? } or undefined', info);
    const result = this.queue.then(() => this.offerNow(checked));
    // A failed offer must not block the ones queued after it.
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async offerNow(image: RgbImage): Promise<OfferResult> {
    const faces = await this.pipeline.detect(image);
    const face = largestFace(faces);
    if (!face) return this.reject('no-face', 'no face found in the frame');
    if (faces.length > 1 && this.gates.multiFace === 'skip') {
      return this.reject('multiple-faces', `${faces.length} faces found; with multiFace 'skip' only frames with one face are used`, face);
    }

    const verdict = checkFaceQuality(image, face, this.gates);
    if (!verdict.passed) return this.reject(verdict.reason, verdict.detail, face, verdict.measurements);
    const measurements = verdict.measurements;

    const [aligned] = this.pipeline.align(image, [face]);
    const [feature] = await this.pipeline.embed([aligned!.crop]);
    const similarity = this.highestSimilarity(feature!);
    if (similarity !== undefined) measurements.similarity = similarity;
    if (similarity !== undefined && similarity >= this.gates.maxSimilarity) {
      const detail = `face is too similar to an earlier sample (cosine similarity ${similarity.toFixed(3)}, limit ${this.gates.maxSimilarity}); move or change expression`;
      return this.reject('near-duplicate', detail, face, measurements);
    }

    const crop =
      aligned!.crop.width === this.gates.size
        ? aligned!.crop
        : alignFace(image, face.keypointsPx, { size: this.gates.size, margin: this.pipeline.alignMargin }).image;
    const saved = await this.save(crop, this.saveOriginal ? image : undefined);
    this.keptFeatures.push(feature!);
    return { kept: true, ...saved, face, measurements };
  }

  private highestSimilarity(feature: Float32Array): number | undefined {
    let highest: number | undefined;
    for (const kept of this.keptFeatures) {
      const similarity = cosineSimilarity(feature, kept);
      if (highest === undefined || similarity > highest) highest = similarity;
    }
    return highest;
  }

  private reject(reason: RejectReason, detail: string, face?: DetectedFace, measurements?: QualityMeasurements): OfferResult {
    this.rejected[reason]++;
    return { kept: false, reason, detail, face, measurements };
  }

  /** Saves the crop, and the original frame when given, under the first free sequence number. */
  private async save(crop: RgbImage, original: RgbImage | undefined): Promise<{ path: string; originalPath?: string }> {
    const cropBytes = await encodeImage(crop, 'jpeg', DEFAULT_JPEG_QUALITY);
    const originalBytes = original ? await encodeImage(original, 'jpeg', DEFAULT_JPEG_QUALITY) : undefined;
    const originalsFolder = path.join(this.folder, ORIGINALS_FOLDER);
    await this.createFolder(this.folder);
    if (originalBytes) await this.createFolder(originalsFolder);

    const stamp = utcStamp(new Date());
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
      this.sequence++;
      const stem = `${this.name}_${stamp}_${this.sequence}`;
      const cropPath = path.join(this.folder, `${stem}.jpg`);
      let originalPath: string | undefined;
      if (originalBytes) {
        originalPath = path.join(originalsFolder, `${stem}_orig.jpg`);
        if (!(await this.writeNewFile(originalPath, originalBytes))) continue;
      }
      let written = false;
      try {
        written = await this.writeNewFile(cropPath, cropBytes);
      } finally {
        // An original frame without its crop would be an orphan.
        if (!written && originalPath) await rm(originalPath, { force: true });
      }
      if (written) return originalPath ? { path: cropPath, originalPath } : { path: cropPath };
    }
    throw this.writeFailed(`no free file name after ${MAX_NAME_ATTEMPTS} attempts`);
  }

  private async createFolder(folder: string): Promise<void> {
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw this.writeFailed(describeFsError(error), error);
    }
  }

  /**
   * Writes `data` to a temporary file in the same folder and publishes it under `target`
   * with a hard link, which fails instead of replacing an existing file. Returns false
   * when `target` exists. The temporary name starts with a dot, so `listImages` skips it
   * if the process dies before the cleanup.
   */
  private async writeNewFile(target: string, data: Buffer): Promise<boolean> {
    const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(temporary, data, { flag: 'wx' });
      return await publish(temporary, target);
    } catch (error) {
      throw this.writeFailed(describeFsError(error), error);
    } finally {
      await rm(temporary, { force: true });
    }
  }

  private writeFailed(reason: string, cause?: unknown): FacekitError {
    const kept = this.keptFeatures.length;
    return new FacekitError(
      'ERR_WRITE_FAILED',
      `Saving a sample into ${this.folder} failed (${reason}). Samples saved before the failure (${kept}) are kept. ` +
        'Check the free disk space and that the folder is writable.',
      { path: this.folder, cause },
    );
  }
}

async function publish(temporary: string, target: string): Promise<boolean> {
  try {
    await link(temporary, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_HARD_LINK_CODES.has(code)) throw error;
  }
  // Without hard links: reserve the name exclusively, then replace the empty reservation.
  // NOTE: a reader can see the empty reserved file until the rename, and a crash in
  // between leaves it behind.
  let reservation;
  try {
    reservation = await open(target, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  await reservation.close();
  try {
    await rename(temporary, target);
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
  return true;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}

/** Formats a time as a compact UTC timestamp such as 20261204T201500Z. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

function zeroCounts(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((reason) => [reason, 0])) as Record<RejectReason, number>;
}

/**
 * Counts image files under `folder` as `listImages` finds them (recursive, hidden entries
 * skipped). Synchronous, so that the collector's constructor can report it. Returns 0 when
 * the folder does not exist yet.
 */
function countExistingImages(folder: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 0;
    const reason = code === 'ENOTDIR' ? 'the path exists but is a file, not a folder' : describeFsError(error);
    throw new FacekitError('ERR_WRITE_FAILED', `Cannot save samples into ${folder}: ${reason}. Move the file away or choose another name or dataset.`, {
      path: folder,
      cause: error,
    });
  }
  let count = 0;
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) count += countExistingImages(path.join(folder, entry.name));
    else if (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------
// captureSamples

/** Kind of capture source: a video file, a folder of photos (or one photo), or a camera. */
export type CaptureSourceKind = 'video' | 'photos' | 'device';

export interface CaptureOptions {
  /** Dataset folder; created when missing. */
  dataset: string;
  /** Person name, checked by `validatePersonName`. */
  name: string;
  /** A video file, a folder of photos (walked recursively), one photo, or a V4L2 camera such as `/dev/video0`. */
  from: string;
  /** New samples to keep; the capture stops when it has them. Default `CAPTURE_DEFAULTS.count` (100). */
  count?: number;
  /** Frames per second sampled from a video, or the rate requested from a camera. Default `CAPTURE_DEFAULTS.fps` (5). Ignored for photos. */
  fps?: number;
  /** Gate overrides; see `CAPTURE_DEFAULTS` for each default. */
  gates?: Partial<QualityGates>;
  /** Also save whole frames into `.originals/`. Default false. */
  saveOriginal?: boolean;
  /** Pipeline to use. Default: a new `FacePipeline` with default options, disposed at the end. */
  pipeline?: FacePipeline;
  /** Stops the capture; it then rejects with ERR_CANCELLED and the saved samples stay. */
  signal?: AbortSignal;
  /** Receives progress events, one per frame. */
  onEvent?: (event: CaptureEvent) => void;
}

export type CaptureEvent =
  | {
      type: 'start';
      name: string;
      folder: string;
      source: string;
      sourceKind: CaptureSourceKind;
      target: number;
      existingCount: number;
      /** Number of photos for a folder; unknown for video and cameras. */
      totalFrames?: number;
    }
  | {
      type: 'frame';
      /** Position of the frame or photo, from 0. */
      index: number;
      /** Time in the video, in seconds; missing for photos. */
      timeSec?: number;
      /** The photo's path; missing for video. */
      file?: string;
      result: OfferResult;
      /** Samples kept so far in this run. */
      kept: number;
      target: number;
      rejected: Record<RejectReason, number>;
    }
  | { type: 'unreadable'; file: string; code: ErrorCode; message: string };

export interface CaptureSummary {
  name: string;
  folder: string;
  source: string;
  sourceKind: CaptureSourceKind;
  /** Images in the person's folder before this run. */
  existingCount: number;
  target: number;
  kept: number;
  rejected: Record<RejectReason, number>;
  /** Frames or photos read, including rejected and unreadable ones. */
  framesRead: number;
  /** Photos that could not be decoded. */
  unreadable: Array<{ path: string; code: ErrorCode; message: string }>;
  /** Saved crops, in order. */
  files: string[];
  /** Saved original frames, with `saveOriginal`. */
  originals: string[];
  /** Reason the capture ended. */
  stoppedBy: 'count' | 'end-of-source';
}

/**
 * Collects face samples of one person from a video, a camera or photos until `count`
 * samples are kept or the source ends. For a camera, only `count` or `signal` ends it.
 *
 * @throws FacekitError ERR_INVALID_ARGUMENT (options, name), ERR_FILE_NOT_FOUND (missing
 *   source, or a folder without images), ERR_VIDEO, ERR_FFMPEG_MISSING, ERR_WRITE_FAILED,
 *   ERR_CANCELLED. Samples saved before an error stay in place.
 */
export async function captureSamples(options: CaptureOptions): Promise<CaptureSummary> {
  const resolved = resolveCaptureOptions(options);
  const sourceKind = await classifyCaptureSource(resolved.from);
  const photos = sourceKind === 'photos' ? await listPhotos(resolved.from) : undefined;

  const pipeline = resolved.pipeline ?? (await FacePipeline.create());
  try {
    const collector = new SampleCollector(pipeline, {
      dataset: resolved.dataset,
      name: resolved.name,
      gates: resolved.gates,
      saveOriginal: resolved.saveOriginal,
    });
    const summary: CaptureSummary = {
      name: collector.name,
      folder: collector.folder,
      source: resolved.from,
      sourceKind,
      existingCount: collector.existingCount,
      target: resolved.count,
      kept: 0,
      rejected: collector.counts.rejected,
      framesRead: 0,
      unreadable: [],
      files: [],
      originals: [],
      stoppedBy: 'end-of-source',
    };
    resolved.onEvent?.({
      type: 'start',
      name: collector.name,
      folder: collector.folder,
      source: resolved.from,
      sourceKind,
      target: resolved.count,
      existingCount: collector.existingCount,
      ...(photos ? { totalFrames: photos.length } : {}),
    });

    const frames: AsyncIterable<SourceFrame> = photos
      ? readPhotos(photos, resolved.signal, summary, resolved.onEvent)
      : readFrames(resolved.from, { fps: resolved.fps, signal: resolved.signal });
    for await (const frame of frames) {
      summary.framesRead++;
      const result = await collector.offer(frame.image, { timeSec: frame.timeSec });
      if (result.kept) {
        summary.files.push(result.path);
        if (result.originalPath) summary.originals.push(result.originalPath);
      }
      const counts = collector.counts;
      summary.kept = counts.kept;
      summary.rejected = counts.rejected;
      resolved.onEvent?.({
        type: 'frame',
        index: frame.index,
        ...(frame.file === undefined ? { timeSec: frame.timeSec } : { file: frame.file }),
        result,
        kept: counts.kept,
        target: resolved.count,
        rejected: counts.rejected,
      });
      if (counts.kept >= resolved.count) {
        summary.stoppedBy = 'count';
        break;
      }
    }
    return summary;
  } finally {
    if (!resolved.pipeline) await pipeline.dispose();
  }
}

interface ResolvedCaptureOptions {
  dataset: string;
  name: string;
  from: string;
  count: number;
  fps: number;
  gates: QualityGates;
  saveOriginal: boolean;
  pipeline: FacePipeline | undefined;
  signal: AbortSignal | undefined;
  onEvent: ((event: CaptureEvent) => void) | undefined;
}

function resolveCaptureOptions(options: CaptureOptions): ResolvedCaptureOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object { dataset, name, from, ... }', options);
  const { dataset, from, count = CAPTURE_DEFAULTS.count, fps = CAPTURE_DEFAULTS.fps, pipeline, signal, onEvent } = options;
  const saveOriginal = options.saveOriginal ?? CAPTURE_DEFAULTS.saveOriginal;
  if (typeof dataset !== 'string' || dataset.length === 0) throw invalidArgument('dataset', 'the path of a dataset folder', dataset);
  if (typeof from !== 'string' || from.length === 0) {
    throw invalidArgument('from', 'a video file, a folder of photos or a camera device such as /dev/video0', from);
  }
  if (!Number.isSafeInteger(count) || count < 1) throw invalidArgument('count', 'a positive integer number of samples', count);
  if (typeof fps !== 'number' || !Number.isFinite(fps) || fps <= 0) throw invalidArgument('fps', 'a positive number of frames per second', fps);
  if (typeof saveOriginal !== 'boolean') throw invalidArgument('saveOriginal', 'a boolean', saveOriginal);
  if (pipeline !== undefined && !(pipeline instanceof FacePipeline)) throw invalidArgument('pipeline', 'a FacePipeline or undefined', pipeline);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('signal', 'an AbortSignal or undefined', signal);
  if (onEvent !== undefined && typeof onEvent !== 'function') throw invalidArgument('onEvent', 'a function or undefined', onEvent);
  return {
    dataset,
    name: validatePersonName(options.name),
    from,
    count,
    fps,
    gates: resolveGates(options.gates),
    saveOriginal,
    pipeline,
    signal,
    onEvent,
  };
}

async function classifyCaptureSource(source: string): Promise<CaptureSourceKind> {
  let stats;
  try {
    stats = await stat(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FacekitError(
      'ERR_FILE_NOT_FOUND',
      `Capture source ${code === 'ENOENT' || code === 'ENOTDIR' ? 'not found' : `cannot be read (${code})`}: ${source}. ` +
        'Pass a video file, a folder of photos or a camera device such as /dev/video0.',
      { path: source, cause: error },
    );
  }
  if (stats.isDirectory()) return 'photos';
  if (stats.isCharacterDevice()) return 'device';
  return IMAGE_EXTENSIONS.has(path.extname(source).toLowerCase()) ? 'photos' : 'video';
}

/** Lists the photo files of a photos source: the file itself, or the images under a folder. */
async function listPhotos(source: string): Promise<string[]> {
  const stats = await stat(source);
  if (!stats.isDirectory()) return [source];
  const files = await listImages(source);
  if (files.length === 0) {
    throw new FacekitError(
      'ERR_FILE_NOT_FOUND',
      `No image files found in ${source}. facekit reads ${[...IMAGE_EXTENSIONS].join(', ')}; pass a folder of photos or a video file.`,
      { path: source },
    );
  }
  return files;
}

interface SourceFrame {
  index: number;
  timeSec?: number;
  file?: string;
  image: RgbImage;
}

/** Decodes photos one at a time. Unreadable photos are reported and skipped. */
async function* readPhotos(
  files: readonly string[],
  signal: AbortSignal | undefined,
  summary: CaptureSummary,
  onEvent: ((event: CaptureEvent) => void) | undefined,
): AsyncGenerator<SourceFrame> {
  for (const [index, file] of files.entries()) {
    if (signal?.aborted) throw new FacekitError('ERR_CANCELLED', `Capture was cancelled after ${summary.kept} samples were saved`);
    let image: RgbImage;
    try {
      image = await decodeImage(file);
    } catch (error) {
      if (!isFacekitError(error)) throw error;
      summary.framesRead++;
      summary.unreadable.push({ path: file, code: error.code, message: error.message });
      onEvent?.({ type: 'unreadable', file, code: error.code, message: error.message });
      continue;
    }
    yield { index, file, image };
  }
}
