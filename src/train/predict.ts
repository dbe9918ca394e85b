/**
 * Inference of a trained head in plain TypeScript, so recognition does not load TF.js.
 * `test/head.test.ts` checks it against TF.js predictions of the same weights.
 */

import { invalidArgument } from '../errors.js';
import { HEAD_ARCHITECTURES, type HeadArchitecture, type HeadParameters, type InputNormalization } from './head.js';
import { denseForward, l2Normalize, reluInPlace, softmaxRowsInPlace, transpose } from './linalg.js';

interface PreparedLayer {
  inputSize: number;
  outputSize: number;
  activation: 'relu' | 'softmax';
  /** Kernel transposed to `outputSize` × `inputSize`, the layout `denseForward` reads. */
  kernelTransposed: Float32Array;
  bias: Float32Array;
}

/** Rows per matrix product in `predict`, to bound memory on large batches. */
const PREDICT_CHUNK_ROWS = 256;

/** A trained head ready for inference. It is immutable because the constructor copies the parameters. */
export class HeadModel {
  readonly architecture: HeadArchitecture;
  readonly inputNormalization: InputNormalization;
  /** Expected feature length. */
  readonly inputSize: number;
  /** Number of classes K, the length of each probability vector. */
  readonly classCount: number;
  private readonly layers: PreparedLayer[];
  private readonly parameters: HeadParameters;

  /** Validates `head` (ERR_INVALID_ARGUMENT naming the field) and copies it. */
  constructor(head: HeadParameters) {
    validateHeadParameters(head);
    this.architecture = head.architecture;
    this.inputNormalization = head.inputNormalization;
    this.inputSize = head.layers[0].inputSize;
    this.classCount = head.layers[head.layers.length - 1].outputSize;
    this.parameters = {
      architecture: head.architecture,
      inputNormalization: head.inputNormalization,
      layers: head.layers.map((layer) => ({ ...layer, kernel: layer.kernel.slice(), bias: layer.bias.slice() })),
    };
    this.layers = this.parameters.layers.map((layer) => ({
      inputSize: layer.inputSize,
      outputSize: layer.outputSize,
      activation: layer.activation,
      kernelTransposed: transpose(layer.kernel, layer.inputSize, layer.outputSize),
      bias: layer.bias,
    }));
  }

  /**
   * Returns class probabilities (softmax, K values summing to 1) for each feature, in
   * input order. An empty input returns an empty array.
   */
  predict(features: readonly Float32Array[]): Float32Array[] {
    if (!Array.isArray(features)) throw invalidArgument('features', 'an array of Float32Array', features);
    features.forEach((feature, index) => {
      if (!(feature instanceof Float32Array) || feature.length !== this.inputSize) {
        throw invalidArgument(`features[${index}]`, `a Float32Array of length ${this.inputSize}`, feature);
      }
    });

    const results: Float32Array[] = [];
    for (let start = 0; start < features.length; start += PREDICT_CHUNK_ROWS) {
      const chunk = features.slice(start, start + PREDICT_CHUNK_ROWS);
      const rows = chunk.length;
      let activation: Float32Array = new Float32Array(rows * this.inputSize);
      chunk.forEach((feature, row) => {
        activation.set(this.inputNormalization === 'l2' ? l2Normalize(feature) : feature, row * this.inputSize);
      });
      for (const layer of this.layers) {
        activation = denseForward(activation, rows, layer.inputSize, layer.kernelTransposed, layer.bias);
        if (layer.activation === 'relu') reluInPlace(activation);
        else softmaxRowsInPlace(activation, rows, layer.outputSize);
      }
      for (let row = 0; row < rows; row++) {
        results.push(activation.slice(row * this.classCount, (row + 1) * this.classCount));
      }
    }
    return results;
  }

  /** Returns a copy of the parameters, for saving. */
  toParameters(): HeadParameters {
    return {
      architecture: this.parameters.architecture,
      inputNormalization: this.parameters.inputNormalization,
      layers: this.parameters.layers.map((layer) => ({ ...layer, kernel: layer.kernel.slice(), bias: layer.bias.slice() })),
    };
  }
}

/**
 * Raises ERR_INVALID_ARGUMENT, naming the field, unless `head` is a consistent chain of
 * dense layers: ReLU hidden layers, a softmax last layer, matching sizes, and finite
 * weights of the stated lengths.
 */
export function validateHeadParameters(head: HeadParameters, name = 'head'): void {
  if (head === null || typeof head !== 'object') throw invalidArgument(name, 'head parameters', head);
  if (!HEAD_ARCHITECTURES.includes(head.architecture)) {
    throw invalidArgument(`${name}.architecture`, `one of ${HEAD_ARCHITECTURES.join(', ')}`, head.architecture);
  }
  if (head.inputNormalization !== 'l2' && head.inputNormalization !== 'none') {
    throw invalidArgument(`${name}.inputNormalization`, "'l2' or 'none'", head.inputNormalization);
  }
  if (!Array.isArray(head.layers) || head.layers.length === 0) {
    throw invalidArgument(`${name}.layers`, 'a non-empty array of dense layers', head.layers);
  }

  head.layers.forEach((layer, index) => {
    const field = `${name}.layers[${index}]`;
    const isLast = index === head.layers.length - 1;
    if (!Number.isInteger(layer.inputSize) || layer.inputSize < 1) {
      throw invalidArgument(`${field}.inputSize`, 'an integer ≥ 1', layer.inputSize);
    }
    if (!Number.isInteger(layer.outputSize) || layer.outputSize < 1) {
      throw invalidArgument(`${field}.outputSize`, 'an integer ≥ 1', layer.outputSize);
    }
    if (index > 0 && layer.inputSize !== head.layers[index - 1].outputSize) {
      throw invalidArgument(`${field}.inputSize`, `${head.layers[index - 1].outputSize}, the previous layer's outputSize`, layer.inputSize);
    }
    const expectedActivation = isLast ? 'softmax' : 'relu';
    if (layer.activation !== expectedActivation) {
      throw invalidArgument(`${field}.activation`, `'${expectedActivation}'`, layer.activation);
    }
    checkFiniteArray(layer.kernel, layer.inputSize * layer.outputSize, `${field}.kernel`);
    checkFiniteArray(layer.bias, layer.outputSize, `${field}.bias`);
  });

  if (head.layers[head.layers.length - 1].outputSize < 2) {
    throw invalidArgument(`${name}.layers[${head.layers.length - 1}].outputSize`, 'at least 2 classes', head.layers[head.layers.length - 1].outputSize);
  }
}

function checkFiniteArray(values: Float32Array, length: number, field: string): void {
  if (!(values instanceof Float32Array) || values.length !== length) {
    throw invalidArgument(field, `a Float32Array of length ${length}`, values);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw invalidArgument(`${field}[${i}]`, 'a finite number', values[i]);
  }
}
