/**
 * `train()`: a dataset folder in, a saved model out. Scans the folder, prepares features
 * (cached), checks for duplicates and leakage, fits the head with early stopping,
 * calibrates the "unknown" rule, evaluates, and saves the model with its report.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type PrepareOptions, type PreparedImage, type MultiFacePolicy, prepareImages } from '../dataset/prepare.js';
import { quickAudit } from '../dataset/audit.js';
import { type ScannedDataset, scanDataset } from '../dataset/scan.js';
import type { FaceDetectorOptions } from '../detect/detector.js';
import { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError, invalidArgument } from '../errors.js';
import { type Logger, getDefaultLogger } from '../logger.js';
import type { ModelId } from '../models/registry.js';
import { type TrainedModel, checkModelDestination, saveModel } from '../store/model-store.js';
import { type FitEvent, type FitOptions, fitHead, summarizeFit } from './fit.js';
import { type ValidationMetrics, evaluateHead } from './metrics.js';
import { type OpenSetOptions, calibrateOpenSet, computeCentroids, createOpenSetDecider, featureMean } from './openset.js';
import { HeadModel } from './predict.js';
import { type ReportFiles, writeTrainingReport } from './report.js';

export interface TrainOptions extends FitOptions {
  /** Dataset folder: one sub-folder per person. Required. */
  dataset: string;
  /** Folder the model is saved to. Required. */
  output: string;
  /** Replace an existing model at `output`. Default false. */
  force?: boolean;
  /** Backbone model id. Default `faceres`. */
  backbone?: ModelId;
  /** Augmented views per training image. Default 5 (see `TRAIN_DEFAULTS`). */
  augment?: number;
  /** Share of each person's images used for validation when the dataset has no split folders. Default 0.2. */
  validationFraction?: number;
  /** Images with several faces: use the largest, or skip the image. Default `largest`. */
  multiFace?: MultiFacePolicy;
  /** Target share of strangers accepted as someone. Default 0.01. */
  maxFalseAccept?: number;
  openSetScore?: OpenSetOptions['score'];
  /** Feature cache folder, or false for none. Default: the user cache folder. */
  cacheDir?: string | false;
  detector?: Partial<FaceDetectorOptions>;
  alignMargin?: number;
  /** Reuse an open pipeline (its backbone and detector settings win over the options above). */
  pipeline?: FacePipeline;
  onEvent?: (event: TrainEvent) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

export const TRAIN_DEFAULTS = {
  /**
   * Augmented views per training image. Measured on the celebrity dev set (bench/run.ts,
   * section "training"): more views raise validation accuracy a little and cost one
   * backbone pass each, once, because views are cached.
   */
  augment: 5,
  multiFace: 'largest' as MultiFacePolicy,
  maxFalseAccept: 0.01,
};

export type FileIssue = { path: string; reason: string; code?: string };

export type TrainEvent =
  | { type: 'scan'; people: number; images: number; impostors: number; splitSource: ScannedDataset['splitSource'] }
  | { type: 'prepare'; done: number; total: number; path: string; status: PreparedImage['status']; cached: boolean }
  | { type: 'warning'; message: string; path?: string }
  | { type: 'fit'; event: FitEvent }
  | { type: 'calibrated'; method: string; score: string; threshold: number; falseAcceptRate: number; falseRejectRate: number }
  | { type: 'saved'; directory: string };

export interface TrainResult {
  directory: string;
  model: TrainedModel;
  metrics: ValidationMetrics;
  report: ReportFiles;
  /** Images left out, with the reason. */
  skipped: FileIssue[];
  /** Duplicates found by content hash. */
  duplicates: Array<{ kept: string; dropped: string; leakage: boolean }>;
  /** Seconds spent per stage. */
  timings: { prepare: number; fit: number; total: number };
}

/** Trains a recogniser on a dataset folder and saves it. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  if (typeof options.dataset !== 'string' || !options.dataset) throw invalidArgument('dataset', 'a folder path', options.dataset);
  if (typeof options.output !== 'string' || !options.output) throw invalidArgument('output', 'a folder path', options.output);
  const augment = options.augment ?? TRAIN_DEFAULTS.augment;
  if (!Number.isInteger(augment) || augment < 0 || augment > 100) throw invalidArgument('augment', 'an integer from 0 to 100', augment);
  const logger = options.logger ?? getDefaultLogger();
  const emit = (event: TrainEvent): void => options.onEvent?.(event);
  const warn = (message: string, file?: string): void => {
    logger.warn({ path: file }, message);
    emit({ type: 'warning', message, path: file });
  };

  // Refuse early: finding out after minutes of work that the model cannot be saved is no help.
  if (existsSync(options.output) && !options.force) {
    throw new FacekitError(
      'ERR_ALREADY_EXISTS',
      `${options.output} already exists. Choose another output folder or replace it with force: true (--force on the command line).`,
      { path: options.output },
    );
  }
  await checkModelDestination(options.output);

  const dataset = await scanDataset(options.dataset, { validationFraction: options.validationFraction, seed: options.seed });
  requireTwoPeople(dataset);
  emit({ type: 'scan', people: dataset.classNames.length, images: dataset.images.length, impostors: dataset.impostors.length, splitSource: dataset.splitSource });
  // The cheap part of `facekit dataset check` (counts, imbalance, empty files, exact
  // copies) runs first, so problems show before minutes of face detection.
  const audit = await quickAudit(dataset);
  for (const issue of audit.issues) warn(issue.message, issue.paths[0]);

  const ownPipeline = !options.pipeline;
  const pipeline = options.pipeline ?? (await FacePipeline.create({ backbone: options.backbone, detector: options.detector, alignMargin: options.alignMargin }));
  try {
    const prepareStart = performance.now();
    const trainImages = dataset.images.filter((i) => i.split === 'train');
    const valImages = dataset.images.filter((i) => i.split === 'val');
    const total = dataset.images.length + dataset.impostors.length;
    let done = 0;
    const common: PrepareOptions = {
      multiFace: options.multiFace ?? TRAIN_DEFAULTS.multiFace,
      cacheDir: options.cacheDir,
      seed: options.seed,
      signal: options.signal,
      onImage: (image) => emit({ type: 'prepare', done: ++done, total, path: image.path, status: image.status, cached: image.cached }),
    };
    const preparedTrain = await prepareImages(pipeline, trainImages.map((i) => i.path), { ...common, augmentViews: augment });
    const preparedVal = await prepareImages(pipeline, valImages.map((i) => i.path), common);
    const preparedImpostors = await prepareImages(pipeline, dataset.impostors, common);
    const prepareSeconds = (performance.now() - prepareStart) / 1000;

    const skipped: FileIssue[] = [];
    const report = (image: PreparedImage): boolean => {
      if (image.status === 'ok') {
        if (image.faceCount > 1) warn(`${image.path} holds ${image.faceCount} faces; the largest was used`, image.path);
        return true;
      }
      const reason =
        image.status === 'no-face'
          ? 'no face found'
          : image.status === 'multiple-faces'
            ? `${image.faceCount} faces found (multi-face policy: skip)`
            : (image.error?.message ?? 'could not be read');
      skipped.push({ path: image.path, reason, code: image.error?.code });
      warn(`Skipped ${image.path}: ${reason}`, image.path);
      return false;
    };

    // Exact duplicates by content hash: within a split, the first copy is kept. A
    // validation image that also appears in training is leakage, so it leaves validation.
    const duplicates: TrainResult['duplicates'] = [];
    const seen = new Map<string, { path: string; split: 'train' | 'val' }>();
    const keepTrain: number[] = [];
    preparedTrain.forEach((image, i) => {
      if (!report(image)) return;
      const first = seen.get(image.hash);
      if (first) {
        duplicates.push({ kept: first.path, dropped: image.path, leakage: false });
        warn(`${image.path} is a copy of ${first.path}; the copy is not used`, image.path);
        return;
      }
      seen.set(image.hash, { path: image.path, split: 'train' });
      keepTrain.push(i);
    });
    const keepVal: number[] = [];
    preparedVal.forEach((image, i) => {
      if (!report(image)) return;
      const first = seen.get(image.hash);
      if (first) {
        const leakage = first.split === 'train';
        duplicates.push({ kept: first.path, dropped: image.path, leakage });
        warn(
          leakage
            ? `${image.path} (validation) is a copy of training image ${first.path}: leakage, dropped from validation`
            : `${image.path} is a copy of ${first.path}; the copy is not used`,
          image.path,
        );
        return;
      }
      seen.set(image.hash, { path: image.path, split: 'val' });
      keepVal.push(i);
    });
    const impostorFeatures = preparedImpostors.filter((image) => report(image)).map((image) => image.features[0]!);

    const classNames = dataset.classNames;
    const trainFeatures: Float32Array[] = [];
    const trainLabels: number[] = [];
    const firstViews: Float32Array[] = [];
    const firstViewLabels: number[] = [];
    for (const i of keepTrain) {
      const label = trainImages[i]!.label;
      for (const feature of preparedTrain[i]!.features) {
        trainFeatures.push(feature);
        trainLabels.push(label);
      }
      firstViews.push(preparedTrain[i]!.features[0]!);
      firstViewLabels.push(label);
    }
    const valFeatures = keepVal.map((i) => preparedVal[i]!.features[0]!);
    const valLabels = keepVal.map((i) => valImages[i]!.label);

    classNames.forEach((name, label) => {
      if (!firstViewLabels.includes(label)) {
        throw new FacekitError(
          'ERR_DATASET',
          `Person ${name} has no training image with a usable face (folder ${path.join(dataset.root, name)}); add photos where the face is visible or remove the folder`,
          { path: path.join(dataset.root, name) },
        );
      }
    });
    if (valFeatures.length === 0) {
      throw new FacekitError(
        'ERR_DATASET',
        `Dataset ${dataset.root} leaves no validation image with a usable face; give each person at least two photos so one can be held out`,
        { path: dataset.root },
      );
    }

    const fitStart = performance.now();
    const fit = await fitHead(
      { train: { features: trainFeatures, labels: trainLabels, classNames }, validation: { features: valFeatures, labels: valLabels, classNames } },
      pickFitOptions(options),
      { onEvent: (event) => emit({ type: 'fit', event }), signal: options.signal },
    );
    const fitSeconds = (performance.now() - fitStart) / 1000;

    const head = new HeadModel(fit.head);
    const mean = featureMean(firstViews);
    const centroids = computeCentroids(firstViews, firstViewLabels, classNames.length, mean);
    const openSet = calibrateOpenSet(
      { head, centroids, featureMean: mean, validation: { features: valFeatures, labels: valLabels }, impostors: impostorFeatures },
      { maxFalseAccept: options.maxFalseAccept ?? TRAIN_DEFAULTS.maxFalseAccept, score: options.openSetScore },
    );
    const calibration = openSet.calibration;
    emit({
      type: 'calibrated',
      method: calibration.method,
      score: openSet.score,
      threshold: openSet.threshold,
      falseAcceptRate: calibration.falseAcceptRate,
      falseRejectRate: calibration.falseRejectRate,
    });
    const decide = createOpenSetDecider(openSet, centroids);
    const metrics = evaluateHead(head, { features: valFeatures, labels: valLabels }, { decide, impostors: impostorFeatures });

    const spec = pipeline.embedder.spec;
    const model: TrainedModel = {
      classNames,
      backbone: {
        id: spec.id,
        sha256: spec.weightsSha256,
        featureSize: pipeline.embedder.featureSize,
        inputSize: { width: spec.inputSize, height: spec.inputSize },
        pixelScaling: { scale: spec.scale, offset: spec.offset },
      },
      alignmentTemplateId: alignmentTemplateId(pipeline.alignMargin),
      head: fit.head,
      centroids,
      openSet,
      training: summarizeFit(fit),
      metrics,
    };
    if (options.signal?.aborted) throw new FacekitError('ERR_CANCELLED', 'Training was cancelled before the model was saved');
    const directory = await saveModel(options.output, model, { force: options.force });
    const reportFiles = await writeTrainingReport(directory, { classNames, history: fit.history, training: model.training, metrics, openSet });
    emit({ type: 'saved', directory });
    return {
      directory,
      model,
      metrics,
      report: reportFiles,
      skipped,
      duplicates,
      timings: { prepare: prepareSeconds, fit: fitSeconds, total: (performance.now() - started) / 1000 },
    };
  } finally {
    if (ownPipeline) await pipeline.dispose();
  }
}

const FIT_OPTION_KEYS = [
  'architecture',
  'engine',
  'optimizer',
  'learningRate',
  'batchSize',
  'maxEpochs',
  'patience',
  'minDelta',
  'dropout',
  'classWeighting',
  'seed',
  'checkpointPath',
] as const satisfies ReadonlyArray<keyof FitOptions>;

function pickFitOptions(options: TrainOptions): FitOptions {
  const picked: Record<string, unknown> = {};
  for (const key of FIT_OPTION_KEYS) if (options[key] !== undefined) picked[key] = options[key];
  return picked as FitOptions;
}

function requireTwoPeople(dataset: ScannedDataset): void {
  const count = dataset.classNames.length;
  if (count === 0) {
    throw new FacekitError(
      'ERR_DATASET',
      `Dataset ${dataset.root} holds no person folders; create one sub-folder per person with their photos inside`,
      { path: dataset.root },
    );
  }
  if (count === 1) {
    throw new FacekitError(
      'ERR_DATASET',
      `Dataset ${dataset.root} holds one person (${dataset.classNames[0]}); a classifier needs at least two people to tell apart`,
      { path: dataset.root },
    );
  }
  const withoutImages = dataset.classNames.filter((_, label) => !dataset.images.some((image) => image.label === label));
  if (withoutImages.length > 0) {
    throw new FacekitError(
      'ERR_DATASET',
      `Person folder ${path.join(dataset.root, withoutImages[0]!)} holds no images; add photos or remove the folder`,
      { path: path.join(dataset.root, withoutImages[0]!) },
    );
  }
}

/** Template id stored in the model; it carries the margin so recognition crops the same way. */
export function alignmentTemplateId(margin: number): string {
  return `blazeface-4pt-margin-${margin}`;
}

/** Reads the margin back from a template id written by `alignmentTemplateId`. */
export function marginFromTemplateId(id: string): number {
  const match = /^blazeface-4pt-margin-([0-9.]+)$/.exec(id);
  if (!match) {
    throw new FacekitError('ERR_MODEL_MISMATCH', `Alignment template ${id} is not one this facekit version knows; retrain the model with this version`);
  }
  return Number(match[1]);
}
