/**
 * Measures one training epoch of each head on each training engine: 1,200 synthetic
 * samples of 1,024 features, 10 classes, batch size 32, RMSprop, dropout 0.5 where the
 * head has dropout. Run: `node --import tsx bench/train-head.ts [--classic]`.
 * The `classic` head is measured only with `--classic` because one TF.js epoch of it
 * takes several seconds.
 */

import { performance } from 'node:perf_hooks';

import {
  createHeadTrainer,
  describeHead,
  initializeHead,
  type HeadArchitecture,
  type TrainingBatch,
  type TrainingEngine,
} from '../src/train/head.js';
import { createRandom, nextGaussian } from '../src/train/random.js';

const SAMPLES = 1200;
const FEATURES = 1024;
const CLASSES = 10;
const BATCH_SIZE = 32;
const DROPOUT = 0.5;
const EPOCHS_MEASURED = 3;

function makeBatches(spec: ReturnType<typeof describeHead>): TrainingBatch[] {
  const random = createRandom(1);
  const batches: TrainingBatch[] = [];
  for (let start = 0; start < SAMPLES; start += BATCH_SIZE) {
    const rows = Math.min(BATCH_SIZE, SAMPLES - start);
    const inputs = new Float32Array(rows * FEATURES);
    for (let i = 0; i < inputs.length; i++) inputs[i] = Math.max(0, nextGaussian(random));
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) labels[r] = (start + r) % CLASSES;
    const dropoutMasks = spec.layers.map((layer) => {
      if (layer.inputDropout === 0) return null;
      const mask = new Float32Array(rows * layer.inputSize);
      for (let i = 0; i < mask.length; i++) mask[i] = random.next() < layer.inputDropout ? 0 : 1 / (1 - layer.inputDropout);
      return mask;
    });
    batches.push({ inputs, labels, sampleWeights: new Float32Array(rows).fill(1), rows, dropoutMasks });
  }
  return batches;
}

async function measure(architecture: HeadArchitecture, engine: TrainingEngine): Promise<void> {
  const spec = describeHead(architecture, FEATURES, CLASSES, architecture === 'linear' ? 0 : DROPOUT);
  const trainer = await createHeadTrainer(spec, initializeHead(spec, 7), { name: 'rmsprop', learningRate: 0.001 }, engine);
  const batches = makeBatches(spec);
  const epochs = architecture === 'classic' ? 1 : EPOCHS_MEASURED;
  const timesMs: number[] = [];
  // One warm-up epoch lets V8 optimise the loops and TF.js compile its kernels.
  for (let epoch = 0; epoch <= epochs; epoch++) {
    const start = performance.now();
    for (const batch of batches) await trainer.trainBatch(batch);
    if (epoch > 0) timesMs.push(performance.now() - start);
  }
  trainer.dispose();
  const meanMs = timesMs.reduce((a, b) => a + b, 0) / timesMs.length;
  console.log(`${architecture.padEnd(8)} ${trainer.backend.padEnd(18)} ${meanMs.toFixed(0).padStart(7)} ms/epoch`);
}

const architectures: HeadArchitecture[] = process.argv.includes('--classic') ? ['linear', 'mlp', 'classic'] : ['linear', 'mlp'];
for (const architecture of architectures) {
  for (const engine of ['typescript', 'tfjs-wasm'] as const) await measure(architecture, engine);
}
