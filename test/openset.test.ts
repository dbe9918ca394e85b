import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { fitHead } from '../src/train/fit.js';
import { cosineSimilarity, l2Normalize } from '../src/train/linalg.js';
import {
  MAX_STORED_SCORES,
  calibrateOpenSet,
  computeCentroids,
  createOpenSetDecider,
  thresholdForFalseAccept,
  type OpenSetRule,
} from '../src/train/openset.js';
import { HeadModel } from '../src/train/predict.js';
import { makeClusters, makeDataSet, sampleClusters } from './support/synthetic-features.js';

const CLASS_COUNT = 5;
const DIMENSION = 64;
const TARGET_FALSE_ACCEPT = 0.05;
/**
 * Accepted range for the false-accept rate on fresh impostors at a 5% target: three
 * standard deviations (0.011) of the binomial noise of estimating the quantile from 600
 * calibration impostors plus that of measuring it on 1,200 test impostors.
 */
const FRESH_FALSE_ACCEPT_RANGE = [0.017, 0.083] as const;

const data = makeDataSet(CLASS_COUNT, DIMENSION, 40, 20, 301);
const impostorClusters = makeClusters(3, DIMENSION, 302);
const calibrationImpostors = sampleClusters(impostorClusters, 200).features;
const testImpostors = sampleClusters(impostorClusters, 400).features;
const testGenuine = sampleClusters(data.clusters, 40);

let head: HeadModel;
let centroids: Float32Array[];

before(async () => {
  const result = await fitHead({ train: data.train, validation: data.validation }, { architecture: 'linear', maxEpochs: 30 });
  head = new HeadModel(result.head);
  centroids = computeCentroids(data.train.features, data.train.labels, CLASS_COUNT);
});

/** Share of faces that the rule accepts (label ≠ −1). */
function acceptRate(rule: OpenSetRule, features: Float32Array[]): number {
  const decide = createOpenSetDecider(rule, centroids);
  const probabilities = head.predict(features);
  return probabilities.filter((row, index) => decide(row, features[index]).label !== -1).length / features.length;
}

describe('computeCentroids', () => {
  test('centroids are unit mean directions', () => {
    centroids.forEach((centroid, label) => {
      const norm = Math.hypot(...centroid);
      assert.ok(Math.abs(norm - 1) < 1e-5, `centroid ${label} has norm ${norm}`);
      const similarity = cosineSimilarity(centroid, l2Normalize(data.clusters.centres[label]));
      assert.ok(similarity > 0.95, `centroid ${label} is ${similarity} from its cluster centre`);
    });
  });

  test('class without features raises ERR_DATASET', () => {
    assert.throws(() => computeCentroids(data.train.features.slice(0, 40), data.train.labels.slice(0, 40), 2), {
      code: 'ERR_DATASET',
      message: /Class 1/,
    });
  });
});

describe('thresholdForFalseAccept', () => {
  test('lets through the allowed count', () => {
    const values = Float64Array.from({ length: 10 }, (_, i) => (i + 1) / 10);
    const threshold = thresholdForFalseAccept(values, 0.2);
    assert.equal(threshold, 0.8);
    assert.equal(values.filter((value) => value > threshold).length, 2);
  });

  test('small target rejects all calibration impostors', () => {
    const values = Float64Array.from([0.3, 0.9, 0.5]);
    assert.equal(thresholdForFalseAccept(values, 0.01), 0.9);
  });
});

describe('calibrateOpenSet with impostors', () => {
  test('auto rule meets target on fresh impostors', () => {
    const rule = calibrateOpenSet(
      { head, centroids, validation: data.validation, impostors: calibrationImpostors },
      { maxFalseAccept: TARGET_FALSE_ACCEPT },
    );
    assert.equal(rule.calibration.method, 'impostors');
    assert.equal(rule.calibration.selection, 'lowest-false-reject');
    assert.equal(rule.calibration.impostorCount, 600);
    assert.equal(rule.calibration.genuineCount, data.validation.features.length);
    assert.deepEqual(rule.calibration.candidates.map((candidate) => candidate.score).sort(), ['both', 'probability', 'similarity']);
    assert.ok(rule.calibration.falseAcceptRate <= TARGET_FALSE_ACCEPT, `calibration FAR ${rule.calibration.falseAcceptRate}`);

    const freshFalseAccept = acceptRate(rule, testImpostors);
    assert.ok(
      freshFalseAccept >= FRESH_FALSE_ACCEPT_RANGE[0] && freshFalseAccept <= FRESH_FALSE_ACCEPT_RANGE[1],
      `fresh impostor FAR ${freshFalseAccept} outside ${FRESH_FALSE_ACCEPT_RANGE.join('–')} (score ${rule.score})`,
    );
    const freshFalseReject = 1 - acceptRate(rule, testGenuine.features);
    assert.ok(freshFalseReject <= 0.05, `fresh genuine FRR ${freshFalseReject}`);
  });

  for (const score of ['probability', 'similarity', 'both'] as const) {
    test(`${score} rule is consistent with confidence`, () => {
      const rule = calibrateOpenSet(
        { head, centroids, validation: data.validation, impostors: calibrationImpostors },
        { maxFalseAccept: TARGET_FALSE_ACCEPT, score },
      );
      assert.equal(rule.score, score);
      assert.equal(rule.calibration.selection, 'requested');
      assert.equal(rule.calibration.candidates.length, 1);
      assert.ok(rule.calibration.falseAcceptRate <= TARGET_FALSE_ACCEPT);
      const freshFalseAccept = acceptRate(rule, testImpostors);
      assert.ok(
        freshFalseAccept >= FRESH_FALSE_ACCEPT_RANGE[0] && freshFalseAccept <= FRESH_FALSE_ACCEPT_RANGE[1],
        `fresh impostor FAR ${freshFalseAccept} outside ${FRESH_FALSE_ACCEPT_RANGE.join('–')}`,
      );

      const decide = createOpenSetDecider(rule, centroids);
      const faces = [...testGenuine.features, ...testImpostors];
      head.predict(faces).forEach((probabilities, index) => {
        const decision = decide(probabilities, faces[index]);
        assert.ok(decision.confidence >= 0, `confidence ${decision.confidence} < 0`);
        assert.ok(decision.confidence <= 1, `confidence ${decision.confidence} > 1`);
        if (decision.label !== -1) {
          assert.equal(decision.label, decision.nearestLabel);
          assert.ok(decision.confidence >= 1 - TARGET_FALSE_ACCEPT, `face ${index} accepted with confidence ${decision.confidence}`);
        }
      });
    });
  }

  test('long impostor lists are reduced', () => {
    const many = sampleClusters(makeClusters(2, DIMENSION, 303), 600).features;
    const rule = calibrateOpenSet({ head, centroids, validation: data.validation, impostors: many }, { score: 'both' });
    assert.equal(rule.impostorScores.length, MAX_STORED_SCORES);
    assert.equal(rule.impostorProbabilities.length, MAX_STORED_SCORES);
    assert.equal(rule.calibration.impostorCount, 1200);
    for (let i = 1; i < rule.impostorScores.length; i++) assert.ok(rule.impostorScores[i] >= rule.impostorScores[i - 1], 'ascending');
  });
});

describe('calibrateOpenSet without impostors', () => {
  test('leave-one-class-out uses similarity', () => {
    const rule = calibrateOpenSet({ head, centroids, validation: data.validation }, { maxFalseAccept: TARGET_FALSE_ACCEPT });
    assert.equal(rule.calibration.method, 'leave-one-class-out');
    assert.equal(rule.score, 'similarity');
    assert.equal(rule.calibration.impostorCount, data.validation.features.length);
    assert.ok(rule.calibration.falseAcceptRate <= TARGET_FALSE_ACCEPT);
    const freshFalseAccept = acceptRate(rule, testImpostors);
    assert.ok(freshFalseAccept <= FRESH_FALSE_ACCEPT_RANGE[1], `unknown-cluster FAR ${freshFalseAccept}`);
    const freshFalseReject = 1 - acceptRate(rule, testGenuine.features);
    assert.ok(freshFalseReject <= 0.1, `fresh genuine FRR ${freshFalseReject}`);
  });

  test('probability score needs impostors', () => {
    assert.throws(() => calibrateOpenSet({ head, centroids, validation: data.validation }, { score: 'probability' }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /_unknown/,
    });
  });
});

describe('OpenSetRule', () => {
  test('survives JSON round trip', () => {
    const rule = calibrateOpenSet({ head, centroids, validation: data.validation, impostors: calibrationImpostors }, { score: 'both' });
    const copy = JSON.parse(JSON.stringify(rule)) as OpenSetRule;
    assert.deepEqual(copy, rule);
    const original = createOpenSetDecider(rule, centroids);
    const restored = createOpenSetDecider(copy, centroids);
    head.predict(testImpostors.slice(0, 50)).forEach((probabilities, index) => {
      assert.deepEqual(restored(probabilities, testImpostors[index]), original(probabilities, testImpostors[index]));
    });
  });

  test('decide rejects wrong shapes', () => {
    const rule = calibrateOpenSet({ head, centroids, validation: data.validation });
    const decide = createOpenSetDecider(rule, centroids);
    assert.throws(() => decide(new Float32Array(3), new Float32Array(DIMENSION)), { code: 'ERR_INVALID_ARGUMENT', message: /probabilities/ });
    assert.throws(() => decide(new Float32Array(CLASS_COUNT), new Float32Array(5)), { code: 'ERR_INVALID_ARGUMENT', message: /feature/ });
  });

  for (const maxFalseAccept of [0, 1, Number.NaN]) {
    test(`maxFalseAccept ${maxFalseAccept} is rejected`, () => {
      assert.throws(() => calibrateOpenSet({ head, centroids, validation: data.validation }, { maxFalseAccept }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: /options\.maxFalseAccept/,
      });
    });
  }
});

describe('feature centring', () => {
  test('centerFeature subtracts the mean', async () => {
    const { centerFeature, featureMean } = await import('../src/train/openset.js');
    const features = [Float32Array.of(1, 1, 0), Float32Array.of(1, 0, 1)];
    const mean = featureMean(features);
    const centred = centerFeature(features[0]!, mean);
    const norm = Math.hypot(...centred);
    assert.ok(Math.abs(norm - 1) < 1e-6, `norm ${norm}`);
    // Both inputs share the first axis, so centring removes it.
    assert.ok(Math.abs(centred[0]!) < 1e-6);
    assert.ok(centred[1]! > 0, 'the axis only the first input has stays positive');
    assert.ok(centred[2]! < 0, 'the axis only the second input has turns negative');
  });

  test('centring separates positive features', async () => {
    const { centerFeature, featureMean, computeCentroids } = await import('../src/train/openset.js');
    // Two classes of non-negative features that share a large common part, like pooled ReLU outputs.
    const make = (hot: number, jitter: number) => Float32Array.from({ length: 8 }, (_, i) => 1 + (i === hot ? 0.8 : 0) + jitter * ((i * 7) % 3));
    const features = [make(0, 0.01), make(0, 0.02), make(1, 0.01), make(1, 0.02)];
    const labels = [0, 0, 1, 1];
    const mean = featureMean(features);
    const raw = computeCentroids(features, labels, 2);
    const centred = computeCentroids(features, labels, 2, mean);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);
    assert.ok(dot(raw[0]!, raw[1]!) > 0.8, 'raw centroids of the two classes are close');
    assert.ok(dot(centred[0]!, centred[1]!) < 0, 'centred centroids point apart');
    assert.ok(dot(centerFeature(features[0]!, mean), centred[0]!) > 0.9);
  });
});
