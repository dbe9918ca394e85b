/**
 * Classifier heads that sit on the frozen backbone's 1,024-d feature, and the training
 * engines that fit them.
 *
 * Architectures:
 * - `linear`: L2-normalised feature → Dense(K, softmax).
 * - `mlp`: L2-normalised feature → Dense(256, relu) → dropout → Dense(K, softmax).
 * - `classic`: the head of the Keras transfer-learning recipe facekit starts from, on the
 *   raw feature: Dense(1024, relu) → Dense(1024, relu) → Dense(512, relu) → Dense(K, softmax),
 *   with dropout after each hidden layer when requested.
 *
 * L2 normalisation is a fixed preprocessing step (`inputNormalization: 'l2'`), not a
 * trained layer, so the trainer applies it once to the data and `HeadModel` applies it
 * before the first dense layer.
 *
 * Engines (speed in `FASTEST_ENGINE`):
 * - `typescript`: the hand-written trainer in `typescript-engine.ts`. It needs no TF.js.
 * - `tfjs-wasm`: TF.js layers on the `@tensorflow/tfjs-backend-wasm` backend, loaded only
 *   when requested, so it works only where @tensorflow/tfjs and its WASM backend are
 *   installed.
 */

import { FacekitError } from '../errors.js';
import { createRandom, type RandomSource } from './random.js';

export const HEAD_ARCHITECTURES = ['linear', 'mlp', 'classic'] as const;
export type HeadArchitecture = (typeof HEAD_ARCHITECTURES)[number];

/** Activation after a dense layer. The last layer of every head uses `softmax`. */
export type DenseActivation = 'relu' | 'softmax';

/** Preprocessing of the backbone feature before the first dense layer. */
export type InputNormalization = 'l2' | 'none';

/** Units of the `mlp` head's hidden layer. */
export const MLP_HIDDEN_UNITS = 256;

/** Units of the `classic` head's hidden layers, as in the Keras recipe (1024, 1024, 512). */
export const CLASSIC_HIDDEN_UNITS: readonly number[] = [1024, 1024, 512];

/** Shape of one dense layer and the dropout rate applied to its input while training. */
export interface DenseLayerSpec {
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
  /** Fraction of this layer's inputs zeroed at each training step, in [0, 1). */
  inputDropout: number;
}

/** Full description of a head, enough to build or train it. */
export interface HeadSpec {
  architecture: HeadArchitecture;
  inputNormalization: InputNormalization;
  /** Length of the backbone feature. */
  inputSize: number;
  /** Number of classes K. */
  classCount: number;
  /** Dropout rate used between layers, in [0, 1). */
  dropout: number;
  layers: DenseLayerSpec[];
}

/** Trained parameters of one dense layer. */
export interface DenseLayerParameters {
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
  /** Kernel, `inputSize` × `outputSize`, row-major (the Keras and TF.js layout). */
  kernel: Float32Array;
  /** Bias, `outputSize` values. */
  bias: Float32Array;
}

/** A trained head as plain data: what inference and the model store need. */
export interface HeadParameters {
  architecture: HeadArchitecture;
  inputNormalization: InputNormalization;
  layers: DenseLayerParameters[];
}

/**
 * Describes the layers of a head. Dropout applies to the input of every layer that
 * follows a hidden layer. The `linear` head has no hidden layer, so there it applies to
 * the normalised feature.
 */
export function describeHead(
  architecture: HeadArchitecture,
  inputSize: number,
  classCount: number,
  dropout: number,
): HeadSpec {
  let hiddenUnits: readonly number[];
  let inputNormalization: InputNormalization;
  switch (architecture) {
    case 'linear':
      hiddenUnits = [];
      inputNormalization = 'l2';
      break;
    case 'mlp':
      hiddenUnits = [MLP_HIDDEN_UNITS];
      inputNormalization = 'l2';
      break;
    case 'classic':
      hiddenUnits = CLASSIC_HIDDEN_UNITS;
      inputNormalization = 'none';
      break;
  }

  const sizes = [inputSize, ...hiddenUnits, classCount];
  const layers: DenseLayerSpec[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const isLast = i + 2 === sizes.length;
    layers.push({
      inputSize: sizes[i],
      outputSize: sizes[i + 1],
      activation: isLast ? 'softmax' : 'relu',
      inputDropout: i > 0 || hiddenUnits.length === 0 ? dropout : 0,
    });
  }
  return { architecture, inputNormalization, inputSize, classCount, dropout, layers };
}

/**
 * Creates initial parameters: Glorot-uniform kernels and zero biases, the Keras `Dense`
 * defaults, drawn from a generator seeded with `seed`.
 */
export function initializeHead(spec: HeadSpec, seed: number): HeadParameters {
  const random = createRandom(seed);
  return {
    architecture: spec.architecture,
    inputNormalization: spec.inputNormalization,
    layers: spec.layers.map((layer) => ({
      inputSize: layer.inputSize,
      outputSize: layer.outputSize,
      activation: layer.activation,
      kernel: glorotUniform(layer.inputSize, layer.outputSize, random),
      bias: new Float32Array(layer.outputSize),
    })),
  };
}

function glorotUniform(fanIn: number, fanOut: number, random: RandomSource): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < values.length; i++) values[i] = (2 * random.next() - 1) * limit;
  return values;
}

/** Returns a deep copy of head parameters. */
export function cloneHead(head: HeadParameters): HeadParameters {
  return {
    architecture: head.architecture,
    inputNormalization: head.inputNormalization,
    layers: head.layers.map((layer) => ({ ...layer, kernel: layer.kernel.slice(), bias: layer.bias.slice() })),
  };
}

// ---------------------------------------------------------------------------------------
// Training engines

export const TRAINING_ENGINES = ['typescript', 'tfjs-wasm'] as const;
export type TrainingEngine = (typeof TRAINING_ENGINES)[number];

/**
 * The faster engine per architecture, which `engine: 'auto'` picks. Measured with
 * `bench/train-head.ts`: one epoch of 1,200 samples × 1,024 features, 10 classes, batch
 * 32, RMSprop, dropout 0.5 in `mlp` and `classic`. The machine was the 2-core development
 * machine with Node 20, shared with other jobs, so figures varied by up to 50% between runs:
 *
 * | head    | typescript    | tfjs-wasm (simd) |
 * |---------|---------------|------------------|
 * | linear  | 22–31 ms      | 55–82 ms         |
 * | mlp     | 450–490 ms    | 330–380 ms       |
 * | classic | 6.2 s         | 3.3 s            |
 *
 * After six optimiser steps the two engines' weights differ by at most 1e-5
 * (`test/head.test.ts`). TypeScript
 * wins on the small `linear` head, where TF.js spends its time on per-operation
 * overhead, while the WASM matrix product (SIMD) wins once the hidden layers dominate.
 */
export const FASTEST_ENGINE: Readonly<Record<HeadArchitecture, TrainingEngine>> = {
  linear: 'typescript',
  mlp: 'tfjs-wasm',
  classic: 'tfjs-wasm',
};

export const OPTIMIZERS = ['rmsprop', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/**
 * Optimiser constants other than the learning rate, the Keras defaults
 * (`tf.keras.optimizers.RMSprop`: rho 0.9, momentum 0, epsilon 1e-7;
 * `tf.keras.optimizers.Adam`: beta1 0.9, beta2 0.999, epsilon 1e-7).
 * Both engines use the update rules of TF.js 4.22: RMSprop divides by
 * `sqrt(meanSquare + epsilon)`, Adam by `sqrt(vHat) + epsilon` with bias correction.
 */
export const OPTIMIZER_CONSTANTS = {
  rmspropDecay: 0.9,
  rmspropEpsilon: 1e-7,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-7,
} as const;

export interface OptimizerConfig {
  name: OptimizerName;
  /** Step size, unitless. */
  learningRate: number;
}

/**
 * One mini-batch. Inputs are already normalised. Dropout masks are generated by the
 * caller from its seeded generator, so that both engines see the same randomness.
 */
export interface TrainingBatch {
  /** `rows` × `inputSize` features, row-major. */
  inputs: Float32Array;
  /** Class index per row. */
  labels: Int32Array;
  /** Loss weight per row (class weight of its label). */
  sampleWeights: Float32Array;
  rows: number;
  /**
   * Per layer, a `rows` × `inputSize` multiplier for that layer's input (0 for a dropped
   * unit, `1 / (1 - rate)` for a kept one), or null when the layer has no dropout.
   */
  dropoutMasks: (Float32Array | null)[];
}

/** Result of one optimiser step. */
export interface BatchResult {
  /** Mean over rows of sampleWeight × cross-entropy, before the step. */
  loss: number;
  /** Rows whose largest logit was their label, before the step. */
  correct: number;
}

/** A head being trained by one engine. */
export interface HeadTrainer {
  readonly engine: TrainingEngine;
  /** The backend that runs the arithmetic, for example `typescript` or `tfjs-wasm (simd)`. */
  readonly backend: string;
  /** Runs one optimiser step on `batch`. */
  trainBatch(batch: TrainingBatch): Promise<BatchResult>;
  /** Returns the logits (`rows` × K, row-major) for inference-mode inputs (no dropout). */
  predictLogits(inputs: Float32Array, rows: number): Promise<Float32Array>;
  /** Returns a copy of the current parameters. */
  getParameters(): Promise<HeadParameters>;
  /** Replaces the current parameters. The optimiser state is kept. */
  setParameters(parameters: HeadParameters): Promise<void>;
  /** Frees engine resources. Safe to call twice. */
  dispose(): void;
}

/**
 * Creates a trainer for `spec` starting from `initial` on the requested engine. A TF.js
 * engine that cannot start raises ERR_UNSUPPORTED; there is no fallback to another engine.
 */
export async function createHeadTrainer(
  spec: HeadSpec,
  initial: HeadParameters,
  optimizer: OptimizerConfig,
  engine: TrainingEngine,
): Promise<HeadTrainer> {
  switch (engine) {
    case 'typescript': {
      const { TypeScriptHeadTrainer } = await import('./typescript-engine.js');
      return new TypeScriptHeadTrainer(spec, initial, optimizer);
    }
    case 'tfjs-wasm': {
      let engineModule: typeof import('./tfjs-engine.js');
      try {
        engineModule = await import('./tfjs-engine.js');
      } catch (error) {
        throw new FacekitError(
          'ERR_UNSUPPORTED',
          `The tfjs-wasm training engine cannot load TF.js (${(error as Error).message}). ` +
            "Install @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm 4.22, or pass engine: 'typescript'.",
          { cause: error },
        );
      }
      return engineModule.createTfjsHeadTrainer(spec, initial, optimizer);
    }
    default:
      throw new FacekitError('ERR_UNSUPPORTED', `Unknown training engine ${String(engine)}`);
  }
}
