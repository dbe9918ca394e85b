/**
 * Classification and open-set metrics. Label −1 means "unknown" (rejected by the
 * open-set rule). Undefined ratios (nothing to divide by) are null, so results are JSON.
 */

import { invalidArgument } from '../errors.js';
import { argMax } from './linalg.js';
import type { OpenSetDecide } from './openset.js';
import type { HeadModel } from './predict.js';

/** Precision, recall and support of one class. */
export interface ClassMetrics {
  /** Share of the samples predicted as this class that belong to it, or null when none were predicted. */
  precision: number | null;
  /** Share of this class's samples predicted as it, or null when the class has no samples. */
  recall: number | null;
  /** Samples of this class. */
  support: number;
}

/** Top-1 accuracy: share of samples whose predicted label equals the true label, in [0, 1]; null when empty. */
export function top1Accuracy(trueLabels: readonly number[], predictedLabels: readonly number[]): number | null {
  checkSameLength(trueLabels, predictedLabels);
  if (trueLabels.length === 0) return null;
  let correct = 0;
  for (let i = 0; i < trueLabels.length; i++) if (trueLabels[i] === predictedLabels[i]) correct++;
  return correct / trueLabels.length;
}

/**
 * Returns the K × K confusion matrix: `matrix[t][p]` counts samples of true class t
 * predicted as p. Predictions of −1 (unknown) are not counted; `unknownPerClass[t]`
 * counts them instead.
 */
export function confusionMatrix(
  trueLabels: readonly number[],
  predictedLabels: readonly number[],
  classCount: number,
): { matrix: number[][]; unknownPerClass: number[] } {
  checkSameLength(trueLabels, predictedLabels);
  if (!Number.isInteger(classCount) || classCount < 1) throw invalidArgument('classCount', 'an integer ≥ 1', classCount);
  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  const unknownPerClass = new Array<number>(classCount).fill(0);
  for (let i = 0; i < trueLabels.length; i++) {
    const truth = trueLabels[i];
    const predicted = predictedLabels[i];
    checkLabel(truth, classCount, `trueLabels[${i}]`, false);
    checkLabel(predicted, classCount, `predictedLabels[${i}]`, true);
    if (predicted === -1) unknownPerClass[truth]++;
    else matrix[truth][predicted]++;
  }
  return { matrix, unknownPerClass };
}

/**
 * Returns precision, recall and support per class from a confusion matrix. A sample
 * rejected as unknown counts against its class's recall when `unknownPerClass` is given.
 */
export function perClassMetrics(matrix: readonly (readonly number[])[], unknownPerClass?: readonly number[]): ClassMetrics[] {
  const classCount = matrix.length;
  return matrix.map((row, label) => {
    const truePositives = row[label];
    const support = row.reduce((sum, count) => sum + count, 0) + (unknownPerClass?.[label] ?? 0);
    let predictedAsLabel = 0;
    for (let t = 0; t < classCount; t++) predictedAsLabel += matrix[t][label];
    return {
      precision: predictedAsLabel === 0 ? null : truePositives / predictedAsLabel,
      recall: support === 0 ? null : truePositives / support,
      support,
    };
  });
}

/** Open-set error rates on labelled test faces. */
export interface OpenSetRates {
  /** Share of impostor faces given a name (label ≠ −1), in [0, 1]; null without impostors. */
  falseAcceptRate: number | null;
  /** Share of genuine faces rejected as unknown (label −1), in [0, 1]; null without genuine faces. */
  falseRejectRate: number | null;
  /** Share of genuine faces accepted with the right name, in [0, 1]; null without genuine faces. */
  correctAcceptRate: number | null;
  genuineCount: number;
  impostorCount: number;
}

/**
 * Computes FAR and FRR from open-set decisions: `genuine` pairs a true class index with
 * the decided label, `impostorLabels` are the decided labels of faces of unknown people.
 */
export function openSetRates(
  genuine: { trueLabels: readonly number[]; predictedLabels: readonly number[] },
  impostorLabels: readonly number[],
): OpenSetRates {
  checkSameLength(genuine.trueLabels, genuine.predictedLabels);
  let rejected = 0;
  let correct = 0;
  for (let i = 0; i < genuine.trueLabels.length; i++) {
    if (genuine.predictedLabels[i] === -1) rejected++;
    else if (genuine.predictedLabels[i] === genuine.trueLabels[i]) correct++;
  }
  const accepted = impostorLabels.filter((label) => label !== -1).length;
  const genuineCount = genuine.trueLabels.length;
  return {
    falseAcceptRate: impostorLabels.length === 0 ? null : accepted / impostorLabels.length,
    falseRejectRate: genuineCount === 0 ? null : rejected / genuineCount,
    correctAcceptRate: genuineCount === 0 ? null : correct / genuineCount,
    genuineCount,
    impostorCount: impostorLabels.length,
  };
}

/** Validation metrics stored with a model and shown in the training report. */
export interface ValidationMetrics {
  sampleCount: number;
  /** Closed-set top-1 accuracy (the open-set rule not applied), in [0, 1]. */
  accuracy: number;
  /** Mean cross-entropy of the head on the validation set, in nats. */
  loss: number;
  perClass: ClassMetrics[];
  /** Closed-set confusion matrix, `[true][predicted]`. */
  confusionMatrix: number[][];
  /** Rates of the open-set rule, or null when no rule was given. */
  openSet: OpenSetRates | null;
}

/**
 * Evaluates a head on labelled validation faces and, given a decision rule, its
 * open-set rates on those faces and on `impostors`. Rates measured on the impostors that
 * calibrated the rule are optimistic, so pass impostors held out from calibration.
 */
export function evaluateHead(
  head: HeadModel,
  validation: { features: Float32Array[]; labels: number[] },
  openSet?: { decide: OpenSetDecide; impostors: Float32Array[] },
): ValidationMetrics {
  if (validation.features.length === 0) throw invalidArgument('validation.features', 'at least one feature', validation.features);
  const probabilities = head.predict(validation.features);
  const predicted = probabilities.map((row) => argMax(row));
  let lossSum = 0;
  probabilities.forEach((row, index) => {
    // The probability is clamped to the float32 minimum so that a confident mistake
    // gives a large but finite loss.
    lossSum += -Math.log(Math.max(row[validation.labels[index]], 1.1754943508222875e-38));
  });
  const { matrix } = confusionMatrix(validation.labels, predicted, head.classCount);

  let openSetResult: OpenSetRates | null = null;
  if (openSet) {
    const genuineDecisions = probabilities.map((row, index) => openSet.decide(row, validation.features[index]).label);
    const impostorProbabilities = head.predict(openSet.impostors);
    const impostorDecisions = impostorProbabilities.map((row, index) => openSet.decide(row, openSet.impostors[index]).label);
    openSetResult = openSetRates({ trueLabels: validation.labels, predictedLabels: genuineDecisions }, impostorDecisions);
  }

  return {
    sampleCount: validation.features.length,
    accuracy: top1Accuracy(validation.labels, predicted) as number,
    loss: lossSum / validation.features.length,
    perClass: perClassMetrics(matrix),
    confusionMatrix: matrix,
    openSet: openSetResult,
  };
}

function checkSameLength(trueLabels: readonly number[], predictedLabels: readonly number[]): void {
  if (!Array.isArray(trueLabels)) throw invalidArgument('trueLabels', 'an array of class indices', trueLabels);
  if (!Array.isArray(predictedLabels) || predictedLabels.length !== trueLabels.length) {
    throw invalidArgument('predictedLabels', `an array of ${trueLabels.length} labels, one per true label`, predictedLabels);
  }
}

function checkLabel(label: number, classCount: number, name: string, allowUnknown: boolean): void {
  const valid = Number.isInteger(label) && label < classCount && (label >= 0 || (allowUnknown && label === -1));
  if (!valid) {
    throw invalidArgument(name, `an integer in [${allowUnknown ? -1 : 0}, ${classCount - 1}]`, label);
  }
}
