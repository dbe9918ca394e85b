/**
 * Fits a classifier head on backbone features: seeded shuffling, class weights, early
 * stopping on validation loss with the best epoch restored, and an optional checkpoint
 * file written atomically whenever validation loss improves.
 */

import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

import { FacekitError, invalidArgument } from '../errors.js';
import { writeFileAtomic } from '../store/model-store.js';
import {
  FASTEST_ENGINE,
  HEAD_ARCHITECTURES,
  OPTIMIZERS,
  TRAINING_ENGINES,
  cloneHead,
  createHeadTrainer,
  describeHead,
  initializeHead,
  type HeadArchitecture,
  type HeadParameters,
  type HeadSpec,
  type HeadTrainer,
  type OptimizerName,
  type TrainingBatch,
  type TrainingEngine,
} from './head.js';
import { argMax, l2Normalize } from './linalg.js';
import { createRandom, shuffleInPlace, type RandomSource } from './random.js';
import { encodeHeadCheckpoint } from './checkpoint.js';

/** Features with their class indices. `classNames[labels[i]]` names sample i. */
export interface LabelledFeatures {
  /** One backbone feature per sample, all of the same length. */
  features: Float32Array[];
  /** Class index per sample, in [0, classNames.length). */
  labels: number[];
  classNames: string[];
}

export interface FitData {
  train: LabelledFeatures;
  /** Required: early stopping monitors the loss on these samples. */
  validation: LabelledFeatures;
}

/** Class weighting of the training loss. */
export type ClassWeighting = 'balanced' | 'none' | number[];

export interface FitOptions {
  /** Head to train. */
  architecture?: HeadArchitecture;
  /**
   * Training engine: `typescript`, `tfjs-wasm`, or `auto` for the engine measured fastest
   * for the architecture (`FASTEST_ENGINE`). `tfjs-wasm` needs @tensorflow/tfjs and
   * @tensorflow/tfjs-backend-wasm installed, and it never falls back to `typescript`.
   */
  engine?: TrainingEngine | 'auto';
  optimizer?: OptimizerName;
  /** Optimiser step size, unitless. */
  learningRate?: number;
  /** Samples per optimiser step. */
  batchSize?: number;
  /** Upper bound on passes over the training set. */
  maxEpochs?: number;
  /** Epochs without validation-loss improvement before training stops. */
  patience?: number;
  /** Decrease of validation loss (in nats) that counts as an improvement. */
  minDelta?: number;
  /** Dropout rate in [0, 1); when omitted, the architecture's default from `FIT_DEFAULTS.dropout`. */
  dropout?: number;
  /**
   * `balanced` weighs class c by N / (K · n_c), so every class contributes equally to the
   * loss and the mean weight over samples is 1. `none` weighs all samples 1. An array
   * gives one positive weight per class.
   */
  classWeighting?: ClassWeighting;
  /** Seed for initial weights, shuffling and dropout masks. */
  seed?: number;
  /** File that receives the best head so far each time validation loss improves. */
  checkpointPath?: string;
}

/**
 * The defaults, in one place.
 *
 * - architecture `linear`: on the celebrity dev set (bench/accuracy.ts) the linear,
 *   `mlp` and `classic` heads reached the same validation top-1 (33 of 33) and rejected
 *   the same held-out strangers (15 of 16). The linear head trains in about 25 ms per
 *   epoch on the TypeScript engine, against about 350 ms for `mlp` on TF.js WASM.
 * - engine `auto`: the engine measured fastest for the architecture (`FASTEST_ENGINE`).
 * - optimizer `rmsprop` with learningRate 0.001, and patience 3 with minDelta 0: the
 *   recipe's RMSprop and `EarlyStopping(monitor=val_loss, patience=3)`.
 * - batchSize 32 samples: the Keras `fit` default.
 * - maxEpochs 50: early stopping usually ends runs sooner, and 50 bounds the worst case
 *   at about 17–25 s for the `mlp` head on 1,200 samples (timings in `FASTEST_ENGINE`).
 * - dropout per architecture: `linear` 0 (no hidden layer to regularise), `mlp` 0.5 (a
 *   common rate for a hidden layer, because small face sets overfit), `classic` 0 (as the
 *   recipe).
 * - classWeighting `balanced`: people often have unequal sample counts.
 * - seed 1: runs are reproducible unless the caller asks for another seed.
 * - checkpointPath none: the best epoch is always kept in memory.
 */
export const FIT_DEFAULTS = {
  architecture: 'linear',
  engine: 'auto',
  optimizer: 'rmsprop',
  learningRate: 0.001,
  batchSize: 32,
  maxEpochs: 50,
  patience: 3,
  minDelta: 0,
  dropout: { linear: 0, mlp: 0.5, classic: 0 },
  classWeighting: 'balanced',
  seed: 1,
  checkpointPath: undefined,
} as const satisfies Record<keyof FitOptions, unknown>;

/** Options after defaults are applied. JSON-serialisable, so the model store records it. */
export interface ResolvedFitOptions {
  architecture: HeadArchitecture;
  engine: TrainingEngine;
  optimizer: OptimizerName;
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  minDelta: number;
  dropout: number;
  classWeighting: 'balanced' | 'none' | number[];
  seed: number;
  checkpointPath: string | null;
}

/** One line of the training history. Epochs count from 1. */
export interface EpochRecord {
  epoch: number;
  /** Mean weighted training cross-entropy over the epoch's batches, dropout active. */
  loss: number;
  /** Share of training samples classified correctly during the epoch, dropout active. */
  accuracy: number;
  /** Mean unweighted cross-entropy on the validation set, after the epoch. */
  valLoss: number;
  /** Share of validation samples classified correctly, after the epoch. */
  valAccuracy: number;
  /** Wall time of the epoch, including validation, in milliseconds. */
  ms: number;
}

/** Progress of `fitHead`, one typed stream for the CLI, the server and the web UI. */
export type FitEvent =
  | {
      type: 'start';
      engine: TrainingEngine;
      backend: string;
      architecture: HeadArchitecture;
      maxEpochs: number;
      trainSamples: number;
      validationSamples: number;
      classWeights: number[];
    }
  | ({ type: 'epoch' } & EpochRecord)
  | { type: 'best'; epoch: number; valLoss: number; checkpointPath: string | null }
  | { type: 'early-stop'; epoch: number; bestEpoch: number }
  | { type: 'end'; epochs: number; bestEpoch: number; ms: number };

export interface FitControl {
  /** Receives progress events. An exception thrown here stops training and propagates. */
  onEvent?: (event: FitEvent) => void;
  /** Aborting stops training at the next batch with ERR_CANCELLED. */
  signal?: AbortSignal;
}

export interface FitResult {
  /** Parameters of the epoch with the lowest validation loss. */
  head: HeadParameters;
  spec: HeadSpec;
  classNames: string[];
  history: EpochRecord[];
  /** Epoch (from 1) whose parameters `head` contains. */
  bestEpoch: number;
  bestValLoss: number;
  /** Whether early stopping ended training before `maxEpochs`. */
  stoppedEarly: boolean;
  engine: TrainingEngine;
  backend: string;
  options: ResolvedFitOptions;
  /** Loss weight per class index. */
  classWeights: number[];
  trainSamples: number;
  validationSamples: number;
  /** Wall time of the whole fit, in milliseconds. */
  ms: number;
}

/** Summary of a fit that the model store records: plain JSON, without weights or history. */
export interface TrainingSummary {
  options: ResolvedFitOptions;
  engine: TrainingEngine;
  backend: string;
  /** Epochs run, counting the ones after the best epoch. */
  epochs: number;
  bestEpoch: number;
  bestValLoss: number;
  stoppedEarly: boolean;
  trainSamples: number;
  validationSamples: number;
  classWeights: number[];
  /** Wall time of the fit, in milliseconds. */
  ms: number;
}

/** Returns the JSON summary of a fit for the model manifest. */
export function summarizeFit(result: FitResult): TrainingSummary {
  return {
    options: { ...result.options },
    engine: result.engine,
    backend: result.backend,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    bestValLoss: result.bestValLoss,
    stoppedEarly: result.stoppedEarly,
    trainSamples: result.trainSamples,
    validationSamples: result.validationSamples,
    classWeights: [...result.classWeights],
    ms: result.ms,
  };
}

/** Validation samples evaluated per `predictLogits` call, to bound memory. */
const EVALUATION_CHUNK_ROWS = 256;

/**
 * Trains a head on `data.train`, monitors `data.validation`, and returns the parameters
 * of the epoch with the lowest validation loss (also when training ran to `maxEpochs`).
 *
 * Training stops after `patience` epochs without an improvement of at least `minDelta`
 * in validation loss, or after `maxEpochs`. Cancelling through `control.signal` takes
 * effect before the next batch. Events go to `control.onEvent` in order: `start`, then
 * per epoch `epoch` (and `best` when validation loss improved), then `early-stop` if it
 * applies, then `end`.
 */
export async function fitHead(data: FitData, options: FitOptions = {}, control: FitControl = {}): Promise<FitResult> {
  const startedAt = performance.now();
  const resolved = resolveFitOptions(options);
  const { classNames, inputSize } = validateFitData(data);
  const { signal, onEvent } = control;
  throwIfAborted(signal);

  const classCount = classNames.length;
  const classWeights = computeClassWeights(data.train.labels, classCount, resolved.classWeighting);
  const spec = describeHead(resolved.architecture, inputSize, classCount, resolved.dropout);
  const train = toMatrix(data.train, spec);
  const validation = toMatrix(data.validation, spec);

  const trainer = await createHeadTrainer(
    spec,
    initializeHead(spec, resolved.seed),
    { name: resolved.optimizer, learningRate: resolved.learningRate },
    resolved.engine,
  );
  try {
    onEvent?.({
      type: 'start',
      engine: trainer.engine,
      backend: trainer.backend,
      architecture: spec.architecture,
      maxEpochs: resolved.maxEpochs,
      trainSamples: train.rows,
      validationSamples: validation.rows,
      classWeights,
    });

    // Shuffling and dropout draw from their own stream, so the initial weights do not
    // depend on the batch size or the dropout rate.
    const random = createRandom((resolved.seed ^ 0x5bd1e995) >>> 0);
    const order = Int32Array.from({ length: train.rows }, (_, i) => i);
    const history: EpochRecord[] = [];
    let best: { epoch: number; valLoss: number; head: HeadParameters } | undefined;
    let epochsWithoutImprovement = 0;
    let stoppedEarly = false;

    for (let epoch = 1; epoch <= resolved.maxEpochs; epoch++) {
      const epochStart = performance.now();
      shuffleInPlace(order, random);
      const trainResult = await runEpoch(trainer, spec, train, order, classWeights, resolved.batchSize, random, signal);
      const validationResult = await evaluateMatrix(trainer, validation, classCount);
      const record: EpochRecord = {
        epoch,
        loss: trainResult.loss,
        accuracy: trainResult.accuracy,
        valLoss: validationResult.loss,
        valAccuracy: validationResult.accuracy,
        ms: performance.now() - epochStart,
      };
      history.push(record);
      onEvent?.({ type: 'epoch', ...record });

      if (best === undefined || record.valLoss < best.valLoss - resolved.minDelta) {
        best = { epoch, valLoss: record.valLoss, head: await trainer.getParameters() };
        epochsWithoutImprovement = 0;
        if (resolved.checkpointPath !== null) {
          await writeFileAtomic(resolved.checkpointPath, encodeHeadCheckpoint(best.head, { epoch, valLoss: record.valLoss, classNames }));
        }
        onEvent?.({ type: 'best', epoch, valLoss: record.valLoss, checkpointPath: resolved.checkpointPath });
      } else {
        epochsWithoutImprovement++;
        if (epochsWithoutImprovement >= resolved.patience) {
          stoppedEarly = true;
          onEvent?.({ type: 'early-stop', epoch, bestEpoch: best.epoch });
          break;
        }
      }
    }

    // maxEpochs ≥ 1, so at least one epoch ran and set `best`.
    const bestEpoch = best as { epoch: number; valLoss: number; head: HeadParameters };
    const ms = performance.now() - startedAt;
    onEvent?.({ type: 'end', epochs: history.length, bestEpoch: bestEpoch.epoch, ms });
    return {
      head: cloneHead(bestEpoch.head),
      spec,
      classNames: [...classNames],
      history,
      bestEpoch: bestEpoch.epoch,
      bestValLoss: bestEpoch.valLoss,
      stoppedEarly,
      engine: trainer.engine,
      backend: trainer.backend,
      options: resolved,
      classWeights,
      trainSamples: train.rows,
      validationSamples: validation.rows,
      ms,
    };
  } finally {
    trainer.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// Options and data validation

const OPTION_KEYS = Object.keys(FIT_DEFAULTS) as (keyof FitOptions)[];

/** Applies `FIT_DEFAULTS` to a copy of `options`, validating every field. */
export function resolveFitOptions(options: FitOptions): ResolvedFitOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key as keyof FitOptions)) {
      throw invalidArgument(`options.${key}`, `one of the known options (${OPTION_KEYS.join(', ')})`, key);
    }
  }

  const architecture = options.architecture ?? FIT_DEFAULTS.architecture;
  if (!HEAD_ARCHITECTURES.includes(architecture)) {
    throw invalidArgument('options.architecture', `one of ${HEAD_ARCHITECTURES.join(', ')}`, architecture);
  }
  const requestedEngine = options.engine ?? FIT_DEFAULTS.engine;
  if (requestedEngine !== 'auto' && !TRAINING_ENGINES.includes(requestedEngine)) {
    throw invalidArgument('options.engine', `'auto' or one of ${TRAINING_ENGINES.join(', ')}`, requestedEngine);
  }
  const engine = requestedEngine === 'auto' ? FASTEST_ENGINE[architecture] : requestedEngine;
  const optimizer = options.optimizer ?? FIT_DEFAULTS.optimizer;
  if (!OPTIMIZERS.includes(optimizer)) {
    throw invalidArgument('options.optimizer', `one of ${OPTIMIZERS.join(', ')}`, optimizer);
  }

  const learningRate = options.learningRate ?? FIT_DEFAULTS.learningRate;
  if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
    throw invalidArgument('options.learningRate', 'a finite number > 0', learningRate);
  }
  const batchSize = options.batchSize ?? FIT_DEFAULTS.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw invalidArgument('options.batchSize', 'an integer ≥ 1', batchSize);
  }
  const maxEpochs = options.maxEpochs ?? FIT_DEFAULTS.maxEpochs;
  if (!Number.isInteger(maxEpochs) || maxEpochs < 1) {
    throw invalidArgument('options.maxEpochs', 'an integer ≥ 1', maxEpochs);
  }
  const patience = options.patience ?? FIT_DEFAULTS.patience;
  if (!Number.isInteger(patience) || patience < 1) {
    throw invalidArgument('options.patience', 'an integer ≥ 1', patience);
  }
  const minDelta = options.minDelta ?? FIT_DEFAULTS.minDelta;
  if (typeof minDelta !== 'number' || !Number.isFinite(minDelta) || minDelta < 0) {
    throw invalidArgument('options.minDelta', 'a finite number ≥ 0', minDelta);
  }
  const dropout = options.dropout ?? FIT_DEFAULTS.dropout[architecture];
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw invalidArgument('options.dropout', 'a number in [0, 1)', dropout);
  }

  const classWeighting = options.classWeighting ?? FIT_DEFAULTS.classWeighting;
  if (Array.isArray(classWeighting)) {
    classWeighting.forEach((weight, index) => {
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
        throw invalidArgument(`options.classWeighting[${index}]`, 'a finite number > 0', weight);
      }
    });
  } else if (classWeighting !== 'balanced' && classWeighting !== 'none') {
    throw invalidArgument('options.classWeighting', "'balanced', 'none' or an array of numbers", classWeighting);
  }

  const seed = options.seed ?? FIT_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw invalidArgument('options.seed', 'an integer in [0, 4294967295]', seed);
  }
  const checkpointPath = options.checkpointPath ?? FIT_DEFAULTS.checkpointPath ?? null;
  if (checkpointPath !== null && (typeof checkpointPath !== 'string' || checkpointPath.length === 0)) {
    throw invalidArgument('options.checkpointPath', 'a non-empty file path', checkpointPath);
  }

  return {
    architecture,
    engine,
    optimizer,
    learningRate,
    batchSize,
    maxEpochs,
    patience,
    minDelta,
    dropout,
    classWeighting: Array.isArray(classWeighting) ? [...classWeighting] : classWeighting,
    seed,
    checkpointPath,
  };
}

/**
 * Checks that train and validation sets are usable and consistent, and returns the class
 * names and the feature length. Shape and type errors raise ERR_INVALID_ARGUMENT; a set
 * that is well-formed but cannot be trained on (a class without training samples, an
 * empty validation set) raises ERR_DATASET.
 */
export function validateFitData(data: FitData): { classNames: string[]; inputSize: number } {
  if (data === null || typeof data !== 'object') throw invalidArgument('data', 'an object with train and validation', data);
  const classNames = validateLabelledFeatures(data.train, 'data.train');
  const validationNames = validateLabelledFeatures(data.validation, 'data.validation');

  if (classNames.length < 2) {
    throw new FacekitError('ERR_DATASET', `Training needs at least 2 classes, found ${classNames.length}. Add a folder per person.`);
  }
  if (validationNames.length !== classNames.length || validationNames.some((name, i) => name !== classNames[i])) {
    throw invalidArgument('data.validation.classNames', `the same names in the same order as data.train.classNames`, validationNames);
  }
  if (data.train.features.length === 0) throw new FacekitError('ERR_DATASET', 'The training set is empty.');
  if (data.validation.features.length === 0) {
    throw new FacekitError('ERR_DATASET', 'The validation set is empty, but early stopping needs validation samples.');
  }

  const inputSize = data.train.features[0].length;
  for (const [name, set] of [['data.train', data.train], ['data.validation', data.validation]] as const) {
    set.features.forEach((feature, index) => {
      if (feature.length !== inputSize) {
        throw invalidArgument(`${name}.features[${index}]`, `length ${inputSize} like the first training feature`, feature);
      }
    });
  }

  const counts = new Array<number>(classNames.length).fill(0);
  for (const label of data.train.labels) counts[label]++;
  const missing = classNames.filter((_, index) => counts[index] === 0);
  if (missing.length > 0) {
    throw new FacekitError('ERR_DATASET', `No training samples for class ${missing.map((name) => JSON.stringify(name)).join(', ')}. Add images or remove the class.`);
  }
  return { classNames, inputSize };
}

function validateLabelledFeatures(set: LabelledFeatures, name: string): string[] {
  if (set === null || typeof set !== 'object') throw invalidArgument(name, 'an object with features, labels and classNames', set);
  const { features, labels, classNames } = set;
  if (!Array.isArray(classNames)) throw invalidArgument(`${name}.classNames`, 'an array of strings', classNames);
  const seen = new Set<string>();
  classNames.forEach((className, index) => {
    if (typeof className !== 'string' || className.length === 0) {
      throw invalidArgument(`${name}.classNames[${index}]`, 'a non-empty string', className);
    }
    if (seen.has(className)) throw invalidArgument(`${name}.classNames[${index}]`, 'a name not used before in the list', className);
    seen.add(className);
  });

  if (!Array.isArray(features)) throw invalidArgument(`${name}.features`, 'an array of Float32Array', features);
  if (!Array.isArray(labels)) throw invalidArgument(`${name}.labels`, 'an array of class indices', labels);
  if (labels.length !== features.length) {
    throw invalidArgument(`${name}.labels`, `one label per feature (${features.length})`, labels);
  }
  features.forEach((feature, index) => {
    if (!(feature instanceof Float32Array) || feature.length === 0) {
      throw invalidArgument(`${name}.features[${index}]`, 'a non-empty Float32Array', feature);
    }
    for (let i = 0; i < feature.length; i++) {
      if (!Number.isFinite(feature[i])) {
        throw invalidArgument(`${name}.features[${index}][${i}]`, 'a finite number', feature[i]);
      }
    }
  });
  labels.forEach((label, index) => {
    if (!Number.isInteger(label) || label < 0 || label >= classNames.length) {
      throw invalidArgument(`${name}.labels[${index}]`, `an integer in [0, ${classNames.length - 1}]`, label);
    }
  });
  return classNames;
}

/** Returns one loss weight per class index. */
export function computeClassWeights(labels: readonly number[], classCount: number, weighting: ClassWeighting): number[] {
  if (Array.isArray(weighting)) {
    if (weighting.length !== classCount) {
      throw invalidArgument('options.classWeighting', `an array of ${classCount} weights, one per class`, weighting);
    }
    return [...weighting];
  }
  if (weighting === 'none') return new Array<number>(classCount).fill(1);

  const counts = new Array<number>(classCount).fill(0);
  for (const label of labels) counts[label]++;
  return counts.map((count) => (count === 0 ? 0 : labels.length / (classCount * count)));
}

// ---------------------------------------------------------------------------------------
// Training loop pieces

interface FeatureMatrix {
  /** `rows` × `columns`, row-major, after the head's input normalisation. */
  values: Float32Array;
  labels: Int32Array;
  rows: number;
  columns: number;
}

function toMatrix(set: LabelledFeatures, spec: HeadSpec): FeatureMatrix {
  const rows = set.features.length;
  const columns = spec.inputSize;
  const values = new Float32Array(rows * columns);
  set.features.forEach((feature, row) => {
    values.set(spec.inputNormalization === 'l2' ? l2Normalize(feature) : feature, row * columns);
  });
  return { values, labels: Int32Array.from(set.labels), rows, columns };
}

async function runEpoch(
  trainer: HeadTrainer,
  spec: HeadSpec,
  train: FeatureMatrix,
  order: Int32Array,
  classWeights: number[],
  batchSize: number,
  random: RandomSource,
  signal: AbortSignal | undefined,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < train.rows; start += batchSize) {
    throwIfAborted(signal);
    const rows = Math.min(batchSize, train.rows - start);
    const inputs = new Float32Array(rows * train.columns);
    const labels = new Int32Array(rows);
    const sampleWeights = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const source = order[start + r];
      inputs.set(train.values.subarray(source * train.columns, (source + 1) * train.columns), r * train.columns);
      labels[r] = train.labels[source];
      sampleWeights[r] = classWeights[labels[r]];
    }
    const batch: TrainingBatch = {
      inputs,
      labels,
      sampleWeights,
      rows,
      dropoutMasks: spec.layers.map((layer) => makeDropoutMask(rows * layer.inputSize, layer.inputDropout, random)),
    };
    const result = await trainer.trainBatch(batch);
    lossSum += result.loss * rows;
    correct += result.correct;
    // The TypeScript engine never awaits real I/O, so give timers and abort handlers a turn.
    await yieldToEventLoop();
  }
  throwIfAborted(signal);
  return { loss: lossSum / train.rows, accuracy: correct / train.rows };
}

/** Inverted dropout: kept units are scaled by 1 / (1 − rate) so that expectations match inference. */
function makeDropoutMask(length: number, rate: number, random: RandomSource): Float32Array | null {
  if (rate === 0) return null;
  const keepScale = 1 / (1 - rate);
  const mask = new Float32Array(length);
  for (let i = 0; i < length; i++) mask[i] = random.next() < rate ? 0 : keepScale;
  return mask;
}

async function evaluateMatrix(
  trainer: HeadTrainer,
  set: FeatureMatrix,
  classCount: number,
): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < set.rows; start += EVALUATION_CHUNK_ROWS) {
    const rows = Math.min(EVALUATION_CHUNK_ROWS, set.rows - start);
    const logits = await trainer.predictLogits(set.values.subarray(start * set.columns, (start + rows) * set.columns), rows);
    for (let r = 0; r < rows; r++) {
      const label = set.labels[start + r];
      const offset = r * classCount;
      if (argMax(logits, offset, classCount) === label) correct++;
      lossSum += crossEntropyFromLogits(logits, offset, classCount, label);
    }
  }
  return { loss: lossSum / set.rows, accuracy: correct / set.rows };
}

/** Returns −log softmax(logits)[label] for one row, computed stably. */
function crossEntropyFromLogits(logits: Float32Array, offset: number, classCount: number, label: number): number {
  let max = -Infinity;
  for (let j = 0; j < classCount; j++) max = Math.max(max, logits[offset + j]);
  let sum = 0;
  for (let j = 0; j < classCount; j++) sum += Math.exp(logits[offset + j] - max);
  return Math.log(sum) + max - logits[offset + label];
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FacekitError('ERR_CANCELLED', 'Training was cancelled.', { cause: signal.reason });
}
