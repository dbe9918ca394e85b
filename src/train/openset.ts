/**
 * Open-set recognition: class centroids, and a calibrated rule that returns "unknown"
 * (label −1) for faces of people outside the trained classes.
 *
 * A face gets two scores from the head's probabilities and its feature:
 * - `probability`: the largest softmax probability, of the predicted class;
 * - `similarity`: cosine similarity of the feature to the predicted class's centroid.
 * The rule thresholds one of them, or `both`: the smaller of the two scores' impostor
 * ranks (see `combineScores`), so a face must look unlike impostors on both counts.
 *
 * The threshold is the quantile of impostor scores that lets at most `maxFalseAccept` of
 * the calibration impostors through. Impostors are the caller's `_unknown` faces when
 * given. Otherwise each class in turn is left out and its validation faces act as
 * impostors for the rest (leave-one-class-out). `calibrateOpenSet` explains why that uses
 * centroids only.
 */

import { FacekitError, invalidArgument } from '../errors.js';
import { argMax, cosineSimilarity, l2Normalize } from './linalg.js';
import type { HeadModel } from './predict.js';

export const OPEN_SET_SCORES = ['probability', 'similarity', 'both'] as const;
export type OpenSetScore = (typeof OPEN_SET_SCORES)[number];

/** Source of the calibration impostors. */
export type OpenSetMethod = 'impostors' | 'leave-one-class-out';

/** False-accept and false-reject rates that one score reached on the calibration data. */
export interface OpenSetCandidate {
  score: OpenSetScore;
  threshold: number;
  /** Share of calibration impostors accepted, in [0, 1]. */
  falseAcceptRate: number;
  /** Share of genuine validation faces rejected, in [0, 1]. */
  falseRejectRate: number;
}

/** Record of how the rule was chosen, stored with the model. */
export interface OpenSetCalibrationReport {
  method: OpenSetMethod;
  /** `requested` when the caller named the score; `lowest-false-reject` when `auto` chose it. */
  selection: 'requested' | 'lowest-false-reject';
  /** Calibration impostor faces. */
  impostorCount: number;
  /** Genuine validation faces used for the false-reject rate. */
  genuineCount: number;
  /** Rates of the chosen rule on the calibration data. */
  falseAcceptRate: number;
  falseRejectRate: number;
  /** Every score that was tried, including the chosen one. */
  candidates: OpenSetCandidate[];
}

/** A calibrated accept/reject rule, plain JSON. */
export interface OpenSetRule {
  score: OpenSetScore;
  /** A face is accepted when its score is strictly greater than this. */
  threshold: number;
  /** Target share of impostors accepted, in (0, 1). */
  maxFalseAccept: number;
  /** Calibration impostors' values of `score`, ascending (see `MAX_STORED_SCORES`). */
  impostorScores: number[];
  /** For `both`: impostor probabilities, ascending, that define the probability rank. Empty otherwise. */
  impostorProbabilities: number[];
  /** For `both`: impostor similarities, ascending, that define the similarity rank. Empty otherwise. */
  impostorSimilarities: number[];
  /**
   * Mean of the L2-normalised training features, subtracted before every similarity
   * (see `centerFeature`); empty for no centering.
   */
  featureMean: number[];
  calibration: OpenSetCalibrationReport;
}

/** Outcome of the open-set decision for one face. */
export interface OpenSetDecision {
  /** Class index, or −1 for unknown. */
  label: number;
  /**
   * Share of calibration impostors whose score is lower than this face's, in [0, 1]:
   * one minus the false-accept rate a threshold placed at this face's score would have.
   * Accepted faces have confidence ≥ 1 − maxFalseAccept. It measures how unlike an
   * unknown person the face is, not which known person it is (that is `probability`).
   */
  confidence: number;
  /** Class with the largest probability, reported even when the face is rejected. */
  nearestLabel: number;
  /** Softmax probability of `nearestLabel`. */
  probability: number;
  /** Cosine similarity of the feature to the centroid of `nearestLabel`, in [−1, 1]. */
  similarity: number;
}

export interface OpenSetOptions {
  /** Target share of impostors accepted, in (0, 1). */
  maxFalseAccept?: number;
  /** Score to threshold, or `auto` for the one with the lowest false-reject rate. */
  score?: OpenSetScore | 'auto';
}

/**
 * Defaults:
 * - maxFalseAccept 0.01: one unknown face in a hundred may be given a name.
 * - score `auto`: try every score available for the method and keep the one with the
 *   lowest false-reject rate at the target false-accept rate.
 */
export const OPEN_SET_DEFAULTS = {
  maxFalseAccept: 0.01,
  score: 'auto',
} as const satisfies Required<OpenSetOptions>;

/**
 * Cap on stored impostor scores per list. Longer lists are reduced to evenly spaced
 * order statistics, so `confidence` is then exact only to about 1 / MAX_STORED_SCORES.
 */
export const MAX_STORED_SCORES = 1001;

/**
 * Order in which `auto` breaks ties in false-reject rate. Cosine similarity comes first
 * because it falls for faces far from every class, while the largest softmax
 * probability can stay high far from the training data.
 */
const TIE_ORDER: readonly OpenSetScore[] = ['similarity', 'both', 'probability'];

/**
 * Computes the mean of L2-normalised features. Backbone features after a ReLU and average
 * pooling are all non-negative, so any two faces have a cosine similarity of about 0.5
 * to 0.7. Subtracting this mean first spreads similarities out. On the celebrity dev set
 * (faceres), the closest stranger to any person's centroid fell from 0.64 to 0.31, and
 * the least similar genuine face from 0.61 to 0.35. A threshold between them rejects
 * every stranger and keeps every known face.
 */
export function featureMean(features: readonly Float32Array[]): Float32Array {
  if (features.length === 0) throw invalidArgument('features', 'at least one feature', features);
  const size = features[0].length;
  const sum = new Float64Array(size);
  for (const feature of features) {
    const unit = l2Normalize(feature);
    for (let i = 0; i < size; i++) sum[i] += unit[i];
  }
  return Float32Array.from(sum, (value) => value / features.length);
}

/** Normalises `feature`, subtracts `mean` (when given) and normalises again. */
export function centerFeature(feature: Float32Array, mean: ArrayLike<number> | undefined): Float32Array {
  const unit = l2Normalize(feature);
  if (!mean || mean.length === 0) return unit;
  if (mean.length !== unit.length) throw invalidArgument('featureMean', `${unit.length} values`, mean);
  return l2Normalize(Float32Array.from(unit, (value, i) => value - mean[i]));
}

/**
 * Returns one centroid per class: the mean of the class's centred, L2-normalised
 * features (see `centerFeature`), normalised again to unit length. Raises ERR_DATASET
 * for a class without samples.
 */
export function computeCentroids(
  features: readonly Float32Array[],
  labels: readonly number[],
  classCount: number,
  mean?: ArrayLike<number>,
): Float32Array[] {
  if (features.length !== labels.length) throw invalidArgument('labels', `one label per feature (${features.length})`, labels);
  if (features.length === 0) throw new FacekitError('ERR_DATASET', 'Centroids need at least one feature per class, but none were given.');
  const size = features[0].length;
  const sums = Array.from({ length: classCount }, () => new Float64Array(size));
  const counts = new Array<number>(classCount).fill(0);
  features.forEach((feature, index) => {
    const label = labels[index];
    if (!Number.isInteger(label) || label < 0 || label >= classCount) {
      throw invalidArgument(`labels[${index}]`, `an integer in [0, ${classCount - 1}]`, label);
    }
    if (feature.length !== size) throw invalidArgument(`features[${index}]`, `length ${size}`, feature);
    const unit = centerFeature(feature, mean);
    const sum = sums[label];
    for (let i = 0; i < size; i++) sum[i] += unit[i];
    counts[label]++;
  });
  return sums.map((sum, label) => {
    if (counts[label] === 0) throw new FacekitError('ERR_DATASET', `Class ${label} has no features, so it has no centroid.`);
    return l2Normalize(Float32Array.from(sum, (value) => value / counts[label]));
  });
}

export interface OpenSetCalibrationInput {
  /** Trained head that gives the probabilities. */
  head: HeadModel;
  /** One centroid per class, from `computeCentroids` on the training features with the same `featureMean`. */
  centroids: Float32Array[];
  /** Mean subtracted from features before similarities, from `featureMean`; omit for none. */
  featureMean?: Float32Array;
  /** Validation faces of the known classes: genuine samples, and impostors when leaving classes out. */
  validation: { features: Float32Array[]; labels: number[] };
  /** Faces of people in none of the classes. When missing or empty, classes are left out in turn. */
  impostors?: Float32Array[];
}

/**
 * Calibrates the open-set rule and reports the false-accept and false-reject rates it
 * reached on the calibration data.
 *
 * Without impostors, leave-one-class-out scores each held-out face by its largest cosine
 * similarity to the other classes' centroids. Centroids do not depend on one another,
 * so no head is retrained. The largest similarity is at least the similarity to the
 * class the head would pick, so the threshold errs towards rejecting. Only the
 * `similarity` score is available this way: the trained head has seen every class, so
 * its probabilities for a held-out class are not those of an unknown face.
 */
export function calibrateOpenSet(input: OpenSetCalibrationInput, options: OpenSetOptions = {}): OpenSetRule {
  const { maxFalseAccept, score: requestedScore } = resolveOpenSetOptions(options);
  const { head, centroids, validation } = input;
  if (centroids.length !== head.classCount) {
    throw invalidArgument('centroids', `${head.classCount} centroids, one per class`, centroids);
  }
  if (validation.features.length === 0) {
    throw new FacekitError('ERR_DATASET', 'Open-set calibration needs validation faces of the known classes, but none were given.');
  }
  if (validation.labels.length !== validation.features.length) {
    throw invalidArgument('validation.labels', `one label per feature (${validation.features.length})`, validation.labels);
  }
  validation.labels.forEach((label, index) => {
    if (!Number.isInteger(label) || label < 0 || label >= head.classCount) {
      throw invalidArgument(`validation.labels[${index}]`, `an integer in [0, ${head.classCount - 1}]`, label);
    }
  });

  const mean = input.featureMean;
  const genuine = scoreFaces(head, centroids, validation.features, mean);
  const impostors = input.impostors ?? [];
  const method: OpenSetMethod = impostors.length > 0 ? 'impostors' : 'leave-one-class-out';
  let impostorScores: FaceScores;
  let available: readonly OpenSetScore[];
  if (method === 'impostors') {
    impostorScores = scoreFaces(head, centroids, impostors, mean);
    available = OPEN_SET_SCORES;
  } else {
    impostorScores = scoreHeldOutClasses(centroids, validation.features, validation.labels, mean);
    available = ['similarity'];
  }
  if (requestedScore !== 'auto' && !available.includes(requestedScore)) {
    throw invalidArgument(
      'options.score',
      `'similarity' or 'auto', because without impostor faces only centroid similarity can be calibrated (add an _unknown folder to use '${requestedScore}')`,
      requestedScore,
    );
  }

  const tried = requestedScore === 'auto' ? available : [requestedScore];
  const rules = tried.map((score) => buildRule(score, maxFalseAccept, impostorScores, genuine));
  const chosen = rules.reduce((best, rule) => {
    const bestRate = best.candidate.falseRejectRate;
    const rate = rule.candidate.falseRejectRate;
    if (rate < bestRate) return rule;
    if (rate === bestRate && TIE_ORDER.indexOf(rule.rule.score) < TIE_ORDER.indexOf(best.rule.score)) return rule;
    return best;
  });

  return {
    ...chosen.rule,
    featureMean: mean ? Array.from(mean) : [],
    calibration: {
      method,
      selection: requestedScore === 'auto' ? 'lowest-false-reject' : 'requested',
      impostorCount: impostorScores.probability.length,
      genuineCount: genuine.probability.length,
      falseAcceptRate: chosen.candidate.falseAcceptRate,
      falseRejectRate: chosen.candidate.falseRejectRate,
      candidates: rules.map((rule) => rule.candidate),
    },
  };
}

function resolveOpenSetOptions(options: OpenSetOptions): Required<OpenSetOptions> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options);
  const maxFalseAccept = options.maxFalseAccept ?? OPEN_SET_DEFAULTS.maxFalseAccept;
  if (typeof maxFalseAccept !== 'number' || !(maxFalseAccept > 0 && maxFalseAccept < 1)) {
    throw invalidArgument('options.maxFalseAccept', 'a number in (0, 1)', maxFalseAccept);
  }
  const score = options.score ?? OPEN_SET_DEFAULTS.score;
  if (score !== 'auto' && !OPEN_SET_SCORES.includes(score)) {
    throw invalidArgument('options.score', `'auto' or one of ${OPEN_SET_SCORES.join(', ')}`, score);
  }
  return { maxFalseAccept, score };
}

/** Per-face probability and similarity, in parallel arrays. */
interface FaceScores {
  probability: Float64Array;
  similarity: Float64Array;
}

function scoreFaces(head: HeadModel, centroids: Float32Array[], features: Float32Array[], mean?: Float32Array): FaceScores {
  const probabilities = head.predict(features);
  const probability = new Float64Array(features.length);
  const similarity = new Float64Array(features.length);
  probabilities.forEach((row, index) => {
    const predicted = argMax(row);
    probability[index] = row[predicted];
    similarity[index] = cosineSimilarity(centerFeature(features[index], mean), centroids[predicted]);
  });
  return { probability, similarity };
}

/**
 * Leave-one-class-out impostor scores: each validation face's largest similarity to the
 * centroids of the other classes. The probability entries are unused (NaN).
 */
function scoreHeldOutClasses(centroids: Float32Array[], features: Float32Array[], labels: number[], mean?: Float32Array): FaceScores {
  const similarity = new Float64Array(features.length);
  features.forEach((rawFeature, index) => {
    const feature = centerFeature(rawFeature, mean);
    let best = -Infinity;
    centroids.forEach((centroid, label) => {
      if (label !== labels[index]) best = Math.max(best, cosineSimilarity(feature, centroid));
    });
    similarity[index] = best;
  });
  return { probability: new Float64Array(features.length).fill(Number.NaN), similarity };
}

function buildRule(
  score: OpenSetScore,
  maxFalseAccept: number,
  impostors: FaceScores,
  genuine: FaceScores,
): { rule: Omit<OpenSetRule, 'calibration' | 'featureMean'>; candidate: OpenSetCandidate } {
  const impostorProbabilities = score === 'both' ? storedScores(impostors.probability) : [];
  const impostorSimilarities = score === 'both' ? storedScores(impostors.similarity) : [];
  const partial = { score, impostorProbabilities, impostorSimilarities };

  const impostorValues = Float64Array.from(impostors.similarity, (_, i) =>
    combineScores(partial, impostors.probability[i], impostors.similarity[i]),
  );
  const threshold = thresholdForFalseAccept(impostorValues, maxFalseAccept);
  const accepted = impostorValues.filter((value) => value > threshold).length;
  const genuineValues = Float64Array.from(genuine.similarity, (_, i) =>
    combineScores(partial, genuine.probability[i], genuine.similarity[i]),
  );
  const rejected = genuineValues.filter((value) => !(value > threshold)).length;

  const candidate: OpenSetCandidate = {
    score,
    threshold,
    falseAcceptRate: accepted / impostorValues.length,
    falseRejectRate: rejected / genuineValues.length,
  };
  return {
    rule: { ...partial, threshold, maxFalseAccept, impostorScores: storedScores(impostorValues) },
    candidate,
  };
}

/**
 * Returns the threshold t such that at most floor(maxFalseAccept × n) of the n impostor
 * values are strictly greater than t: the value at that position from the top.
 */
export function thresholdForFalseAccept(values: Float64Array, maxFalseAccept: number): number {
  const descending = Float64Array.from(values).sort().reverse();
  const allowed = Math.floor(maxFalseAccept * descending.length);
  return descending[Math.min(allowed, descending.length - 1)];
}

/** Sorts ascending and reduces long lists to `MAX_STORED_SCORES` evenly spaced order statistics. */
function storedScores(values: Float64Array): number[] {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length <= MAX_STORED_SCORES) return sorted;
  return Array.from({ length: MAX_STORED_SCORES }, (_, i) =>
    sorted[Math.round((i * (sorted.length - 1)) / (MAX_STORED_SCORES - 1))],
  );
}

/** Returns the share of `ascending` values strictly below `value`, by binary search. */
function shareBelow(ascending: readonly number[], value: number): number {
  let low = 0;
  let high = ascending.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ascending[middle] < value) low = middle + 1;
    else high = middle;
  }
  return ascending.length === 0 ? 0 : low / ascending.length;
}

/**
 * Returns the scalar score a rule thresholds. For `both` it is min(rank of the
 * probability, rank of the similarity), where a rank is the share of impostors with a
 * lower value.
 */
function combineScores(
  rule: Pick<OpenSetRule, 'score' | 'impostorProbabilities' | 'impostorSimilarities'>,
  probability: number,
  similarity: number,
): number {
  switch (rule.score) {
    case 'probability':
      return probability;
    case 'similarity':
      return similarity;
    case 'both':
      return Math.min(shareBelow(rule.impostorProbabilities, probability), shareBelow(rule.impostorSimilarities, similarity));
  }
}

/** Decides one face: `probabilities` from the head, `feature` from the backbone. */
export type OpenSetDecide = (probabilities: Float32Array, feature: Float32Array) => OpenSetDecision;

/** Returns the decision function of a calibrated rule. */
export function createOpenSetDecider(rule: OpenSetRule, centroids: readonly Float32Array[]): OpenSetDecide {
  const classCount = centroids.length;
  return (probabilities, feature) => {
    if (!(probabilities instanceof Float32Array) || probabilities.length !== classCount) {
      throw invalidArgument('probabilities', `a Float32Array of ${classCount} class probabilities`, probabilities);
    }
    if (!(feature instanceof Float32Array) || feature.length !== centroids[0].length) {
      throw invalidArgument('feature', `a Float32Array of length ${centroids[0].length}`, feature);
    }
    const nearestLabel = argMax(probabilities);
    const probability = probabilities[nearestLabel];
    const similarity = cosineSimilarity(centerFeature(feature, rule.featureMean), centroids[nearestLabel]);
    const value = combineScores(rule, probability, similarity);
    return {
      label: value > rule.threshold ? nearestLabel : -1,
      confidence: shareBelow(rule.impostorScores, value),
      nearestLabel,
      probability,
      similarity,
    };
  };
}
