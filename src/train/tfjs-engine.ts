/**
 * The TF.js head trainer: the head as a TF.js layers model on the WASM backend
 * (`@tensorflow/tfjs-backend-wasm` 4.22). This is the only module that imports TF.js,
 * and `createHeadTrainer` loads it only when the `tfjs-wasm` engine is requested.
 *
 * NOTE: the TF.js backend is process-wide state. Starting this engine makes `wasm` the
 * active backend for every TF.js user in the process.
 */

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import { FacekitError } from '../errors.js';
import {
  OPTIMIZER_CONSTANTS,
  type BatchResult,
  type HeadParameters,
  type HeadSpec,
  type HeadTrainer,
  type OptimizerConfig,
  type TrainingBatch,
} from './head.js';

let wasmStart: Promise<string> | undefined;

/**
 * Starts the TF.js WASM backend once per process and returns its description, for
 * example `tfjs-wasm (simd)`. Raises ERR_UNSUPPORTED when the backend cannot start.
 *
 * In Node the backend reads its `.wasm` binaries from disk, so `setWasmPaths` gets the
 * package's `dist` folder as a file path with a trailing separator. TF.js 4.22 reports
 * `WASM_HAS_MULTITHREAD_SUPPORT` false in Node 20, so the backend runs on one thread.
 */
export function startTfjsWasmBackend(): Promise<string> {
  wasmStart ??= startWasm().catch((error: unknown) => {
    wasmStart = undefined;
    throw error;
  });
  return wasmStart;
}

async function startWasm(): Promise<string> {
  const require = createRequire(import.meta.url);
  const distFolder = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
  // The backend loads the SIMD build when the runtime supports SIMD, the plain one otherwise.
  for (const file of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    const binary = path.join(distFolder, file);
    if (!fs.existsSync(binary)) {
      throw new FacekitError(
        'ERR_UNSUPPORTED',
        `The TF.js WASM backend cannot start: ${binary} is missing. Reinstall @tensorflow/tfjs-backend-wasm 4.22 or use the typescript training engine.`,
        { path: binary },
      );
    }
  }

  setWasmPaths(distFolder);
  const started = await tf.setBackend('wasm');
  if (!started) {
    throw new FacekitError(
      'ERR_UNSUPPORTED',
      `The TF.js WASM backend failed to initialise from ${distFolder} (TF.js logged the reason to stderr). Use the typescript training engine instead.`,
      { path: distFolder },
    );
  }
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return simd ? 'tfjs-wasm (simd)' : 'tfjs-wasm';
}

/** Builds the head as a TF.js sequential model whose last layer outputs logits. */
export function buildTfjsHeadModel(spec: HeadSpec): tf.Sequential {
  const model = tf.sequential();
  spec.layers.forEach((layer, index) => {
    model.add(
      tf.layers.dense({
        units: layer.outputSize,
        // The softmax of the last layer is applied outside the model: the loss is computed
        // from logits for numerical stability, and predictions apply tf.softmax.
        activation: layer.activation === 'relu' ? 'relu' : 'linear',
        inputShape: index === 0 ? [layer.inputSize] : undefined,
      }),
    );
  });
  return model;
}

/** Copies head parameters into a model built by `buildTfjsHeadModel`. */
export function setTfjsHeadWeights(model: tf.LayersModel, parameters: HeadParameters): void {
  parameters.layers.forEach((layer, index) => {
    const kernel = tf.tensor2d(layer.kernel, [layer.inputSize, layer.outputSize]);
    const bias = tf.tensor1d(layer.bias);
    model.layers[index].setWeights([kernel, bias]);
    kernel.dispose();
    bias.dispose();
  });
}

/**
 * Computes a dense layer, `x · kernel + bias`, with a gradient that transposes its operands explicitly.
 * The gradient TF.js derives for tf.matMul passes transpose flags instead, and the WASM
 * backend of TF.js 4.22 runs a transposed first operand about 35 times slower. Measured
 * once on the 2-core development machine: (1,024 × 32)ᵀ · (32 × 1,024) took 145 ms with
 * `transposeA` and 4.3 ms after tf.transpose. With this layer, one `classic` epoch
 * (`bench/train-head.ts`) fell from about 17 s to 3.3 s.
 */
const denseWithExplicitTransposes = tf.customGrad((...args: unknown[]) => {
  const [x, kernel, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, kernel]);
  return {
    value: tf.add(tf.matMul(x, kernel), bias),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedKernel] = saved as [tf.Tensor2D, tf.Tensor2D];
      const outputGradient = dy as tf.Tensor2D;
      return [
        tf.matMul(outputGradient, tf.transpose(savedKernel)),
        tf.matMul(tf.transpose(savedX), outputGradient),
        tf.sum(outputGradient, 0),
      ];
    },
  };
}) as (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D;

/** Creates a `tfjs-wasm` trainer, starting the backend first. */
export async function createTfjsHeadTrainer(
  spec: HeadSpec,
  initial: HeadParameters,
  optimizer: OptimizerConfig,
): Promise<HeadTrainer> {
  const backend = await startTfjsWasmBackend();
  return new TfjsHeadTrainer(spec, initial, optimizer, backend);
}

class TfjsHeadTrainer implements HeadTrainer {
  readonly engine = 'tfjs-wasm' as const;
  readonly backend: string;
  private readonly spec: HeadSpec;
  private readonly model: tf.Sequential;
  private readonly optimizer: tf.Optimizer;
  private disposed = false;

  constructor(spec: HeadSpec, initial: HeadParameters, optimizer: OptimizerConfig, backend: string) {
    this.spec = spec;
    this.backend = backend;
    this.model = buildTfjsHeadModel(spec);
    setTfjsHeadWeights(this.model, initial);
    this.optimizer =
      optimizer.name === 'rmsprop'
        ? tf.train.rmsprop(
            optimizer.learningRate,
            OPTIMIZER_CONSTANTS.rmspropDecay,
            0,
            OPTIMIZER_CONSTANTS.rmspropEpsilon,
          )
        : tf.train.adam(
            optimizer.learningRate,
            OPTIMIZER_CONSTANTS.adamBeta1,
            OPTIMIZER_CONSTANTS.adamBeta2,
            OPTIMIZER_CONSTANTS.adamEpsilon,
          );
  }

  async trainBatch(batch: TrainingBatch): Promise<BatchResult> {
    this.checkNotDisposed();
    const { rows } = batch;
    const layers = this.spec.layers;
    const classCount = layers[layers.length - 1].outputSize;
    const variables = this.model.trainableWeights.map((weight) => weight.read() as tf.Variable);

    const { lossTensor, correctTensor } = tf.tidy(() => {
      const inputs = tf.tensor2d(batch.inputs, [rows, layers[0].inputSize]);
      const masks = batch.dropoutMasks.map((mask, index) =>
        mask ? tf.tensor2d(mask, [rows, layers[index].inputSize]) : null,
      );
      const oneHot = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), classCount);
      const weights = tf.tensor1d(batch.sampleWeights);

      // Dropout is applied with the caller's masks instead of tf.layers.dropout: that
      // layer either draws unseeded noise (runs not reproducible) or, with a seed, reuses
      // the same mask at every step.
      // The correct count is computed inside the tape from the same logits, and tf.keep
      // stops the tape's scope from disposing it.
      let correct: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        let activation: tf.Tensor2D = inputs;
        layers.forEach((layer, index) => {
          const mask = masks[index];
          if (mask) activation = tf.mul(activation, mask);
          activation = denseWithExplicitTransposes(activation, variables[2 * index] as tf.Tensor2D, variables[2 * index + 1] as tf.Tensor1D);
          if (layer.activation === 'relu') activation = tf.relu(activation);
        });
        const logits = activation as tf.Tensor2D;
        const predicted = tf.argMax(logits, 1);
        correct = tf.keep(tf.sum(tf.cast(tf.equal(predicted, tf.tensor1d(batch.labels, 'int32')), 'int32')));
        const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1));
        return tf.div(tf.sum(tf.mul(crossEntropy, weights)), rows) as tf.Scalar;
      }, variables);
      this.optimizer.applyGradients(grads);

      return { lossTensor: value, correctTensor: correct as unknown as tf.Tensor };
    });

    const [loss, correct] = await Promise.all([lossTensor.data(), correctTensor.data()]);
    lossTensor.dispose();
    correctTensor.dispose();
    return { loss: loss[0], correct: correct[0] };
  }

  async predictLogits(inputs: Float32Array, rows: number): Promise<Float32Array> {
    this.checkNotDisposed();
    const output = tf.tidy(() => this.model.predict(tf.tensor2d(inputs, [rows, this.spec.inputSize])) as tf.Tensor);
    const values = (await output.data()) as Float32Array;
    output.dispose();
    return values;
  }

  async getParameters(): Promise<HeadParameters> {
    this.checkNotDisposed();
    const layers = await Promise.all(
      this.spec.layers.map(async (layer, index) => {
        const [kernel, bias] = this.model.layers[index].getWeights();
        return {
          inputSize: layer.inputSize,
          outputSize: layer.outputSize,
          activation: layer.activation,
          kernel: (await kernel.data()) as Float32Array,
          bias: (await bias.data()) as Float32Array,
        };
      }),
    );
    return { architecture: this.spec.architecture, inputNormalization: this.spec.inputNormalization, layers };
  }

  async setParameters(parameters: HeadParameters): Promise<void> {
    this.checkNotDisposed();
    setTfjsHeadWeights(this.model, parameters);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
    this.optimizer.dispose();
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new FacekitError('ERR_DISPOSED', 'This TF.js head trainer was disposed. Create a new one.');
  }
}
