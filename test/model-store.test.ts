import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, mock, test } from 'node:test';

import {
  CENTROIDS_FILE,
  HEAD_FILE,
  MANIFEST_FILE,
  loadModel,
  saveModel,
  writeFileAtomic,
  type TrainedModel,
} from '../src/store/model-store.js';
import { fitHead, summarizeFit } from '../src/train/fit.js';
import { evaluateHead } from '../src/train/metrics.js';
import { calibrateOpenSet, computeCentroids } from '../src/train/openset.js';
import { HeadModel } from '../src/train/predict.js';
import { makeDataSet } from './support/synthetic-features.js';

const BACKBONE_SHA256 = 'a'.repeat(64);

let root: string;
let modelA: TrainedModel;
let modelB: TrainedModel;

/** Trains a small model on synthetic clusters; `seed` varies the weights. */
async function makeModel(seed: number): Promise<TrainedModel> {
  const data = makeDataSet(3, 16, 15, 6, seed);
  const fit = await fitHead({ train: data.train, validation: data.validation }, { architecture: 'mlp', engine: 'typescript', maxEpochs: 3, seed });
  const head = new HeadModel(fit.head);
  const centroids = computeCentroids(data.train.features, data.train.labels, 3);
  return {
    classNames: data.train.classNames,
    backbone: {
      id: 'faceres',
      sha256: BACKBONE_SHA256,
      featureSize: 16,
      inputSize: { width: 224, height: 224 },
      pixelScaling: { scale: 1, offset: 0 },
    },
    alignmentTemplateId: 'five-point-224',
    head: fit.head,
    centroids,
    openSet: calibrateOpenSet({ head, centroids, validation: data.validation }),
    training: summarizeFit(fit),
    metrics: evaluateHead(head, data.validation),
  };
}

async function editManifest(directory: string, edit: (manifest: any) => void): Promise<void> {
  const file = path.join(directory, MANIFEST_FILE);
  const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
  edit(manifest);
  await fs.writeFile(file, JSON.stringify(manifest));
}

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'facekit-store-'));
  modelA = await makeModel(1);
  modelB = await makeModel(2);
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

let folder: string;
let counter = 0;
beforeEach(async () => {
  folder = path.join(root, `case-${++counter}`);
  await fs.mkdir(folder);
});

describe('saveModel and loadModel', () => {
  test('round trip keeps every field', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    assert.equal(directory, path.join(folder, 'model'));
    assert.deepEqual((await fs.readdir(directory)).sort(), [CENTROIDS_FILE, HEAD_FILE, MANIFEST_FILE].sort());

    const loaded = await loadModel(directory);
    assert.equal(loaded.formatVersion, 1);
    const packageJson = JSON.parse(await fs.readFile(new URL('../package.json', import.meta.url), 'utf8'));
    assert.equal(loaded.facekitVersion, packageJson.version);
    assert.ok(Date.now() - Date.parse(loaded.createdAt) < 60_000, `createdAt ${loaded.createdAt}`);
    assert.equal(loaded.directory, directory);
    assert.deepEqual(loaded.classNames, modelA.classNames);
    assert.deepEqual(loaded.backbone, modelA.backbone);
    assert.equal(loaded.alignmentTemplateId, modelA.alignmentTemplateId);
    assert.deepEqual(loaded.head, modelA.head);
    assert.deepEqual(loaded.centroids, modelA.centroids);
    assert.deepEqual(loaded.openSet, modelA.openSet);
    assert.deepEqual(loaded.training, modelA.training);
    assert.deepEqual(loaded.metrics, modelA.metrics);
  });

  test('head.bin is float32 little-endian at listed offsets', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    const manifest = JSON.parse(await fs.readFile(path.join(directory, MANIFEST_FILE), 'utf8'));
    const bytes = await fs.readFile(path.join(directory, HEAD_FILE));
    const layer = manifest.head.layers[1];
    assert.equal(bytes.readFloatLE(layer.kernelOffset + 4 * 5), modelA.head.layers[1].kernel[5]);
    assert.equal(bytes.readFloatLE(layer.biasOffset + 4 * 2), modelA.head.layers[1].bias[2]);
    assert.equal(manifest.head.byteLength, bytes.length);
  });

  test('existing model is not overwritten', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    const before = await fs.readFile(path.join(directory, MANIFEST_FILE), 'utf8');
    await assert.rejects(saveModel(directory, modelB), { code: 'ERR_ALREADY_EXISTS', message: /force/ });
    assert.equal(await fs.readFile(path.join(directory, MANIFEST_FILE), 'utf8'), before);
    assert.deepEqual(await fs.readdir(folder), ['model'], 'no temporary directory left');
  });

  test('force replaces model', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    await saveModel(directory, modelB, { force: true });
    const loaded = await loadModel(directory);
    assert.deepEqual(loaded.head, modelB.head);
    assert.deepEqual(await fs.readdir(folder), ['model'], 'no temporary or old directory left');
  });

  test('force never replaces other folders', async () => {
    const directory = path.join(folder, 'photos');
    await fs.mkdir(directory);
    await fs.writeFile(path.join(directory, 'keep.txt'), 'x');
    await assert.rejects(saveModel(directory, modelA, { force: true }), { code: 'ERR_ALREADY_EXISTS', message: /not a facekit model/ });
    assert.deepEqual(await fs.readdir(directory), ['keep.txt']);
  });

  test('expected backbone must match', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    await assert.rejects(loadModel(directory, { expectedBackbone: { id: 'mobilefacenet', sha256: BACKBONE_SHA256 } }), {
      code: 'ERR_MODEL_MISMATCH',
      message: /trained on backbone faceres/,
    });
    await assert.rejects(loadModel(directory, { expectedBackbone: { id: 'faceres', sha256: 'b'.repeat(64) } }), {
      code: 'ERR_MODEL_MISMATCH',
      message: /sha256/,
    });
    const loaded = await loadModel(directory, { expectedBackbone: { id: 'faceres', sha256: BACKBONE_SHA256.toUpperCase() } });
    assert.equal(loaded.backbone.id, 'faceres');
  });

  test('other format version is a mismatch', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    await editManifest(directory, (manifest) => {
      manifest.formatVersion = 2;
    });
    await assert.rejects(loadModel(directory), { code: 'ERR_MODEL_MISMATCH', message: /format version 2.*Upgrade facekit/ });
  });

  const corruptions: [string, (manifest: any) => void, RegExp][] = [
    ['activation', (m) => (m.head.layers[0].activation = 'tanh'), /field head\.layers\[0\]\.activation must be one of relu, softmax/],
    ['class name type', (m) => (m.classNames[1] = 42), /field classNames\[1\] must be a non-empty string/],
    ['duplicate class', (m) => (m.classNames[2] = m.classNames[0]), /field classNames\[2\]/],
    ['backbone digest', (m) => (m.backbone.sha256 = 'xyz'), /field backbone\.sha256/],
    ['missing createdAt', (m) => delete m.createdAt, /field createdAt must be a non-empty string, found undefined/],
    ['threshold type', (m) => (m.openSet.threshold = 'high'), /field openSet\.threshold must be a finite number/],
    ['unsorted scores', (m) => m.openSet.impostorScores.reverse(), /field openSet\.impostorScores\[1\]/],
    ['batch size', (m) => (m.training.options.batchSize = 0), /field training\.options\.batchSize must be an integer ≥ 1/],
    ['accuracy range', (m) => (m.metrics.accuracy = 2), /field metrics\.accuracy must be a number in \[0, 1\]/],
    ['confusion shape', (m) => m.metrics.confusionMatrix.pop(), /field metrics\.confusionMatrix must be 3 rows/],
    ['centroid count', (m) => (m.centroids.count = 4), /field centroids\.count must equal the number of classNames/],
    ['head file name', (m) => (m.head.file = '../../etc/passwd'), /field head\.file must be one of head\.bin/],
    ['layer size', (m) => (m.head.layers[1].inputSize = 7), /field head\.layers\[1\]\.inputSize must be 256/],
    ['weight offset', (m) => (m.head.layers[1].kernelOffset += 4), /field head\.layers\[1\]\.kernelOffset/],
    ['weight length', (m) => (m.head.byteLength -= 4), /field head\.byteLength/],
    ['feature size', (m) => (m.backbone.featureSize = 32), /head\.layers\[0\]\.inputSize must equal backbone\.featureSize/],
  ];
  for (const [name, corrupt, message] of corruptions) {
    test(`corrupted manifest: ${name}`, async () => {
      const directory = await saveModel(path.join(folder, 'model'), modelA);
      await editManifest(directory, corrupt);
      await assert.rejects(loadModel(directory), (error: any) => {
        assert.equal(error.code, 'ERR_MODEL_INVALID');
        assert.match(error.message, message);
        assert.ok(error.message.includes(directory), `message does not name the file: ${error.message}`);
        return true;
      });
    });
  }

  test('manifest that is not JSON', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    await fs.writeFile(path.join(directory, MANIFEST_FILE), '{"formatVersion": 1,');
    await assert.rejects(loadModel(directory), { code: 'ERR_MODEL_INVALID', message: /manifest\.json: not valid JSON/ });
  });

  test('missing manifest', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    await fs.rm(path.join(directory, MANIFEST_FILE));
    await assert.rejects(loadModel(directory), { code: 'ERR_MODEL_INVALID', message: /manifest\.json: the file is missing/ });
  });

  test('missing directory', async () => {
    await assert.rejects(loadModel(path.join(folder, 'nothing')), { code: 'ERR_FILE_NOT_FOUND' });
  });

  test('truncated head.bin', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    const file = path.join(directory, HEAD_FILE);
    const bytes = await fs.readFile(file);
    await fs.writeFile(file, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(loadModel(directory), {
      code: 'ERR_MODEL_INVALID',
      message: new RegExp(`${HEAD_FILE}: ${bytes.length - 10} bytes, but the manifest lists ${bytes.length}`),
    });
  });

  test('non-finite weight in head.bin', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    const file = path.join(directory, HEAD_FILE);
    const bytes = await fs.readFile(file);
    bytes.writeFloatLE(Number.NaN, 4 * 3);
    await fs.writeFile(file, bytes);
    await editManifest(directory, (manifest) => {
      manifest.head.sha256 = createHash('sha256').update(bytes).digest('hex');
    });
    await assert.rejects(loadModel(directory), { code: 'ERR_MODEL_INVALID', message: /head\.bin: head\.layers\[0\]\.kernel\[3\]: expected a finite number/ });
  });

  test('damaged centroids.bin', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    const file = path.join(directory, CENTROIDS_FILE);
    const bytes = await fs.readFile(file);
    bytes[7] ^= 0xff;
    await fs.writeFile(file, bytes);
    await assert.rejects(loadModel(directory), { code: 'ERR_MODEL_INVALID', message: /centroids\.bin: its SHA-256 differs/ });
  });

  test('invalid model is not saved', async () => {
    const target = path.join(folder, 'model');
    await assert.rejects(saveModel(target, { ...modelA, classNames: ['only-one'] }), { code: 'ERR_INVALID_ARGUMENT', message: /model\.classNames/ });
    await assert.rejects(saveModel(target, { ...modelA, metrics: { ...modelA.metrics, accuracy: 7 } }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /metrics\.accuracy/,
    });
    assert.deepEqual(await fs.readdir(folder), []);
  });
});

describe('failed save', () => {
  /** Makes fs.open fail with ENOSPC for the centroids file, as a full disk would mid-save. */
  function failCentroidsWrite(): void {
    const original = fs.open;
    mock.method(fs, 'open', async (...args: Parameters<typeof fs.open>) => {
      if (String(args[0]).endsWith(CENTROIDS_FILE)) {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      return original(...args);
    });
  }

  test('old model survives forced save', async () => {
    const directory = await saveModel(path.join(folder, 'model'), modelA);
    failCentroidsWrite();
    try {
      await assert.rejects(saveModel(directory, modelB, { force: true }), { code: 'ERR_WRITE_FAILED', message: /ENOSPC/ });
    } finally {
      mock.restoreAll();
    }
    const loaded = await loadModel(directory);
    assert.deepEqual(loaded.head, modelA.head);
    assert.deepEqual(await fs.readdir(folder), ['model'], 'no temporary directory left');
  });

  test('new path stays absent', async () => {
    failCentroidsWrite();
    try {
      await assert.rejects(saveModel(path.join(folder, 'model'), modelA), { code: 'ERR_WRITE_FAILED' });
    } finally {
      mock.restoreAll();
    }
    assert.deepEqual(await fs.readdir(folder), []);
  });
});

describe('writeFileAtomic', () => {
  test('writes and replaces without leftovers', async () => {
    const file = path.join(folder, 'checkpoint.json');
    await writeFileAtomic(file, Buffer.from('first'));
    await writeFileAtomic(file, Buffer.from('second'));
    assert.equal(await fs.readFile(file, 'utf8'), 'second');
    assert.deepEqual(await fs.readdir(folder), ['checkpoint.json']);
  });

  test('missing folder raises ERR_WRITE_FAILED', async () => {
    await assert.rejects(writeFileAtomic(path.join(folder, 'absent', 'x.json'), Buffer.from('x')), { code: 'ERR_WRITE_FAILED', message: /ENOENT/ });
  });
});
