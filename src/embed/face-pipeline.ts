/**
 * The front half of every facekit job: detect faces, align each to the keypoint template,
 * and embed the aligned crops with the frozen backbone. Training, recognition, capture
 * and the dataset audit all run images through this one class.
 */
import type { AffineMatrix } from '../align/similarity.js';
import { DEFAULT_ALIGN_MARGIN } from '../align/template.js';
import { alignFace } from '../align/warp.js';
import { openFaceDetector } from '../detect/detect-faces.js';
import { type DetectedFace, type FaceDetector, type FaceDetectorOptions, resolveDetectorOptions } from '../detect/detector.js';
import { invalidArgument } from '../errors.js';
import type { ModelId } from '../models/registry.js';
import type { RgbImage } from '../types.js';
import { Embedder } from './embedder.js';

export interface FacePipelineOptions {
  /** Backbone model id. Default `faceres`. */
  backbone?: ModelId;
  /** Face detector options; see `FaceDetectorOptions` for each default. */
  detector?: Partial<FaceDetectorOptions>;
  /** Border added around the tight face template, as a fraction of its side. Default 0.2. */
  alignMargin?: number;
  /** ONNX Runtime intra-op threads per session. Default: the number of logical CPU cores. */
  intraOpThreads?: number;
  /** Crops per backbone call. Default 8. */
  batchSize?: number;
}

export interface AlignedCrop {
  /** Square crop of the backbone's input size. */
  crop: RgbImage;
  /** Original image pixels → crop pixels. */
  imageToCrop: AffineMatrix;
}

export interface AnalyzedFace extends DetectedFace, AlignedCrop {
  feature: Float32Array;
}

export class FacePipeline {
  readonly detector: FaceDetector;
  readonly embedder: Embedder;
  readonly alignMargin: number;

  private constructor(detector: FaceDetector, embedder: Embedder, alignMargin: number) {
    this.detector = detector;
    this.embedder = embedder;
    this.alignMargin = alignMargin;
  }

  static async create(options: FacePipelineOptions = {}): Promise<FacePipeline> {
    const alignMargin = options.alignMargin ?? DEFAULT_ALIGN_MARGIN;
    if (typeof alignMargin !== 'number' || !(alignMargin >= 0 && alignMargin <= 1)) {
      throw invalidArgument('alignMargin', 'a fraction from 0 to 1', alignMargin);
    }
    const detectorOptions = resolveDetectorOptions(options.detector);
    const threads = options.intraOpThreads;
    const detector = openFaceDetector(detectorOptions, threads);
    const embedder = await Embedder.create({ backbone: options.backbone, batchSize: options.batchSize, intraOpThreads: threads });
    return new FacePipeline(detector, embedder, alignMargin);
  }

  /** A short, stable description of every setting that changes features, for cache keys. */
  get fingerprint(): string {
    const d = this.detector.options;
    return [
      this.embedder.spec.id,
      this.embedder.spec.weightsSha256.slice(0, 12),
      d.model,
      `s${d.scoreThreshold}`,
      `m${d.minFaceSize}`,
      d.tiling ? 't' : 'nt',
      `a${this.alignMargin}`,
    ].join('-');
  }

  detect(image: RgbImage): Promise<DetectedFace[]> {
    return this.detector.detect(image);
  }

  /** Aligns detected faces to crops of the backbone's input size. */
  align(image: RgbImage, faces: readonly DetectedFace[]): AlignedCrop[] {
    return faces.map((face) => {
      const aligned = alignFace(image, face.keypointsPx, { size: this.embedder.inputSize, margin: this.alignMargin });
      return { crop: aligned.image, imageToCrop: aligned.matrix };
    });
  }

  embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    return this.embedder.embed(crops);
  }

  /** Detects, aligns and embeds every face in `image`; pass `faces` to skip detection. */
  async analyze(image: RgbImage, faces?: readonly DetectedFace[]): Promise<AnalyzedFace[]> {
    const found = faces ?? (await this.detect(image));
    const aligned = this.align(image, found);
    const features = await this.embed(aligned.map((a) => a.crop));
    return found.map((face, i) => ({ ...face, ...aligned[i]!, feature: features[i]! }));
  }

  async dispose(): Promise<void> {
    await Promise.all([this.detector.dispose(), this.embedder.dispose()]);
  }
}

/** Returns the largest face by box area, or undefined for an empty list. */
export function largestFace<T extends DetectedFace>(faces: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const face of faces) {
    if (!best || face.boxPx.width * face.boxPx.height > best.boxPx.width * best.boxPx.height) best = face;
  }
  return best;
}
