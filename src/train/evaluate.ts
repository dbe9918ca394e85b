/**
 * `evaluateModel`: runs a saved model on a labelled folder and measures it. Folders named
 * after people in the model are genuine samples. `_unknown/` and the folders of people
 * outside the model are strangers, which should come out as unknown.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { prepareImages, type PreparedImage } from '../dataset/prepare.js';
import { UNKNOWN_FOLDER, listImages, requireFolder } from '../dataset/scan.js';
import { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError } from '../errors.js';
import { requireInstalledBackbone } from '../recognize/recognizer.js';
import { type LoadedModel, loadModel } from '../store/model-store.js';
import { type ValidationMetrics, evaluateHead } from './metrics.js';
import { createOpenSetDecider } from './openset.js';
import { HeadModel } from './predict.js';
import { marginFromTemplateId } from './train.js';

export interface EvaluateOptions {
  /** Trained model folder or a loaded model. */
  model: string | LoadedModel;
  /** Labelled folder: one sub-folder per person. */
  dataset: string;
  /** Feature cache folder, or false. Default: the user cache folder. */
  cacheDir?: string | false;
  signal?: AbortSignal;
  onImage?: (image: PreparedImage, done: number, total: number) => void;
}

export interface EvaluationReport {
  model: string;
  dataset: string;
  classNames: string[];
  metrics: ValidationMetrics;
  /** People in the dataset the model does not know; their faces count as strangers. */
  strangerFolders: string[];
  /** Images without a usable face or that could not be read. */
  skipped: Array<{ path: string; reason: string }>;
}

export async function evaluateModel(options: EvaluateOptions): Promise<EvaluationReport> {
  const model = typeof options.model === 'string' ? await loadModel(options.model) : options.model;
  await requireFolder(options.dataset, 'Evaluation folder');
  const folders = (await readdir(options.dataset, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  const genuine: Array<{ path: string; label: number }> = [];
  const strangers: string[] = [];
  const strangerFolders: string[] = [];
  for (const folder of folders.sort()) {
    const files = await listImages(path.join(options.dataset, folder));
    const label = model.classNames.indexOf(folder.normalize('NFC'));
    if (label >= 0) files.forEach((file) => genuine.push({ path: file, label }));
    else {
      strangers.push(...files);
      if (folder !== UNKNOWN_FOLDER) strangerFolders.push(folder);
    }
  }
  if (genuine.length === 0) {
    throw new FacekitError(
      'ERR_DATASET',
      `${options.dataset} holds no folder named after a person the model knows (${model.classNames.slice(0, 5).join(', ')}${model.classNames.length > 5 ? ', …' : ''})`,
      { path: options.dataset },
    );
  }

  // The backbone is checked before any session opens.
  const spec = requireInstalledBackbone(model);
  const pipeline = await FacePipeline.create({ backbone: spec.id, alignMargin: marginFromTemplateId(model.alignmentTemplateId) });
  try {
    const total = genuine.length + strangers.length;
    let done = 0;
    const common = { cacheDir: options.cacheDir, signal: options.signal, onImage: (image: PreparedImage) => options.onImage?.(image, ++done, total) };
    const preparedGenuine = await prepareImages(pipeline, genuine.map((g) => g.path), common);
    const preparedStrangers = await prepareImages(pipeline, strangers, common);
    const skipped: EvaluationReport['skipped'] = [];
    const usable = (image: PreparedImage): boolean => {
      if (image.status === 'ok') return true;
      skipped.push({ path: image.path, reason: image.status === 'no-face' ? 'no face found' : (image.error?.message ?? image.status) });
      return false;
    };
    const features: Float32Array[] = [];
    const labels: number[] = [];
    preparedGenuine.forEach((image, i) => {
      if (!usable(image)) return;
      features.push(image.features[0]!);
      labels.push(genuine[i]!.label);
    });
    const impostors = preparedStrangers.filter(usable).map((image) => image.features[0]!);
    if (features.length === 0) {
      throw new FacekitError('ERR_DATASET', `No image in ${options.dataset} has a usable face`, { path: options.dataset });
    }
    const head = new HeadModel(model.head);
    const decide = createOpenSetDecider(model.openSet, model.centroids);
    const metrics = evaluateHead(head, { features, labels }, { decide, impostors });
    return { model: model.directory, dataset: options.dataset, classNames: model.classNames, metrics, strangerFolders, skipped };
  } finally {
    await pipeline.dispose();
  }
}
