/**
 * The end-to-end recogniser: a trained model loaded once, then `recognize(image)` for
 * every photo or frame: detect → align → embed → head → open-set decision.
 */
import type { DetectedFace, FaceDetectorOptions } from '../detect/detector.js';
import { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError, invalidArgument } from '../errors.js';
import { type DecodeOptions, type DecodedImage, decodeImage, imageFromRaw } from '../image/decode.js';
import { type ModelId, type ModelSpec, MODELS } from '../models/registry.js';
import { type LoadedModel, loadModel as loadTrainedModel } from '../store/model-store.js';
import { type OpenSetDecide, createOpenSetDecider } from '../train/openset.js';
import { HeadModel } from '../train/predict.js';
import { marginFromTemplateId } from '../train/train.js';
import type { BoxPx, PointPx, RgbImage } from '../types.js';

/** Label given to faces the open-set rule rejects. */
export const UNKNOWN_LABEL = 'unknown';

export interface RecognizerOptions {
  /** Trained model folder, or a model already loaded with `loadModel`. Required. */
  model: string | LoadedModel;
  /**
   * Overrides the model's calibrated open-set threshold, in the units of the model's
   * open-set score (`model.openSet.score`: probability or cosine similarity, both 0–1).
   * Higher rejects more faces as unknown.
   */
  threshold?: number;
  /** Candidates listed per face. Default 3. */
  topK?: number;
  /** Face detector options; see `FaceDetectorOptions` for each default. */
  detector?: Partial<FaceDetectorOptions>;
  /** ONNX Runtime intra-op threads per session. Default: the number of logical CPU cores. */
  intraOpThreads?: number;
  /** Pixel limit for images passed as paths or Buffers. Default: the decoder's (100 megapixels). */
  maxPixels?: number;
}

export interface Candidate {
  label: string;
  /** Softmax probability of this person among the known people, 0–1. */
  probability: number;
}

export interface RecognizedFace {
  boxPx: BoxPx;
  keypointsPx: PointPx[];
  /** Face detector score, 0–1. */
  detectionScore: number;
  /** The person's name, or `unknown`. */
  label: string;
  known: boolean;
  /**
   * For a named face: the softmax probability of that person among the known people.
   * For an unknown face: the share of calibration strangers whose open-set score was at
   * least this face's, so a value near 1 means the face looks like a typical stranger.
   * Both lie in [0, 1].
   */
  confidence: number;
  /** Open-set score of the nearest person (its units follow `model.openSet.score`). */
  openSetScore: number;
  /** Cosine similarity to the nearest person's centroid, −1 to 1. */
  similarity: number;
  /** Best `topK` people by probability, whether or not the face was accepted. */
  candidates: Candidate[];
}

export interface RecognitionResult {
  /** The image's path, or `<buffer>` / `<pixels>`. */
  source: string;
  width: number;
  height: number;
  faces: RecognizedFace[];
}

export type ImageInput = string | Buffer | Uint8Array | RgbImage;

/** One image's outcome from `Recognizer.recognizeEach`: a result, or the error that stopped it. */
export type RecognitionOutcome =
  | { ok: true; index: number; input: ImageInput; result: RecognitionResult }
  | { ok: false; index: number; input: ImageInput; error: unknown };

/**
 * Images that `recognizeEach` decodes ahead of the one being recognised. Decoding runs on
 * libuv's thread pool while ONNX Runtime works on the main thread, so one image ahead keeps
 * the decoder busy, and two cover a slow file.
 */
export const RECOGNIZE_LOOKAHEAD = 2;

export interface Recognizer {
  readonly model: LoadedModel;
  readonly classNames: readonly string[];
  recognize(image: ImageInput): Promise<RecognitionResult>;
  /** Recognises several images; their faces share backbone calls. Returns one result per image. */
  recognizeBatch(images: readonly ImageInput[]): Promise<RecognitionResult[]>;
  /**
   * Recognises images one after another, in order, while the next ones decode in the
   * background (see `RECOGNIZE_LOOKAHEAD`). An image that fails yields its error, and the
   * others go on. Suits folders of photos; the CLI reads folders this way.
   */
  recognizeEach(images: Iterable<ImageInput>): AsyncGenerator<RecognitionOutcome>;
  /** Runs only the classifier part on faces found elsewhere (for example by a tracker). */
  recognizeFaces(image: RgbImage, faces: readonly DetectedFace[]): Promise<RecognizedFace[]>;
  dispose(): Promise<void>;
}

/** Loads a trained model and opens the sessions that recognition needs. */
export async function createRecognizer(options: RecognizerOptions): Promise<Recognizer> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object with a model', options);
  const topK = options.topK ?? 3;
  if (!Number.isInteger(topK) || topK < 1) throw invalidArgument('topK', 'a positive integer', topK);
  if (options.threshold !== undefined && (typeof options.threshold !== 'number' || !(options.threshold >= -1 && options.threshold <= 1))) {
    throw invalidArgument('threshold', 'a number from -1 to 1', options.threshold);
  }
  let model: LoadedModel;
  if (typeof options.model === 'string') model = await loadTrainedModel(options.model);
  else if (options.model && typeof options.model === 'object' && 'classNames' in options.model) model = options.model;
  else throw invalidArgument('model', 'a model folder path or a loaded model', options.model);

  const spec = requireInstalledBackbone(model);

  const pipeline = await FacePipeline.create({
    backbone: spec.id,
    detector: options.detector,
    alignMargin: marginFromTemplateId(model.alignmentTemplateId),
    intraOpThreads: options.intraOpThreads,
  });
  const rule = options.threshold === undefined ? model.openSet : { ...model.openSet, threshold: options.threshold };
  return new DefaultRecognizer(model, pipeline, new HeadModel(model.head), createOpenSetDecider(rule, model.centroids), topK, options.maxPixels);
}

/**
 * Returns the registry entry of the backbone a trained model was made for. Raises
 * ERR_MODEL_MISMATCH when facekit does not have that backbone or its installed weights
 * differ from the ones the model was trained on.
 */
export function requireInstalledBackbone(model: LoadedModel): ModelSpec {
  const backboneId = model.backbone.id;
  if (!Object.hasOwn(MODELS, backboneId) || MODELS[backboneId as ModelId].role !== 'backbone') {
    throw new FacekitError('ERR_MODEL_MISMATCH', `Model ${model.directory} was trained on backbone ${backboneId}, which this facekit version does not have`, {
      path: model.directory,
    });
  }
  const spec = MODELS[backboneId as ModelId];
  if (spec.weightsSha256 !== model.backbone.sha256) {
    throw new FacekitError(
      'ERR_MODEL_MISMATCH',
      `Model ${model.directory} was trained on different ${backboneId} weights (SHA-256 ${model.backbone.sha256.slice(0, 12)}…, installed ${spec.weightsSha256.slice(0, 12)}…); retrain it with this installation`,
      { path: model.directory },
    );
  }
  return spec;
}

class DefaultRecognizer implements Recognizer {
  readonly classNames: readonly string[];
  private disposed = false;

  constructor(
    readonly model: LoadedModel,
    private readonly pipeline: FacePipeline,
    private readonly head: HeadModel,
    private readonly decide: OpenSetDecide,
    private readonly topK: number,
    private readonly maxPixels: number | undefined,
  ) {
    this.classNames = model.classNames;
  }

  async recognize(image: ImageInput): Promise<RecognitionResult> {
    return (await this.recognizeBatch([image]))[0]!;
  }

  async recognizeBatch(images: readonly ImageInput[]): Promise<RecognitionResult[]> {
    this.assertOpen();
    if (!Array.isArray(images)) throw invalidArgument('images', 'an array of images', images);
    return this.recognizeDecoded(await Promise.all(images.map((image) => this.toImage(image))));
  }

  async *recognizeEach(images: Iterable<ImageInput>): AsyncGenerator<RecognitionOutcome> {
    this.assertOpen();
    if (images === null || typeof images !== 'object' || !(Symbol.iterator in images)) {
      throw invalidArgument('images', 'an iterable of images', images);
    }
    const source = images[Symbol.iterator]();
    const queue: Array<{ input: ImageInput; decoded: Promise<DecodedImage> }> = [];
    const refill = (): void => {
      while (queue.length < RECOGNIZE_LOOKAHEAD) {
        const next = source.next();
        if (next.done) return;
        const decoded = this.toImage(next.value);
        // The rejection is handled when this image's turn comes, so until then it must not count as unhandled.
        decoded.catch(() => undefined);
        queue.push({ input: next.value, decoded });
      }
    };
    try {
      refill();
      for (let index = 0; queue.length > 0; index++) {
        const { input, decoded } = queue.shift()!;
        refill();
        let outcome: RecognitionOutcome;
        try {
          outcome = { ok: true, index, input, result: (await this.recognizeDecoded([await decoded]))[0]! };
        } catch (error) {
          outcome = { ok: false, index, input, error };
        }
        this.assertOpen();
        yield outcome;
      }
    } finally {
      // A caller that stops early (break) or fails also ends the iterable it passed in.
      source.return?.();
    }
  }

  private async recognizeDecoded(decoded: readonly DecodedImage[]): Promise<RecognitionResult[]> {
    const detections: DetectedFace[][] = [];
    for (const image of decoded) detections.push(await this.pipeline.detect(image));
    const aligned = decoded.flatMap((image, i) => this.pipeline.align(image, detections[i]!));
    const features = await this.pipeline.embed(aligned.map((a) => a.crop));
    let next = 0;
    return decoded.map((image, i) => {
      const faces = detections[i]!.map((face) => this.classify(face, features[next++]!));
      return { source: image.source, width: image.width, height: image.height, faces };
    });
  }

  async recognizeFaces(image: RgbImage, faces: readonly DetectedFace[]): Promise<RecognizedFace[]> {
    this.assertOpen();
    const analyzed = await this.pipeline.analyze(imageFromRaw(image), faces);
    return analyzed.map((face) => this.classify(face, face.feature));
  }

  private classify(face: DetectedFace, feature: Float32Array): RecognizedFace {
    const [probabilities] = this.head.predict([feature]);
    const decision = this.decide(probabilities!, feature);
    const order = Array.from(probabilities!.keys()).sort((a, b) => probabilities![b]! - probabilities![a]!);
    const known = decision.label >= 0;
    return {
      boxPx: face.boxPx,
      keypointsPx: face.keypointsPx,
      detectionScore: face.score,
      label: known ? this.classNames[decision.label]! : UNKNOWN_LABEL,
      known,
      confidence: known ? decision.probability : 1 - decision.confidence,
      openSetScore: this.model.openSet.score === 'probability' ? decision.probability : decision.similarity,
      similarity: decision.similarity,
      candidates: order.slice(0, this.topK).map((k) => ({ label: this.classNames[k]!, probability: probabilities![k]! })),
    };
  }

  private async toImage(input: ImageInput): Promise<DecodedImage> {
    if (typeof input === 'string' || Buffer.isBuffer(input) || input instanceof Uint8Array) {
      const options: DecodeOptions = { maxPixels: this.maxPixels };
      return decodeImage(input, options);
    }
    const raw = imageFromRaw(input);
    return { ...raw, source: '<pixels>', format: 'raw' };
  }

  private assertOpen(): void {
    if (this.disposed) throw new FacekitError('ERR_DISPOSED', 'This recognizer was disposed; create a new one');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.pipeline.dispose();
  }
}
