/**
 * The `manifest.json` of a saved model: its type and the validator that `loadModel` (and
 * `saveModel`, before writing) runs on it. Every field is checked, and each error names
 * the file and the field. Unknown extra fields are ignored.
 */

import { FacekitError, describeValue } from '../errors.js';
import type { ResolvedFitOptions, TrainingSummary } from '../train/fit.js';
import {
  HEAD_ARCHITECTURES,
  OPTIMIZERS,
  TRAINING_ENGINES,
  type DenseActivation,
  type HeadArchitecture,
  type InputNormalization,
} from '../train/head.js';
import type { ClassMetrics, OpenSetRates, ValidationMetrics } from '../train/metrics.js';
import { OPEN_SET_SCORES, type OpenSetCandidate, type OpenSetRule } from '../train/openset.js';
import type { BackboneDescriptor } from './model-store.js';

/** Byte ranges of one dense layer's weights inside `head.bin`. */
export interface ManifestLayer {
  inputSize: number;
  outputSize: number;
  activation: DenseActivation;
  /** Byte offset of the kernel (`inputSize` × `outputSize` float32, row-major). */
  kernelOffset: number;
  /** Byte offset of the bias (`outputSize` float32). */
  biasOffset: number;
}

export interface ModelManifest {
  formatVersion: number;
  facekitVersion: string;
  /** ISO 8601 time of saving, UTC. */
  createdAt: string;
  backbone: BackboneDescriptor;
  alignment: { templateId: string };
  classNames: string[];
  head: {
    architecture: HeadArchitecture;
    inputNormalization: InputNormalization;
    file: string;
    byteLength: number;
    sha256: string;
    layers: ManifestLayer[];
  };
  centroids: { file: string; byteLength: number; sha256: string; count: number; dimension: number };
  openSet: OpenSetRule;
  training: TrainingSummary;
  metrics: ValidationMetrics;
}

type Json = Record<string, unknown>;

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Returns a typed copy of `value` after checking every field. Raises ERR_MODEL_MISMATCH
 * when `formatVersion` differs from `supportedVersion`, and ERR_MODEL_INVALID naming
 * `file` and the field otherwise.
 */
export function validateManifest(value: unknown, file: string, supportedVersion: number): ModelManifest {
  const check = new FieldChecker(file);
  const root = check.object(value, '(root)');

  const formatVersion = check.integer(root.formatVersion, 'formatVersion', 1);
  if (formatVersion !== supportedVersion) {
    throw new FacekitError(
      'ERR_MODEL_MISMATCH',
      `The model file ${file} has format version ${formatVersion}; this facekit reads version ${supportedVersion}. ` +
        (formatVersion > supportedVersion ? 'Upgrade facekit to load it.' : 'Retrain the model with this facekit.'),
      { path: file },
    );
  }

  const facekitVersion = check.string(root.facekitVersion, 'facekitVersion');
  const createdAt = check.string(root.createdAt, 'createdAt');
  if (Number.isNaN(Date.parse(createdAt))) check.fail('createdAt', 'an ISO 8601 time', createdAt);

  const backbone = check.object(root.backbone, 'backbone');
  const inputSize = check.object(backbone.inputSize, 'backbone.inputSize');
  const pixelScaling = check.object(backbone.pixelScaling, 'backbone.pixelScaling');
  const backboneResult: BackboneDescriptor = {
    id: check.string(backbone.id, 'backbone.id'),
    sha256: check.sha256(backbone.sha256, 'backbone.sha256'),
    featureSize: check.integer(backbone.featureSize, 'backbone.featureSize', 1),
    inputSize: {
      width: check.integer(inputSize.width, 'backbone.inputSize.width', 1),
      height: check.integer(inputSize.height, 'backbone.inputSize.height', 1),
    },
    pixelScaling: {
      scale: check.number(pixelScaling.scale, 'backbone.pixelScaling.scale', { exclusiveMin: 0 }),
      offset: check.number(pixelScaling.offset, 'backbone.pixelScaling.offset'),
    },
  };

  const alignment = check.object(root.alignment, 'alignment');
  const templateId = check.string(alignment.templateId, 'alignment.templateId');

  const classNames = check.array(root.classNames, 'classNames').map((name, index) => check.string(name, `classNames[${index}]`));
  if (classNames.length < 2) check.fail('classNames', 'an array of at least 2 names', root.classNames);
  const duplicate = classNames.findIndex((name, index) => classNames.indexOf(name) !== index);
  if (duplicate >= 0) check.fail(`classNames[${duplicate}]`, 'a name not used before in the list', classNames[duplicate]);
  const classCount = classNames.length;

  const head = check.object(root.head, 'head');
  const headLayers = check.array(head.layers, 'head.layers');
  if (headLayers.length === 0) check.fail('head.layers', 'a non-empty array', head.layers);
  const headResult: ModelManifest['head'] = {
    architecture: check.oneOf(head.architecture, 'head.architecture', HEAD_ARCHITECTURES),
    inputNormalization: check.oneOf(head.inputNormalization, 'head.inputNormalization', ['l2', 'none'] as const),
    file: check.oneOf(head.file, 'head.file', ['head.bin'] as const),
    byteLength: check.integer(head.byteLength, 'head.byteLength', 0),
    sha256: check.sha256(head.sha256, 'head.sha256'),
    layers: headLayers.map((layerValue, index) => {
      const field = `head.layers[${index}]`;
      const layer = check.object(layerValue, field);
      return {
        inputSize: check.integer(layer.inputSize, `${field}.inputSize`, 1),
        outputSize: check.integer(layer.outputSize, `${field}.outputSize`, 1),
        activation: check.oneOf(layer.activation, `${field}.activation`, ['relu', 'softmax'] as const),
        kernelOffset: check.integer(layer.kernelOffset, `${field}.kernelOffset`, 0),
        biasOffset: check.integer(layer.biasOffset, `${field}.biasOffset`, 0),
      };
    }),
  };

  validateLayerChain(check, headResult);

  const centroids = check.object(root.centroids, 'centroids');
  const centroidsResult: ModelManifest['centroids'] = {
    file: check.oneOf(centroids.file, 'centroids.file', ['centroids.bin'] as const),
    byteLength: check.integer(centroids.byteLength, 'centroids.byteLength', 0),
    sha256: check.sha256(centroids.sha256, 'centroids.sha256'),
    count: check.integer(centroids.count, 'centroids.count', 1),
    dimension: check.integer(centroids.dimension, 'centroids.dimension', 1),
  };

  return {
    formatVersion,
    facekitVersion,
    createdAt,
    backbone: backboneResult,
    alignment: { templateId },
    classNames,
    head: headResult,
    centroids: centroidsResult,
    openSet: validateOpenSetRule(check, root.openSet, 'openSet'),
    training: validateTrainingSummary(check, root.training, 'training', classCount),
    metrics: validateMetrics(check, root.metrics, 'metrics', classCount),
  };
}

/**
 * Checks that the layers form a chain (each input size is the previous output size), that
 * only the last layer uses softmax, and that the weights fill `head.bin` exactly: each
 * layer's kernel then bias, in order, float32.
 */
function validateLayerChain(check: FieldChecker, head: ModelManifest['head']): void {
  let expectedOffset = 0;
  head.layers.forEach((layer, index) => {
    const field = `head.layers[${index}]`;
    if (index > 0 && layer.inputSize !== head.layers[index - 1].outputSize) {
      check.fail(`${field}.inputSize`, `${head.layers[index - 1].outputSize}, the outputSize of the layer before`, layer.inputSize);
    }
    const expectedActivation = index === head.layers.length - 1 ? 'softmax' : 'relu';
    if (layer.activation !== expectedActivation) check.fail(`${field}.activation`, expectedActivation, layer.activation);
    if (layer.kernelOffset !== expectedOffset) check.fail(`${field}.kernelOffset`, `${expectedOffset}, right after the previous array`, layer.kernelOffset);
    expectedOffset += layer.inputSize * layer.outputSize * 4;
    if (layer.biasOffset !== expectedOffset) check.fail(`${field}.biasOffset`, `${expectedOffset}, right after the kernel`, layer.biasOffset);
    expectedOffset += layer.outputSize * 4;
  });
  if (head.byteLength !== expectedOffset) check.fail('head.byteLength', `${expectedOffset}, the size of all layers' float32 weights`, head.byteLength);
}

function validateOpenSetRule(check: FieldChecker, value: unknown, field: string): OpenSetRule {
  const rule = check.object(value, field);
  const score = check.oneOf(rule.score, `${field}.score`, OPEN_SET_SCORES);
  const impostorScores = check.ascendingNumbers(rule.impostorScores, `${field}.impostorScores`);
  if (impostorScores.length === 0) check.fail(`${field}.impostorScores`, 'a non-empty array', rule.impostorScores);
  const impostorProbabilities = check.ascendingNumbers(rule.impostorProbabilities, `${field}.impostorProbabilities`);
  const impostorSimilarities = check.ascendingNumbers(rule.impostorSimilarities, `${field}.impostorSimilarities`);
  if (score === 'both' && (impostorProbabilities.length === 0 || impostorSimilarities.length === 0)) {
    check.fail(`${field}.impostorProbabilities`, "non-empty arrays of probabilities and similarities for score 'both'", rule.impostorProbabilities);
  }

  const calibration = check.object(rule.calibration, `${field}.calibration`);
  const calibrationField = `${field}.calibration`;
  const candidates = check.array(calibration.candidates, `${calibrationField}.candidates`).map(
    (candidateValue, index): OpenSetCandidate => {
      const candidateField = `${calibrationField}.candidates[${index}]`;
      const candidate = check.object(candidateValue, candidateField);
      return {
        score: check.oneOf(candidate.score, `${candidateField}.score`, OPEN_SET_SCORES),
        threshold: check.number(candidate.threshold, `${candidateField}.threshold`),
        falseAcceptRate: check.fraction(candidate.falseAcceptRate, `${candidateField}.falseAcceptRate`),
        falseRejectRate: check.fraction(candidate.falseRejectRate, `${candidateField}.falseRejectRate`),
      };
    },
  );

  return {
    score,
    threshold: check.number(rule.threshold, `${field}.threshold`),
    maxFalseAccept: check.number(rule.maxFalseAccept, `${field}.maxFalseAccept`, { exclusiveMin: 0, exclusiveMax: 1 }),
    impostorScores,
    impostorProbabilities,
    impostorSimilarities,
    // Models saved before centring was introduced have no mean: their similarities are uncentred.
    featureMean: rule.featureMean === undefined ? [] : check.array(rule.featureMean, `${field}.featureMean`).map((v, i) => check.number(v, `${field}.featureMean[${i}]`)),
    calibration: {
      method: check.oneOf(calibration.method, `${calibrationField}.method`, ['impostors', 'leave-one-class-out'] as const),
      selection: check.oneOf(calibration.selection, `${calibrationField}.selection`, ['requested', 'lowest-false-reject'] as const),
      impostorCount: check.integer(calibration.impostorCount, `${calibrationField}.impostorCount`, 1),
      genuineCount: check.integer(calibration.genuineCount, `${calibrationField}.genuineCount`, 1),
      falseAcceptRate: check.fraction(calibration.falseAcceptRate, `${calibrationField}.falseAcceptRate`),
      falseRejectRate: check.fraction(calibration.falseRejectRate, `${calibrationField}.falseRejectRate`),
      candidates,
    },
  };
}

function validateTrainingSummary(check: FieldChecker, value: unknown, field: string, classCount: number): TrainingSummary {
  const summary = check.object(value, field);
  const options = check.object(summary.options, `${field}.options`);
  const optionsField = `${field}.options`;

  let classWeighting: ResolvedFitOptions['classWeighting'];
  if (Array.isArray(options.classWeighting)) {
    classWeighting = options.classWeighting.map((weight, index) =>
      check.number(weight, `${optionsField}.classWeighting[${index}]`, { exclusiveMin: 0 }),
    );
  } else {
    classWeighting = check.oneOf(options.classWeighting, `${optionsField}.classWeighting`, ['balanced', 'none'] as const);
  }
  const checkpointPath = options.checkpointPath === null ? null : check.string(options.checkpointPath, `${optionsField}.checkpointPath`);

  const resolved: ResolvedFitOptions = {
    architecture: check.oneOf(options.architecture, `${optionsField}.architecture`, HEAD_ARCHITECTURES),
    engine: check.oneOf(options.engine, `${optionsField}.engine`, TRAINING_ENGINES),
    optimizer: check.oneOf(options.optimizer, `${optionsField}.optimizer`, OPTIMIZERS),
    learningRate: check.number(options.learningRate, `${optionsField}.learningRate`, { exclusiveMin: 0 }),
    batchSize: check.integer(options.batchSize, `${optionsField}.batchSize`, 1),
    maxEpochs: check.integer(options.maxEpochs, `${optionsField}.maxEpochs`, 1),
    patience: check.integer(options.patience, `${optionsField}.patience`, 1),
    minDelta: check.number(options.minDelta, `${optionsField}.minDelta`, { min: 0 }),
    dropout: check.number(options.dropout, `${optionsField}.dropout`, { min: 0, exclusiveMax: 1 }),
    classWeighting,
    seed: check.integer(options.seed, `${optionsField}.seed`, 0),
    checkpointPath,
  };

  const epochs = check.integer(summary.epochs, `${field}.epochs`, 1);
  const bestEpoch = check.integer(summary.bestEpoch, `${field}.bestEpoch`, 1);
  if (bestEpoch > epochs) check.fail(`${field}.bestEpoch`, `an integer in [1, ${epochs}] (epochs)`, bestEpoch);
  const classWeights = check.array(summary.classWeights, `${field}.classWeights`).map((weight, index) =>
    check.number(weight, `${field}.classWeights[${index}]`, { min: 0 }),
  );
  if (classWeights.length !== classCount) check.fail(`${field}.classWeights`, `${classCount} weights, one per class`, summary.classWeights);

  return {
    options: resolved,
    engine: check.oneOf(summary.engine, `${field}.engine`, TRAINING_ENGINES),
    backend: check.string(summary.backend, `${field}.backend`),
    epochs,
    bestEpoch,
    bestValLoss: check.number(summary.bestValLoss, `${field}.bestValLoss`, { min: 0 }),
    stoppedEarly: check.boolean(summary.stoppedEarly, `${field}.stoppedEarly`),
    trainSamples: check.integer(summary.trainSamples, `${field}.trainSamples`, 1),
    validationSamples: check.integer(summary.validationSamples, `${field}.validationSamples`, 1),
    classWeights,
    ms: check.number(summary.ms, `${field}.ms`, { min: 0 }),
  };
}

function validateMetrics(check: FieldChecker, value: unknown, field: string, classCount: number): ValidationMetrics {
  const metrics = check.object(value, field);
  const perClass = check.array(metrics.perClass, `${field}.perClass`).map((entryValue, index): ClassMetrics => {
    const entryField = `${field}.perClass[${index}]`;
    const entry = check.object(entryValue, entryField);
    return {
      precision: check.nullableFraction(entry.precision, `${entryField}.precision`),
      recall: check.nullableFraction(entry.recall, `${entryField}.recall`),
      support: check.integer(entry.support, `${entryField}.support`, 0),
    };
  });
  if (perClass.length !== classCount) check.fail(`${field}.perClass`, `${classCount} entries, one per class`, metrics.perClass);

  const rows = check.array(metrics.confusionMatrix, `${field}.confusionMatrix`);
  if (rows.length !== classCount) check.fail(`${field}.confusionMatrix`, `${classCount} rows, one per class`, metrics.confusionMatrix);
  const confusionMatrix = rows.map((rowValue, row) => {
    const counts = check.array(rowValue, `${field}.confusionMatrix[${row}]`);
    if (counts.length !== classCount) check.fail(`${field}.confusionMatrix[${row}]`, `${classCount} counts`, rowValue);
    return counts.map((count, column) => check.integer(count, `${field}.confusionMatrix[${row}][${column}]`, 0));
  });

  let openSet: OpenSetRates | null = null;
  if (metrics.openSet !== null) {
    const rates = check.object(metrics.openSet, `${field}.openSet`);
    openSet = {
      falseAcceptRate: check.nullableFraction(rates.falseAcceptRate, `${field}.openSet.falseAcceptRate`),
      falseRejectRate: check.nullableFraction(rates.falseRejectRate, `${field}.openSet.falseRejectRate`),
      correctAcceptRate: check.nullableFraction(rates.correctAcceptRate, `${field}.openSet.correctAcceptRate`),
      genuineCount: check.integer(rates.genuineCount, `${field}.openSet.genuineCount`, 0),
      impostorCount: check.integer(rates.impostorCount, `${field}.openSet.impostorCount`, 0),
    };
  }

  return {
    sampleCount: check.integer(metrics.sampleCount, `${field}.sampleCount`, 1),
    accuracy: check.fraction(metrics.accuracy, `${field}.accuracy`),
    loss: check.number(metrics.loss, `${field}.loss`, { min: 0 }),
    perClass,
    confusionMatrix,
    openSet,
  };
}

/** Type checks that raise ERR_MODEL_INVALID naming the file and the field. */
class FieldChecker {
  constructor(private readonly file: string) {}

  fail(field: string, expected: string, received: unknown): never {
    throw new FacekitError(
      'ERR_MODEL_INVALID',
      `Invalid model file ${this.file}: field ${field} must be ${expected}, found ${describeValue(received)}.`,
      { path: this.file },
    );
  }

  object(value: unknown, field: string): Json {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(field, 'an object', value);
    return value as Json;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, 'an array', value);
    return value as unknown[];
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'a non-empty string', value);
    return value as string;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'true or false', value);
    return value as boolean;
  }

  sha256(value: unknown, field: string): string {
    if (typeof value !== 'string' || !SHA256_PATTERN.test(value)) this.fail(field, 'a SHA-256 digest of 64 lowercase hex digits', value);
    return value as string;
  }

  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) this.fail(field, `one of ${allowed.join(', ')}`, value);
    return value as T;
  }

  number(value: unknown, field: string, range: { min?: number; exclusiveMin?: number; exclusiveMax?: number } = {}): number {
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (range.min === undefined || value >= range.min) &&
      (range.exclusiveMin === undefined || value > range.exclusiveMin) &&
      (range.exclusiveMax === undefined || value < range.exclusiveMax);
    if (!ok) {
      const bounds = [
        range.min !== undefined ? `≥ ${range.min}` : '',
        range.exclusiveMin !== undefined ? `> ${range.exclusiveMin}` : '',
        range.exclusiveMax !== undefined ? `< ${range.exclusiveMax}` : '',
      ].filter(Boolean);
      this.fail(field, `a finite number${bounds.length > 0 ? ' ' + bounds.join(' and ') : ''}`, value);
    }
    return value as number;
  }

  integer(value: unknown, field: string, min: number): number {
    if (!Number.isSafeInteger(value) || (value as number) < min) this.fail(field, `an integer ≥ ${min}`, value);
    return value as number;
  }

  fraction(value: unknown, field: string): number {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) this.fail(field, 'a number in [0, 1]', value);
    return value as number;
  }

  nullableFraction(value: unknown, field: string): number | null {
    return value === null ? null : this.fraction(value, field);
  }

  ascendingNumbers(value: unknown, field: string): number[] {
    const values = this.array(value, field).map((entry, index) => this.number(entry, `${field}[${index}]`));
    for (let i = 1; i < values.length; i++) {
      if (values[i] < values[i - 1]) this.fail(`${field}[${i}]`, `≥ the previous value ${values[i - 1]} (ascending order)`, values[i]);
    }
    return values;
  }
}
