import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import {
  CLASSIC_HIDDEN_UNITS,
  MLP_HIDDEN_UNITS,
  createHeadTrainer,
  describeHead,
  initializeHead,
  type HeadArchitecture,
  type HeadParameters,
  type HeadSpec,
  type TrainingBatch,
} from '../src/train/head.js';
import { matmulTransposeB, transpose } from '../src/train/linalg.js';
import { HeadModel } from '../src/train/predict.js';
import { createRandom, nextGaussian } from '../src/train/random.js';
import { buildTfjsHeadModel, setTfjsHeadWeights, startTfjsWasmBackend } from '../src/train/tfjs-engine.js';
import { makeDataSet } from './support/synthetic-features.js';

/** Largest absolute difference allowed between TS inference and TF.js predictions (probability units). */
const PREDICTION_TOLERANCE = 1e-5;
/** Largest absolute difference allowed between the two engines' weights after a few optimiser steps. */
const PARAMETER_TOLERANCE = 1e-5;
/** Largest relative difference allowed between the two engines' batch losses. */
const LOSS_RELATIVE_TOLERANCE = 1e-5;

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): { value: number; index: number } {
  assert.equal(a.length, b.length, 'arrays differ in length');
  let value = 0;
  let index = -1;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i] - b[i]);
    if (difference > value) {
      value = difference;
      index = i;
    }
  }
  return { value, index };
}

function makeBatches(spec: HeadSpec, count: number, rows: number, seed: number): TrainingBatch[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => {
    const inputs = Float32Array.from({ length: rows * spec.inputSize }, () => nextGaussian(random));
    const labels = Int32Array.from({ length: rows }, () => Math.floor(random.next() * spec.classCount));
    const sampleWeights = Float32Array.from({ length: rows }, () => 0.5 + random.next());
    const dropoutMasks = spec.layers.map((layer) => {
      if (layer.inputDropout === 0) return null;
      return Float32Array.from({ length: rows * layer.inputSize }, () =>
        random.next() < layer.inputDropout ? 0 : 1 / (1 - layer.inputDropout),
      );
    });
    return { inputs, labels, sampleWeights, rows, dropoutMasks };
  });
}

after(() => {
  tf.disposeVariables();
});

describe('describeHead', () => {
  test('linear head is one softmax layer', () => {
    const spec = describeHead('linear', 1024, 7, 0.2);
    assert.equal(spec.inputNormalization, 'l2');
    assert.deepEqual(
      spec.layers.map((layer) => [layer.inputSize, layer.outputSize, layer.activation, layer.inputDropout]),
      [[1024, 7, 'softmax', 0.2]],
    );
  });

  test('mlp head has one hidden layer', () => {
    const spec = describeHead('mlp', 1024, 7, 0.5);
    assert.equal(spec.inputNormalization, 'l2');
    assert.deepEqual(
      spec.layers.map((layer) => [layer.inputSize, layer.outputSize, layer.activation, layer.inputDropout]),
      [
        [1024, MLP_HIDDEN_UNITS, 'relu', 0],
        [MLP_HIDDEN_UNITS, 7, 'softmax', 0.5],
      ],
    );
  });

  test('classic head follows the Keras recipe', () => {
    const spec = describeHead('classic', 1024, 4, 0);
    assert.equal(spec.inputNormalization, 'none');
    assert.deepEqual(CLASSIC_HIDDEN_UNITS, [1024, 1024, 512]);
    assert.deepEqual(
      spec.layers.map((layer) => [layer.inputSize, layer.outputSize, layer.activation]),
      [
        [1024, 1024, 'relu'],
        [1024, 1024, 'relu'],
        [1024, 512, 'relu'],
        [512, 4, 'softmax'],
      ],
    );
  });

  test('initializeHead is seeded', () => {
    const spec = describeHead('mlp', 16, 3, 0.5);
    const first = initializeHead(spec, 3);
    assert.deepEqual(first, initializeHead(spec, 3));
    assert.notDeepEqual(first.layers[0].kernel, initializeHead(spec, 4).layers[0].kernel);
    const limit = Math.sqrt(6 / (16 + MLP_HIDDEN_UNITS));
    assert.ok(first.layers[0].kernel.every((value) => Math.abs(value) <= limit), 'Glorot-uniform bound exceeded');
    assert.ok(first.layers[0].bias.every((value) => value === 0), 'biases start at zero');
  });
});

describe('matmulTransposeB', () => {
  test('matches a naive product on odd sizes', () => {
    const random = createRandom(5);
    for (const [m, n, k] of [[1, 1, 1], [5, 7, 3], [8, 4, 9], [13, 10, 17]]) {
      const a = Float32Array.from({ length: m * k }, () => nextGaussian(random));
      const b = Float32Array.from({ length: n * k }, () => nextGaussian(random));
      const expected = new Float32Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let p = 0; p < k; p++) sum += a[i * k + p] * b[j * k + p];
          expected[i * n + j] = sum;
        }
      }
      const difference = maxAbsDifference(matmulTransposeB(a, b, m, n, k), expected);
      assert.ok(difference.value < 1e-5, `${m}×${k} · (${n}×${k})ᵀ differs by ${difference.value} at ${difference.index}`);
    }
  });

  test('transpose round trip', () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i);
    assert.deepEqual(transpose(transpose(values, 3, 4), 4, 3), values);
    assert.deepEqual(Array.from(transpose(values, 3, 4)), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });
});

describe('HeadModel', () => {
  for (const architecture of ['linear', 'mlp', 'classic'] as HeadArchitecture[]) {
    test(`${architecture} predictions match TF.js`, async () => {
      await startTfjsWasmBackend();
      const spec = describeHead(architecture, 64, 5, 0);
      const parameters = initializeHead(spec, 11);
      // Non-zero biases so that the bias path is compared too.
      const random = createRandom(12);
      for (const layer of parameters.layers) for (let i = 0; i < layer.bias.length; i++) layer.bias[i] = 0.1 * nextGaussian(random);

      const { validation } = makeDataSet(5, 64, 1, 20, 13);
      const features = validation.features;
      const ours = new HeadModel(parameters).predict(features);

      const model = buildTfjsHeadModel(spec);
      setTfjsHeadWeights(model, parameters);
      const normalized = spec.inputNormalization === 'l2' ? features.map((f) => tf.tidy(() => tf.div(tf.tensor1d(f), tf.norm(tf.tensor1d(f))))) : features.map((f) => tf.tensor1d(f));
      const input = tf.stack(normalized);
      const output = tf.softmax(model.predict(input) as tf.Tensor2D);
      const reference = (await output.array()) as number[][];
      tf.dispose([input, output, ...normalized]);
      model.dispose();

      assert.equal(ours.length, features.length);
      ours.forEach((row, index) => {
        const difference = maxAbsDifference(row, reference[index]);
        assert.ok(
          difference.value <= PREDICTION_TOLERANCE,
          `sample ${index}, class ${difference.index}: |TS − TF.js| = ${difference.value} > ${PREDICTION_TOLERANCE}`,
        );
      });
    });
  }

  test('probabilities sum to one', () => {
    const spec = describeHead('mlp', 8, 3, 0);
    const model = new HeadModel(initializeHead(spec, 1));
    const [row] = model.predict([Float32Array.from({ length: 8 }, (_, i) => i - 3)]);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  });

  test('empty batch returns empty array', () => {
    const model = new HeadModel(initializeHead(describeHead('linear', 8, 3, 0), 1));
    assert.deepEqual(model.predict([]), []);
  });

  test('rejects wrong feature length', () => {
    const model = new HeadModel(initializeHead(describeHead('linear', 8, 3, 0), 1));
    assert.throws(() => model.predict([new Float32Array(7)]), { code: 'ERR_INVALID_ARGUMENT', message: /features\[0\].*length 8/ });
  });

  test('rejects inconsistent parameters', () => {
    const head = initializeHead(describeHead('mlp', 8, 3, 0), 1);
    const broken: HeadParameters = { ...head, layers: [head.layers[0], { ...head.layers[1], inputSize: 5 }] };
    assert.throws(() => new HeadModel(broken), { code: 'ERR_INVALID_ARGUMENT', message: /head\.layers\[1\]\.inputSize/ });
    const wrongActivation: HeadParameters = { ...head, layers: [head.layers[0], { ...head.layers[1], activation: 'relu' }] };
    assert.throws(() => new HeadModel(wrongActivation), { code: 'ERR_INVALID_ARGUMENT', message: /activation/ });
    const nonFinite = initializeHead(describeHead('linear', 8, 3, 0), 1);
    nonFinite.layers[0].kernel[4] = Number.NaN;
    assert.throws(() => new HeadModel(nonFinite), { code: 'ERR_INVALID_ARGUMENT', message: /kernel\[4\]/ });
  });
});

describe('training engines', () => {
  const cases: [HeadArchitecture, 'rmsprop' | 'adam', number][] = [
    ['linear', 'rmsprop', 0],
    ['linear', 'adam', 0.3],
    ['mlp', 'rmsprop', 0.5],
    ['mlp', 'adam', 0.5],
  ];
  for (const [architecture, optimizer, dropout] of cases) {
    test(`typescript matches tfjs-wasm: ${architecture}, ${optimizer}, dropout ${dropout}`, async () => {
      const spec = describeHead(architecture, 48, 4, dropout);
      const initial = initializeHead(spec, 21);
      const config = { name: optimizer, learningRate: 0.01 } as const;
      const typescript = await createHeadTrainer(spec, initial, config, 'typescript');
      const tfjs = await createHeadTrainer(spec, initial, config, 'tfjs-wasm');
      assert.equal(tfjs.backend.startsWith('tfjs-wasm'), true, `backend was ${tfjs.backend}`);
      try {
        for (const [step, batch] of makeBatches(spec, 6, 16, 22).entries()) {
          const ours = await typescript.trainBatch(batch);
          const theirs = await tfjs.trainBatch(batch);
          const relative = Math.abs(ours.loss - theirs.loss) / Math.abs(theirs.loss);
          assert.ok(relative <= LOSS_RELATIVE_TOLERANCE, `step ${step}: loss ${ours.loss} vs TF.js ${theirs.loss}`);
          assert.equal(ours.correct, theirs.correct, `step ${step}: correct count`);
        }
        const ourParameters = await typescript.getParameters();
        const theirParameters = await tfjs.getParameters();
        ourParameters.layers.forEach((layer, index) => {
          const kernel = maxAbsDifference(layer.kernel, theirParameters.layers[index].kernel);
          assert.ok(kernel.value <= PARAMETER_TOLERANCE, `layer ${index} kernel differs by ${kernel.value} at ${kernel.index}`);
          const bias = maxAbsDifference(layer.bias, theirParameters.layers[index].bias);
          assert.ok(bias.value <= PARAMETER_TOLERANCE, `layer ${index} bias differs by ${bias.value} at ${bias.index}`);
        });
        const probe = makeBatches(spec, 1, 8, 23)[0];
        const logits = maxAbsDifference(await typescript.predictLogits(probe.inputs, 8), await tfjs.predictLogits(probe.inputs, 8));
        assert.ok(logits.value <= 1e-4, `logits differ by ${logits.value}`);
      } finally {
        typescript.dispose();
        tfjs.dispose();
      }
    });
  }

  test('tfjs-wasm trainer keeps tensor count flat', async () => {
    const spec = describeHead('mlp', 32, 3, 0.5);
    const trainer = await createHeadTrainer(spec, initializeHead(spec, 1), { name: 'rmsprop', learningRate: 0.001 }, 'tfjs-wasm');
    const batches = makeBatches(spec, 12, 8, 3);
    // The optimiser creates its slot variables on the first step.
    await trainer.trainBatch(batches[0]);
    await trainer.predictLogits(batches[0].inputs, 8);
    await trainer.getParameters();
    const tensors = tf.memory().numTensors;
    for (const batch of batches.slice(1)) {
      await trainer.trainBatch(batch);
      await trainer.predictLogits(batch.inputs, 8);
      await trainer.getParameters();
    }
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked per batch');
    trainer.dispose();
    trainer.dispose();
    assert.ok(tf.memory().numTensors < tensors, 'dispose frees the model and optimiser');
    await assert.rejects(trainer.trainBatch(batches[0]), { code: 'ERR_DISPOSED' });
  });

  test('setParameters restores earlier weights', async () => {
    const spec = describeHead('mlp', 16, 3, 0);
    const trainer = await createHeadTrainer(spec, initializeHead(spec, 1), { name: 'adam', learningRate: 0.01 }, 'typescript');
    const before = await trainer.getParameters();
    await trainer.trainBatch(makeBatches(spec, 1, 8, 2)[0]);
    assert.notDeepEqual(await trainer.getParameters(), before);
    await trainer.setParameters(before);
    assert.deepEqual(await trainer.getParameters(), before);
  });
});
