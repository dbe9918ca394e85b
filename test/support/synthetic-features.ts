/**
 * Synthetic backbone features for tests: isotropic Gaussian clusters around random
 * centres. With `spread` 0.5 in 64 dimensions, a sample's cosine similarity to its own
 * centre is about 0.9 and to another centre about 0 ± 0.15, so classes are well separated.
 */

import { createRandom, nextGaussian, type RandomSource } from '../../src/train/random.js';

export interface Clusters {
  centres: Float32Array[];
  random: RandomSource;
  dimension: number;
  spread: number;
}

/** Draws `count` cluster centres with standard normal coordinates. */
export function makeClusters(count: number, dimension: number, seed: number, spread = 0.5): Clusters {
  const random = createRandom(seed);
  const centres = Array.from({ length: count }, () => Float32Array.from({ length: dimension }, () => nextGaussian(random)));
  return { centres, random, dimension, spread };
}

/** Draws `perCluster` samples around each centre; labels are cluster indices. */
export function sampleClusters(clusters: Clusters, perCluster: number): { features: Float32Array[]; labels: number[] } {
  const features: Float32Array[] = [];
  const labels: number[] = [];
  clusters.centres.forEach((centre, label) => {
    for (let i = 0; i < perCluster; i++) {
      features.push(Float32Array.from(centre, (value) => value + clusters.spread * nextGaussian(clusters.random)));
      labels.push(label);
    }
  });
  return { features, labels };
}

/** Returns a labelled data set in the shape `fitHead` takes. */
export function makeDataSet(
  classCount: number,
  dimension: number,
  trainPerClass: number,
  validationPerClass: number,
  seed: number,
): { clusters: Clusters; train: LabelledSet; validation: LabelledSet } {
  const clusters = makeClusters(classCount, dimension, seed);
  const classNames = Array.from({ length: classCount }, (_, i) => `person-${i}`);
  return {
    clusters,
    train: { ...sampleClusters(clusters, trainPerClass), classNames },
    validation: { ...sampleClusters(clusters, validationPerClass), classNames },
  };
}

export interface LabelledSet {
  features: Float32Array[];
  labels: number[];
  classNames: string[];
}
