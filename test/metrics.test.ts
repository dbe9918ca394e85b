import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { HeadParameters } from '../src/train/head.js';
import { confusionMatrix, evaluateHead, openSetRates, perClassMetrics, top1Accuracy } from '../src/train/metrics.js';
import { HeadModel } from '../src/train/predict.js';

/** Absolute tolerance for computed ratios and losses. */
const TOLERANCE = 1e-9;

describe('top1Accuracy', () => {
  test('counts exact matches', () => {
    assert.equal(top1Accuracy([0, 1, 2, 2], [0, 2, 2, 2]), 0.75);
  });

  test('unknown counts as wrong', () => {
    assert.equal(top1Accuracy([0, 1], [0, -1]), 0.5);
  });

  test('empty input gives null', () => {
    assert.equal(top1Accuracy([], []), null);
  });

  test('length mismatch is rejected', () => {
    assert.throws(() => top1Accuracy([0, 1], [0]), { code: 'ERR_INVALID_ARGUMENT', message: /predictedLabels/ });
  });
});

describe('confusionMatrix', () => {
  test('rows are true classes', () => {
    const { matrix, unknownPerClass } = confusionMatrix([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, -1], 3);
    assert.deepEqual(matrix, [
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ]);
    assert.deepEqual(unknownPerClass, [0, 0, 1]);
  });

  test('out-of-range label is named', () => {
    assert.throws(() => confusionMatrix([0, 3], [0, 0], 3), { code: 'ERR_INVALID_ARGUMENT', message: /trueLabels\[1\]/ });
    assert.throws(() => confusionMatrix([0, 1], [0, -2], 3), { code: 'ERR_INVALID_ARGUMENT', message: /predictedLabels\[1\]/ });
    assert.throws(() => confusionMatrix([-1], [0], 3), { code: 'ERR_INVALID_ARGUMENT', message: /trueLabels\[0\]/ });
  });
});

describe('perClassMetrics', () => {
  test('precision and recall per class', () => {
    const metrics = perClassMetrics([
      [3, 1, 0],
      [0, 2, 0],
      [1, 1, 0],
    ]);
    assert.ok(Math.abs((metrics[0].precision ?? -1) - 3 / 4) < TOLERANCE);
    assert.ok(Math.abs((metrics[0].recall ?? -1) - 3 / 4) < TOLERANCE);
    assert.ok(Math.abs((metrics[1].precision ?? -1) - 2 / 4) < TOLERANCE);
    assert.equal(metrics[1].recall, 1);
    assert.equal(metrics[2].precision, null, 'class 2 was never predicted');
    assert.equal(metrics[2].recall, 0);
    assert.deepEqual(metrics.map((entry) => entry.support), [4, 2, 2]);
  });

  test('unknown answers lower recall', () => {
    const [first] = perClassMetrics([[2, 0], [0, 1]], [2, 0]);
    assert.equal(first.support, 4);
    assert.equal(first.recall, 0.5);
    assert.equal(first.precision, 1);
  });

  test('class without samples has null recall', () => {
    const metrics = perClassMetrics([[1, 0], [0, 0]]);
    assert.equal(metrics[1].recall, null);
    assert.equal(metrics[1].support, 0);
  });
});

describe('openSetRates', () => {
  test('false accepts and rejects', () => {
    const rates = openSetRates({ trueLabels: [0, 0, 1, 1], predictedLabels: [0, -1, 0, 1] }, [-1, -1, 2, -1, -1]);
    assert.equal(rates.falseAcceptRate, 1 / 5);
    assert.equal(rates.falseRejectRate, 1 / 4);
    assert.equal(rates.correctAcceptRate, 2 / 4);
    assert.equal(rates.genuineCount, 4);
    assert.equal(rates.impostorCount, 5);
  });

  test('no impostors gives null FAR', () => {
    const rates = openSetRates({ trueLabels: [0], predictedLabels: [0] }, []);
    assert.equal(rates.falseAcceptRate, null);
    assert.equal(rates.falseRejectRate, 0);
  });
});

describe('evaluateHead', () => {
  // A linear head on 2-d features whose logits are 4 × the L2-normalised feature.
  const head: HeadParameters = {
    architecture: 'linear',
    inputNormalization: 'l2',
    layers: [{ inputSize: 2, outputSize: 2, activation: 'softmax', kernel: Float32Array.from([4, 0, 0, 4]), bias: new Float32Array(2) }],
  };
  const model = new HeadModel(head);
  const validation = {
    features: [Float32Array.from([1, 0]), Float32Array.from([0, 2]), Float32Array.from([3, 0])],
    labels: [0, 1, 1],
  };

  test('accuracy, loss and confusion', () => {
    const metrics = evaluateHead(model, validation);
    assert.equal(metrics.sampleCount, 3);
    assert.ok(Math.abs(metrics.accuracy - 2 / 3) < TOLERANCE);
    assert.deepEqual(metrics.confusionMatrix, [
      [1, 0],
      [1, 1],
    ]);
    // Correct faces: −log σ(4) each; the wrong one: −log σ(−4), where σ(x) = 1 / (1 + e^−x).
    const expectedLoss = (2 * Math.log(1 + Math.exp(-4)) + Math.log(1 + Math.exp(4))) / 3;
    assert.ok(Math.abs(metrics.loss - expectedLoss) < 1e-6, `loss ${metrics.loss}, expected ${expectedLoss}`);
    assert.equal(metrics.openSet, null);
  });

  test('open-set rates use the decision rule', () => {
    const rejectSecondAxis = (probabilities: Float32Array, feature: Float32Array) => {
      const nearestLabel = probabilities[0] > probabilities[1] ? 0 : 1;
      const label = feature[1] > 0 ? -1 : nearestLabel;
      return { label, confidence: 0, nearestLabel, probability: 0, similarity: 0 };
    };
    const metrics = evaluateHead(model, validation, {
      decide: rejectSecondAxis,
      impostors: [Float32Array.from([1, 1]), Float32Array.from([1, -1])],
    });
    assert.deepEqual(metrics.openSet, {
      falseAcceptRate: 0.5,
      falseRejectRate: 1 / 3,
      correctAcceptRate: 1 / 3,
      genuineCount: 3,
      impostorCount: 2,
    });
  });
});
