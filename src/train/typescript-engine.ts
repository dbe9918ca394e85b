/**
 * A head trainer in plain TypeScript: dense layers, ReLU, softmax cross-entropy,
 * RMSprop and Adam on Float32Arrays, with the update rules of TF.js 4.22 so that both
 * engines agree step by step (checked in `test/head.test.ts`).
 */

import { invalidArgument } from '../errors.js';
import { argMax, denseForward, matmulTransposeB, reluInPlace, transpose } from './linalg.js';
import {
  OPTIMIZER_CONSTANTS,
  cloneHead,
  type BatchResult,
  type DenseLayerParameters,
  type HeadParameters,
  type HeadSpec,
  type HeadTrainer,
  type OptimizerConfig,
  type TrainingBatch,
} from './head.js';

/** Optimiser state of one parameter array (kernel or bias). */
interface SlotState {
  first: Float32Array;
  second: Float32Array;
}

export class TypeScriptHeadTrainer implements HeadTrainer {
  readonly engine = 'typescript' as const;
  readonly backend = 'typescript';
  private parameters: HeadParameters;
  private readonly optimizer: OptimizerConfig;
  private readonly slots: SlotState[];
  private step = 0;

  constructor(spec: HeadSpec, initial: HeadParameters, optimizer: OptimizerConfig) {
    if (initial.layers.length !== spec.layers.length) {
      throw invalidArgument('initial.layers', `${spec.layers.length} layers, as the head spec lists`, initial.layers);
    }
    this.parameters = cloneHead(initial);
    this.optimizer = optimizer;
    this.slots = [];
    for (const layer of this.parameters.layers) {
      for (const values of [layer.kernel, layer.bias]) {
        this.slots.push({ first: new Float32Array(values.length), second: new Float32Array(values.length) });
      }
    }
  }

  async trainBatch(batch: TrainingBatch): Promise<BatchResult> {
    const { rows } = batch;
    const layers = this.parameters.layers;

    // Forward pass, keeping each layer's (masked) input for the backward pass.
    const layerInputs: Float32Array[] = [];
    let activation = batch.inputs;
    for (let l = 0; l < layers.length; l++) {
      const mask = batch.dropoutMasks[l];
      const input = mask ? multiply(activation, mask) : activation;
      layerInputs.push(input);
      activation = forwardLayer(layers[l], input, rows);
    }

    // Loss and the gradient of the mean weighted cross-entropy with respect to the logits:
    // weight / rows × (softmax − one-hot).
    const logits = activation;
    const classCount = layers[layers.length - 1].outputSize;
    let lossSum = 0;
    let correct = 0;
    const gradient = new Float32Array(logits.length);
    for (let r = 0; r < rows; r++) {
      const offset = r * classCount;
      const label = batch.labels[r];
      if (argMax(logits, offset, classCount) === label) correct++;
      let max = -Infinity;
      for (let j = 0; j < classCount; j++) max = Math.max(max, logits[offset + j]);
      let sum = 0;
      for (let j = 0; j < classCount; j++) sum += Math.exp(logits[offset + j] - max);
      const logSum = Math.log(sum) + max;
      const weight = batch.sampleWeights[r];
      lossSum += weight * (logSum - logits[offset + label]);
      const scale = weight / rows;
      for (let j = 0; j < classCount; j++) {
        const probability = Math.exp(logits[offset + j] - logSum);
        gradient[offset + j] = scale * (probability - (j === label ? 1 : 0));
      }
    }

    // Backward pass: layer by layer from the logits.
    const gradients: Float32Array[] = new Array(layers.length * 2);
    let outputGradient: Float32Array = gradient;
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l];
      const input = layerInputs[l];
      // dW = inputᵀ · dY and dB = column sums of dY.
      const kernelGradient = matmulTransposeB(
        transpose(input, rows, layer.inputSize),
        transpose(outputGradient, rows, layer.outputSize),
        layer.inputSize,
        layer.outputSize,
        rows,
      );
      const biasGradient = new Float32Array(layer.outputSize);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < layer.outputSize; j++) biasGradient[j] += outputGradient[r * layer.outputSize + j];
      }
      gradients[2 * l] = kernelGradient;
      gradients[2 * l + 1] = biasGradient;
      if (l === 0) break;

      // dX = dY · Wᵀ, and the kernel (inputSize × outputSize) is already Wᵀ's transpose.
      const inputGradient = matmulTransposeB(outputGradient, layer.kernel, rows, layer.inputSize, layer.outputSize);
      const mask = batch.dropoutMasks[l];
      // The input of layer l is relu(z) of layer l - 1, times the mask. Where the stored
      // input is zero, either ReLU or dropout cut the path, so the gradient is zero.
      for (let i = 0; i < inputGradient.length; i++) {
        if (input[i] === 0) inputGradient[i] = 0;
        else if (mask) inputGradient[i] *= mask[i];
      }
      outputGradient = inputGradient;
    }

    this.applyGradients(gradients);
    return { loss: lossSum / rows, correct };
  }

  async predictLogits(inputs: Float32Array, rows: number): Promise<Float32Array> {
    let activation = inputs;
    for (const layer of this.parameters.layers) activation = forwardLayer(layer, activation, rows);
    return activation;
  }

  async getParameters(): Promise<HeadParameters> {
    return cloneHead(this.parameters);
  }

  async setParameters(parameters: HeadParameters): Promise<void> {
    this.parameters = cloneHead(parameters);
  }

  dispose(): void {}

  private applyGradients(gradients: Float32Array[]): void {
    this.step++;
    const { learningRate } = this.optimizer;
    const values = this.parameters.layers.flatMap((layer) => [layer.kernel, layer.bias]);
    if (this.optimizer.name === 'rmsprop') {
      const decay = OPTIMIZER_CONSTANTS.rmspropDecay;
      const epsilon = OPTIMIZER_CONSTANTS.rmspropEpsilon;
      for (let p = 0; p < values.length; p++) {
        const value = values[p];
        const gradient = gradients[p];
        const meanSquare = this.slots[p].second;
        for (let i = 0; i < value.length; i++) {
          const g = gradient[i];
          const ms = decay * meanSquare[i] + (1 - decay) * g * g;
          meanSquare[i] = ms;
          value[i] -= (learningRate * g) / Math.sqrt(ms + epsilon);
        }
      }
      return;
    }

    const beta1 = OPTIMIZER_CONSTANTS.adamBeta1;
    const beta2 = OPTIMIZER_CONSTANTS.adamBeta2;
    const epsilon = OPTIMIZER_CONSTANTS.adamEpsilon;
    const correction1 = 1 - Math.pow(beta1, this.step);
    const correction2 = 1 - Math.pow(beta2, this.step);
    for (let p = 0; p < values.length; p++) {
      const value = values[p];
      const gradient = gradients[p];
      const { first, second } = this.slots[p];
      for (let i = 0; i < value.length; i++) {
        const g = gradient[i];
        const m = beta1 * first[i] + (1 - beta1) * g;
        const v = beta2 * second[i] + (1 - beta2) * g * g;
        first[i] = m;
        second[i] = v;
        value[i] -= (learningRate * (m / correction1)) / (Math.sqrt(v / correction2) + epsilon);
      }
    }
  }
}

/** Returns the layer's output for `rows` inputs: ReLU applied, softmax not (logits). */
function forwardLayer(layer: DenseLayerParameters, input: Float32Array, rows: number): Float32Array {
  const kernelTransposed = transpose(layer.kernel, layer.inputSize, layer.outputSize);
  const output = denseForward(input, rows, layer.inputSize, kernelTransposed, layer.bias);
  if (layer.activation === 'relu') reluInPlace(output);
  return output;
}

function multiply(values: Float32Array, mask: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * mask[i];
  return out;
}
