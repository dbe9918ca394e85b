import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import { readHeadCheckpoint } from '../src/train/checkpoint.js';
import { FASTEST_ENGINE } from '../src/train/head.js';
import {
  FIT_DEFAULTS,
  computeClassWeights,
  fitHead,
  resolveFitOptions,
  type FitEvent,
  type FitOptions,
} from '../src/train/fit.js';
import { HeadModel } from '../src/train/predict.js';
import { makeDataSet, type LabelledSet } from './support/synthetic-features.js';

/** Validation loss recomputed from returned weights must match the recorded one to this many nats. */
const LOSS_TOLERANCE = 1e-5;

const data = makeDataSet(5, 64, 40, 10, 101);

/** Mean cross-entropy of a head on a labelled set, in nats. */
function crossEntropy(model: HeadModel, set: LabelledSet): number {
  const probabilities = model.predict(set.features);
  return probabilities.reduce((sum, row, i) => sum - Math.log(row[set.labels[i]]), 0) / set.features.length;
}

/** Returns a copy of `set` with every third label wrong, so validation loss rises once the head grows confident. */
function withNoisyLabels(set: LabelledSet, classCount: number): LabelledSet {
  return { ...set, labels: set.labels.map((label, i) => (i % 3 === 0 ? (label + 1) % classCount : label)) };
}

describe('fitHead', () => {
  for (const architecture of ['linear', 'mlp'] as const) {
    test(`${architecture} head separates clusters`, async () => {
      const result = await fitHead({ train: data.train, validation: data.validation }, { architecture, maxEpochs: 30 });
      const last = result.history[result.history.length - 1];
      assert.ok(last.valAccuracy >= 0.95, `validation accuracy ${last.valAccuracy} < 0.95`);
      assert.equal(result.engine, FASTEST_ENGINE[architecture]);
      assert.equal(result.options.engine, result.engine);
      assert.equal(result.spec.architecture, architecture);
      const model = new HeadModel(result.head);
      const predicted = model.predict(data.validation.features).map((row) => row.indexOf(Math.max(...row)));
      const correct = predicted.filter((label, i) => label === data.validation.labels[i]).length;
      assert.ok(correct / predicted.length >= 0.95, `returned head accuracy ${correct / predicted.length} < 0.95`);
    });
  }

  test('classic head trains on tfjs-wasm', async () => {
    // A small set keeps this test near a second: one classic epoch costs about 1.6 M
    // multiply-adds per sample forward on TF.js WASM.
    const small = makeDataSet(5, 64, 12, 6, 3);
    const events: FitEvent[] = [];
    const result = await fitHead(
      { train: small.train, validation: small.validation },
      { architecture: 'classic', engine: 'tfjs-wasm', maxEpochs: 2 },
      { onEvent: (event) => events.push(event) },
    );
    assert.equal(result.engine, 'tfjs-wasm');
    assert.match(result.backend, /^tfjs-wasm/);
    const start = events.find((event) => event.type === 'start');
    assert.ok(start?.type === 'start', 'start event emitted');
    assert.equal(start.backend, result.backend, 'start event names the backend');
    assert.ok(result.history[result.history.length - 1].valAccuracy >= 0.9, 'classic head learned the clusters');
  });

  for (const engine of ['typescript', 'tfjs-wasm'] as const) {
    test(`seeded runs are reproducible on ${engine}`, async () => {
      const options: FitOptions = { architecture: 'mlp', engine, maxEpochs: 4, seed: 7 };
      const first = await fitHead({ train: data.train, validation: data.validation }, options);
      const second = await fitHead({ train: data.train, validation: data.validation }, options);
      assert.deepEqual(
        second.history.map(({ ms: _ms, ...rest }) => rest),
        first.history.map(({ ms: _ms, ...rest }) => rest),
      );
      assert.deepEqual(second.head, first.head);
      const other = await fitHead({ train: data.train, validation: data.validation }, { ...options, seed: 8 });
      assert.notDeepEqual(other.head.layers[0].kernel, first.head.layers[0].kernel);
    });
  }

  test('early stopping restores best epoch', async () => {
    const validation = withNoisyLabels(data.validation, 5);
    const events: FitEvent[] = [];
    const result = await fitHead(
      { train: data.train, validation },
      { architecture: 'linear', optimizer: 'adam', learningRate: 0.05, maxEpochs: 60, patience: 3 },
      { onEvent: (event) => events.push(event) },
    );
    assert.equal(result.stoppedEarly, true, `no early stop in ${result.history.length} epochs`);
    assert.equal(result.history.length, result.bestEpoch + 3, 'stops patience epochs after the best');
    const bestRecord = result.history[result.bestEpoch - 1];
    const minimum = Math.min(...result.history.map((record) => record.valLoss));
    assert.equal(bestRecord.valLoss, minimum);
    assert.equal(result.bestValLoss, minimum);
    const restoredLoss = crossEntropy(new HeadModel(result.head), validation);
    assert.ok(Math.abs(restoredLoss - bestRecord.valLoss) <= LOSS_TOLERANCE, `restored weights give ${restoredLoss}, best epoch had ${bestRecord.valLoss}`);
    const lastLoss = result.history[result.history.length - 1].valLoss;
    assert.ok(lastLoss > bestRecord.valLoss, 'the last epoch is worse than the best');

    const stop = events.find((event) => event.type === 'early-stop');
    assert.deepEqual(stop, { type: 'early-stop', epoch: result.history.length, bestEpoch: result.bestEpoch });
    assert.deepEqual(events[events.length - 1].type, 'end');
  });

  test('checkpoint file holds best epoch', async () => {
    const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'facekit-fit-'));
    try {
      const checkpointPath = path.join(folder, 'best.json');
      const bestEvents: number[] = [];
      const result = await fitHead(
        { train: data.train, validation: withNoisyLabels(data.validation, 5) },
        { architecture: 'linear', optimizer: 'adam', learningRate: 0.05, maxEpochs: 40, checkpointPath },
        { onEvent: (event) => event.type === 'best' && bestEvents.push(event.epoch) },
      );
      const checkpoint = await readHeadCheckpoint(checkpointPath);
      assert.equal(checkpoint.epoch, result.bestEpoch);
      assert.equal(bestEvents[bestEvents.length - 1], result.bestEpoch);
      assert.deepEqual(checkpoint.head, result.head);
      assert.deepEqual(checkpoint.classNames, data.train.classNames);
      assert.deepEqual(await fs.readdir(folder), ['best.json'], 'no temporary files left');
    } finally {
      await fs.rm(folder, { recursive: true, force: true });
    }
  });

  test('abort raises ERR_CANCELLED', async () => {
    const controller = new AbortController();
    let epochs = 0;
    await assert.rejects(
      fitHead(
        { train: data.train, validation: data.validation },
        { maxEpochs: 50 },
        {
          signal: controller.signal,
          onEvent: (event) => {
            if (event.type === 'epoch' && ++epochs === 2) controller.abort();
          },
        },
      ),
      { code: 'ERR_CANCELLED' },
    );
    assert.equal(epochs, 2);
  });

  test('abort from a timer stops training', async () => {
    const big = makeDataSet(5, 256, 200, 10, 5);
    const started = Date.now();
    await assert.rejects(
      fitHead({ train: big.train, validation: big.validation }, { maxEpochs: 1000, patience: 1000 }, { signal: AbortSignal.timeout(50) }),
      { code: 'ERR_CANCELLED' },
    );
    assert.ok(Date.now() - started < 5000, 'training stopped soon after the abort');
  });

  test('class without samples raises ERR_DATASET', async () => {
    const train = { ...data.train, classNames: [...data.train.classNames, 'nobody'] };
    const validation = { ...data.validation, classNames: train.classNames };
    await assert.rejects(fitHead({ train, validation }), { code: 'ERR_DATASET', message: /"nobody"/ });
  });

  test('empty validation raises ERR_DATASET', async () => {
    await assert.rejects(
      fitHead({ train: data.train, validation: { features: [], labels: [], classNames: data.train.classNames } }),
      { code: 'ERR_DATASET', message: /validation/ },
    );
  });

  test('bad feature length is named', async () => {
    const features = [...data.train.features];
    features[3] = new Float32Array(10);
    await assert.rejects(fitHead({ train: { ...data.train, features }, validation: data.validation }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /data\.train\.features\[3\].*length 64/,
    });
  });

  test('non-finite feature value is named', async () => {
    const features = [...data.train.features];
    features[2] = features[2].slice();
    features[2][5] = Number.NaN;
    await assert.rejects(fitHead({ train: { ...data.train, features }, validation: data.validation }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /data\.train\.features\[2\]\[5\]/,
    });
  });

  test('mismatched validation classes rejected', async () => {
    const validation = { ...data.validation, classNames: [...data.validation.classNames].reverse() };
    await assert.rejects(fitHead({ train: data.train, validation }), { code: 'ERR_INVALID_ARGUMENT', message: /classNames/ });
  });
});

describe('resolveFitOptions', () => {
  test('applies defaults without mutating input', () => {
    const options = Object.freeze({ architecture: 'linear' as const });
    const resolved = resolveFitOptions(options);
    assert.deepEqual(options, { architecture: 'linear' });
    assert.equal(resolved.optimizer, 'rmsprop');
    assert.equal(resolved.learningRate, 0.001);
    assert.equal(resolved.patience, 3);
    assert.equal(resolved.batchSize, 32);
    assert.equal(resolved.classWeighting, 'balanced');
    assert.equal(resolved.dropout, FIT_DEFAULTS.dropout.linear);
    assert.equal(resolved.checkpointPath, null);
    assert.equal(resolveFitOptions({}).architecture, 'linear');
    assert.equal(resolveFitOptions({}).dropout, FIT_DEFAULTS.dropout.linear);
  });

  test('auto engine depends on architecture', () => {
    assert.equal(resolveFitOptions({ architecture: 'linear' }).engine, FASTEST_ENGINE.linear);
    assert.equal(resolveFitOptions({ architecture: 'classic' }).engine, FASTEST_ENGINE.classic);
    assert.equal(resolveFitOptions({ architecture: 'classic', engine: 'typescript' }).engine, 'typescript');
  });

  const invalid: [FitOptions, RegExp][] = [
    [{ architecture: 'deep' as never }, /options\.architecture/],
    [{ engine: 'gpu' as never }, /options\.engine/],
    [{ optimizer: 'sgd' as never }, /options\.optimizer/],
    [{ learningRate: 0 }, /options\.learningRate/],
    [{ learningRate: Number.NaN }, /options\.learningRate/],
    [{ batchSize: 1.5 }, /options\.batchSize/],
    [{ maxEpochs: 0 }, /options\.maxEpochs/],
    [{ patience: -1 }, /options\.patience/],
    [{ minDelta: -0.1 }, /options\.minDelta/],
    [{ dropout: 1 }, /options\.dropout/],
    [{ classWeighting: 'auto' as never }, /options\.classWeighting/],
    [{ classWeighting: [1, -2] }, /options\.classWeighting\[1\]/],
    [{ seed: -3 }, /options\.seed/],
    [{ checkpointPath: '' }, /options\.checkpointPath/],
    [{ batchsize: 8 } as never, /options\.batchsize/],
  ];
  for (const [options, message] of invalid) {
    const [[key, value]] = Object.entries(options);
    test(`rejects ${key} ${Array.isArray(value) ? JSON.stringify(value) : String(value)}`, () => {
      assert.throws(() => resolveFitOptions(options), { code: 'ERR_INVALID_ARGUMENT', message });
    });
  }
});

describe('computeClassWeights', () => {
  test('balanced weights equalise classes', () => {
    const labels = [...new Array(10).fill(0), ...new Array(30).fill(1)];
    const weights = computeClassWeights(labels, 2, 'balanced');
    assert.deepEqual(weights, [2, 40 / 60]);
    const totalPerClass = [10 * weights[0], 30 * weights[1]];
    assert.equal(totalPerClass[0], totalPerClass[1]);
  });

  test('none gives ones', () => {
    assert.deepEqual(computeClassWeights([0, 1, 1], 2, 'none'), [1, 1]);
  });

  test('explicit weights must match class count', () => {
    assert.throws(() => computeClassWeights([0, 1], 2, [1, 2, 3]), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
