/**
 * Trained models on disk. A model is a directory:
 *
 * - `manifest.json`: format version, facekit version and creation time. Then the backbone
 *   (id, SHA-256 of its weights, feature size, input size, pixel scaling), the alignment
 *   template and the class names. Then the head architecture with the byte offsets of its
 *   weights, the open-set rule and its calibration, the training summary and the
 *   validation metrics;
 * - `head.bin`: the head's kernels and biases, float32 little-endian, at the offsets
 *   listed in the manifest;
 * - `centroids.bin`: one centroid per class, float32 little-endian, class order.
 *
 * `saveModel` writes everything to a temporary sibling directory, fsyncs it, then
 * renames it into place, so a crash leaves either the old model or the new one.
 * `loadModel` checks every manifest field and both files' sizes and SHA-256 digests.
 */

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { FacekitError, describeValue, invalidArgument, isFacekitError } from '../errors.js';
import type { TrainingSummary } from '../train/fit.js';
import type { HeadParameters } from '../train/head.js';
import type { ValidationMetrics } from '../train/metrics.js';
import type { OpenSetRule } from '../train/openset.js';
import { validateHeadParameters } from '../train/predict.js';
import { VERSION } from '../version.js';
import { validateManifest, type ModelManifest } from './model-manifest.js';

/** Format version this facekit writes and reads. A change in layout or meaning bumps it. */
export const MODEL_FORMAT_VERSION = 1;

export const MANIFEST_FILE = 'manifest.json';
export const HEAD_FILE = 'head.bin';
export const CENTROIDS_FILE = 'centroids.bin';

/** The frozen backbone a model's features come from. */
export interface BackboneDescriptor {
  /** Registry id, for example `faceres`. */
  id: string;
  /** SHA-256 of the backbone's weight file(s), 64 lowercase hex digits. */
  sha256: string;
  /** Length of the feature vector the head reads. */
  featureSize: number;
  /** Backbone input in pixels. */
  inputSize: { width: number; height: number };
  /** Input value = RGB pixel (0–255) × scale + offset. For example scale 1/127.5, offset −1 maps to [−1, 1]. */
  pixelScaling: { scale: number; offset: number };
}

/** Everything a recogniser needs, in memory. */
export interface TrainedModel {
  /** Class (person) names, where index i names class i. */
  classNames: string[];
  backbone: BackboneDescriptor;
  /** Id of the keypoint template faces were aligned to. */
  alignmentTemplateId: string;
  head: HeadParameters;
  /** One unit-length centroid per class, `backbone.featureSize` values each. */
  centroids: Float32Array[];
  openSet: OpenSetRule;
  training: TrainingSummary;
  metrics: ValidationMetrics;
}

/** A model read from disk, with the fields the store adds. */
export interface LoadedModel extends TrainedModel {
  formatVersion: number;
  facekitVersion: string;
  /** ISO 8601 time of saving, UTC. */
  createdAt: string;
  /** Absolute path of the model directory. */
  directory: string;
}

export interface SaveModelOptions {
  /** Replace an existing model at the path. Default false: saving over a model raises ERR_ALREADY_EXISTS. */
  force?: boolean;
}

export interface LoadModelOptions {
  /** Raise ERR_MODEL_MISMATCH unless the model was trained on this backbone (id and weight digest). */
  expectedBackbone?: { id: string; sha256: string };
}

/**
 * Saves `model` as a directory at `directory` and returns its absolute path.
 *
 * Raises ERR_ALREADY_EXISTS when the path exists, unless `force` is set and the path is a
 * facekit model. A directory without `manifest.json` is never replaced. With `force`,
 * the old model is renamed aside, the new one renamed into place, and only then is the
 * old one deleted. If the second rename fails, the old model is renamed back.
 * NOTE: between the two renames no model exists at the path, because Node has no atomic
 * exchange of two directories. A crash in that moment leaves the old model at a hidden
 * `.<name>.old-*` sibling.
 * Write errors raise ERR_WRITE_FAILED and leave no temporary directory behind.
 */
/**
 * Checks, before any work, that a model folder could be saved at `directory`: an existing
 * `directory` must be a model (which `force` replaces), and its nearest existing ancestor a
 * folder that this process can write to. Raises ERR_ALREADY_EXISTS or ERR_WRITE_FAILED
 * otherwise. `saveModel` still reports any later failure.
 */
export async function checkModelDestination(directory: string): Promise<void> {
  const target = path.resolve(directory);
  const statOrFail = async (filePath: string): Promise<import('node:fs').Stats | null> => {
    try {
      return await statOrNull(filePath);
    } catch (error) {
      throw writeFailed(`Cannot create the model folder ${target}: ${filePath} cannot be read`, target, error);
    }
  };
  // An existing target may only be replaced (force) when it is a model.
  const existing = await statOrFail(target);
  if (existing && !(existing.isDirectory() && (await statOrFail(path.join(target, MANIFEST_FILE))))) {
    throw new FacekitError('ERR_ALREADY_EXISTS', `${target} exists and is not a facekit model (no ${MANIFEST_FILE}), so it will not be replaced. Choose another path.`, {
      path: target,
    });
  }
  let ancestor = path.dirname(target);
  let info = await statOrFail(ancestor);
  while (!info && path.dirname(ancestor) !== ancestor) {
    ancestor = path.dirname(ancestor);
    info = await statOrFail(ancestor);
  }
  if (info && !info.isDirectory()) {
    throw new FacekitError('ERR_WRITE_FAILED', `Cannot create the model folder ${target}: ${ancestor} is a file, not a folder. Choose another output path.`, {
      path: target,
    });
  }
  try {
    await fs.access(ancestor, fs.constants.W_OK);
  } catch (error) {
    throw writeFailed(`Cannot create the model folder ${target}: ${ancestor} is not writable`, target, error);
  }
}

export async function saveModel(directory: string, model: TrainedModel, options: SaveModelOptions = {}): Promise<string> {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw invalidArgument('directory', 'a non-empty path', directory);
  }
  const force = options.force ?? false;
  validateModelForSave(model);

  const target = path.resolve(directory);
  const parent = path.dirname(target);
  const existing = await statOrNull(target);
  if (existing && !force) {
    throw new FacekitError('ERR_ALREADY_EXISTS', `A model already exists at ${target}. Choose another path or replace it with force: true (--force on the command line).`, { path: target });
  }
  if (existing && !(await statOrNull(path.join(target, MANIFEST_FILE)))) {
    throw new FacekitError('ERR_ALREADY_EXISTS', `${target} exists and is not a facekit model (no ${MANIFEST_FILE}), so it will not be replaced. Choose another path.`, { path: target });
  }

  const { headBytes, manifest, centroidBytes } = encodeModel(model);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temporary = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);

  try {
    await fs.mkdir(parent, { recursive: true });
    await fs.mkdir(temporary);
    await writeAndSync(path.join(temporary, HEAD_FILE), headBytes);
    await writeAndSync(path.join(temporary, CENTROIDS_FILE), centroidBytes);
    // The manifest goes last: a directory with a manifest has all its files.
    await writeAndSync(path.join(temporary, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    await syncDirectory(temporary);
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true });
    throw writeFailed(`Saving the model to ${target} failed`, target, error);
  }

  if (!existing) {
    try {
      await fs.rename(temporary, target);
    } catch (error) {
      await fs.rm(temporary, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new FacekitError('ERR_ALREADY_EXISTS', `A model appeared at ${target} while saving. Choose another path or replace it with force: true (--force on the command line).`, { path: target, cause: error });
      }
      throw writeFailed(`Moving the saved model into ${target} failed`, target, error);
    }
    await syncDirectory(parent);
    return target;
  }

  const previous = path.join(parent, `.${path.basename(target)}.old-${suffix}`);
  try {
    await fs.rename(target, previous);
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true });
    throw writeFailed(`Moving the old model at ${target} aside failed`, target, error);
  }
  try {
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true });
    try {
      await fs.rename(previous, target);
    } catch (restoreError) {
      throw writeFailed(`Moving the new model into ${target} failed, and so did restoring the old model, which is now at ${previous}`, target, restoreError);
    }
    throw writeFailed(`Moving the new model into ${target} failed. The old model was restored`, target, error);
  }
  await syncDirectory(parent);
  await fs.rm(previous, { recursive: true, force: true });
  return target;
}

/**
 * Loads and validates the model in `directory`. Raises ERR_FILE_NOT_FOUND when the
 * directory is missing, ERR_MODEL_INVALID (naming the file and field) when anything is
 * missing, malformed or inconsistent, and ERR_MODEL_MISMATCH for another format version
 * or a backbone other than `expectedBackbone`.
 */
export async function loadModel(directory: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const root = path.resolve(directory);
  if (!(await statOrNull(root))?.isDirectory()) {
    throw new FacekitError('ERR_FILE_NOT_FOUND', `No model folder at ${root}; check the path, or train a model there with facekit train`, { path: root });
  }

  const manifestPath = path.join(root, MANIFEST_FILE);
  const manifestText = await readModelFile(manifestPath);
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText.toString('utf8'));
  } catch (error) {
    throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${manifestPath}: not valid JSON (${(error as Error).message}).`, { path: manifestPath, cause: error });
  }
  const manifest = validateManifest(parsed, manifestPath, MODEL_FORMAT_VERSION);

  const expected = options.expectedBackbone;
  if (expected && (manifest.backbone.id !== expected.id || manifest.backbone.sha256 !== expected.sha256.toLowerCase())) {
    throw new FacekitError(
      'ERR_MODEL_MISMATCH',
      `The model at ${root} was trained on backbone ${manifest.backbone.id} (weights sha256 ${manifest.backbone.sha256}), ` +
        `not on ${expected.id} (sha256 ${expected.sha256}). Retrain it on this backbone or load the backbone it was made for.`,
      { path: root },
    );
  }

  const headPath = path.join(root, manifest.head.file);
  const headBytes = await readBinary(headPath, manifest.head.byteLength, manifest.head.sha256);
  const head: HeadParameters = {
    architecture: manifest.head.architecture,
    inputNormalization: manifest.head.inputNormalization,
    // The manifest validator has checked that these ranges tile head.bin exactly.
    layers: manifest.head.layers.map((layer) => ({
      inputSize: layer.inputSize,
      outputSize: layer.outputSize,
      activation: layer.activation,
      kernel: readFloat32LE(headBytes, layer.kernelOffset, layer.inputSize * layer.outputSize),
      bias: readFloat32LE(headBytes, layer.biasOffset, layer.outputSize),
    })),
  };
  try {
    validateHeadParameters(head);
  } catch (error) {
    if (!isFacekitError(error, 'ERR_INVALID_ARGUMENT')) throw error;
    // Shapes were checked with the manifest, so what fails here is a weight value.
    const detail = error.message.replace(/^Invalid /, '');
    throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${headPath}: ${detail}.`, { path: headPath, cause: error });
  }
  const headInput = head.layers[0].inputSize;
  const headOutput = head.layers[head.layers.length - 1].outputSize;
  if (headInput !== manifest.backbone.featureSize) {
    throw invalidModel(manifestPath, 'head.layers[0].inputSize', `backbone.featureSize (${manifest.backbone.featureSize})`, headInput);
  }
  if (headOutput !== manifest.classNames.length) {
    throw invalidModel(manifestPath, `head.layers[${head.layers.length - 1}].outputSize`, `the number of classNames (${manifest.classNames.length})`, headOutput);
  }

  const centroidsPath = path.join(root, manifest.centroids.file);
  const { count, dimension } = manifest.centroids;
  if (count !== manifest.classNames.length) {
    throw invalidModel(manifestPath, 'centroids.count', `the number of classNames (${manifest.classNames.length})`, count);
  }
  if (dimension !== manifest.backbone.featureSize) {
    throw invalidModel(manifestPath, 'centroids.dimension', `backbone.featureSize (${manifest.backbone.featureSize})`, dimension);
  }
  if (manifest.centroids.byteLength !== count * dimension * 4) {
    throw invalidModel(manifestPath, 'centroids.byteLength', `count × dimension × 4 = ${count * dimension * 4}`, manifest.centroids.byteLength);
  }
  const centroidBytes = await readBinary(centroidsPath, manifest.centroids.byteLength, manifest.centroids.sha256);
  const centroids = Array.from({ length: count }, (_, index) => readFloat32LE(centroidBytes, index * dimension * 4, dimension));
  centroids.forEach((centroid, index) => {
    for (let i = 0; i < centroid.length; i++) {
      if (!Number.isFinite(centroid[i])) {
        throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${centroidsPath}: centroid ${index} value ${i} is ${centroid[i]}, expected a finite number.`, { path: centroidsPath });
      }
    }
  });

  return {
    formatVersion: manifest.formatVersion,
    facekitVersion: manifest.facekitVersion,
    createdAt: manifest.createdAt,
    directory: root,
    classNames: manifest.classNames,
    backbone: manifest.backbone,
    alignmentTemplateId: manifest.alignment.templateId,
    head,
    centroids,
    openSet: manifest.openSet,
    training: manifest.training,
    metrics: manifest.metrics,
  };
}

/**
 * Writes `data` to `filePath` atomically: to a temporary sibling file first, fsynced,
 * then renamed over the target. Raises ERR_WRITE_FAILED and removes the temporary file
 * on failure.
 */
export async function writeFileAtomic(filePath: string, data: Uint8Array): Promise<void> {
  const target = path.resolve(filePath);
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeAndSync(temporary, data);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw writeFailed(`Writing ${target} failed`, target, error);
  }
  await syncDirectory(path.dirname(target));
}

// ---------------------------------------------------------------------------------------
// Encoding

function validateModelForSave(model: TrainedModel): void {
  const invalid = (field: string, expected: string, received: unknown): FacekitError =>
    invalidArgument(`model.${field}`, expected, received);

  if (model === null || typeof model !== 'object') throw invalidArgument('model', 'a trained model object', model);
  validateHeadParameters(model.head, 'model.head');
  const featureSize = model.head.layers[0].inputSize;
  const classCount = model.head.layers[model.head.layers.length - 1].outputSize;
  if (!Array.isArray(model.classNames) || model.classNames.length !== classCount) {
    throw invalid('classNames', `${classCount} names, one per head output`, model.classNames);
  }
  if (model.backbone?.featureSize !== featureSize) {
    throw invalid('backbone.featureSize', `${featureSize}, the head's input size`, model.backbone?.featureSize);
  }
  if (!Array.isArray(model.centroids) || model.centroids.length !== classCount) {
    throw invalid('centroids', `${classCount} centroids, one per class`, model.centroids);
  }
  model.centroids.forEach((centroid, index) => {
    if (!(centroid instanceof Float32Array) || centroid.length !== featureSize) {
      throw invalid(`centroids[${index}]`, `a Float32Array of length ${featureSize}`, centroid);
    }
  });
  // The manifest validator checks the remaining fields, so what is saved can be loaded.
}

function encodeModel(model: TrainedModel): { manifest: ModelManifest; headBytes: Buffer; centroidBytes: Buffer } {
  const arrays: Float32Array[] = [];
  for (const layer of model.head.layers) arrays.push(layer.kernel, layer.bias);
  const headBytes = writeFloat32LE(arrays);

  let offset = 0;
  const layers = model.head.layers.map((layer) => {
    const kernelOffset = offset;
    offset += layer.kernel.length * 4;
    const biasOffset = offset;
    offset += layer.bias.length * 4;
    return { inputSize: layer.inputSize, outputSize: layer.outputSize, activation: layer.activation, kernelOffset, biasOffset };
  });
  const centroidBytes = writeFloat32LE(model.centroids);

  const manifest: ModelManifest = {
    formatVersion: MODEL_FORMAT_VERSION,
    facekitVersion: VERSION,
    createdAt: new Date().toISOString(),
    backbone: {
      id: model.backbone.id,
      sha256: typeof model.backbone.sha256 === 'string' ? model.backbone.sha256.toLowerCase() : model.backbone.sha256,
      featureSize: model.backbone.featureSize,
      inputSize: { ...model.backbone.inputSize },
      pixelScaling: { ...model.backbone.pixelScaling },
    },
    alignment: { templateId: model.alignmentTemplateId },
    classNames: [...model.classNames],
    head: {
      architecture: model.head.architecture,
      inputNormalization: model.head.inputNormalization,
      file: HEAD_FILE,
      byteLength: headBytes.length,
      sha256: sha256(headBytes),
      layers,
    },
    centroids: {
      file: CENTROIDS_FILE,
      byteLength: centroidBytes.length,
      sha256: sha256(centroidBytes),
      count: model.centroids.length,
      dimension: model.centroids[0].length,
    },
    openSet: model.openSet,
    training: model.training,
    metrics: model.metrics,
  };

  // Round-trip through JSON and the loader's validator, so that a model that saves also loads.
  try {
    validateManifest(JSON.parse(JSON.stringify(manifest)), MANIFEST_FILE, MODEL_FORMAT_VERSION);
  } catch (error) {
    if (!isFacekitError(error, 'ERR_MODEL_INVALID')) throw error;
    throw new FacekitError('ERR_INVALID_ARGUMENT', `Invalid model: ${error.message.replace(/^Invalid model file [^:]+: /, '')}`, { cause: error });
  }
  return { manifest, headBytes, centroidBytes };
}

/** Concatenates float32 arrays as little-endian bytes. */
function writeFloat32LE(arrays: readonly Float32Array[]): Buffer {
  const total = arrays.reduce((sum, array) => sum + array.length, 0);
  const bytes = Buffer.alloc(total * 4);
  let offset = 0;
  for (const array of arrays) {
    for (let i = 0; i < array.length; i++) {
      bytes.writeFloatLE(array[i], offset);
      offset += 4;
    }
  }
  return bytes;
}

function readFloat32LE(bytes: Buffer, byteOffset: number, length: number): Float32Array {
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) values[i] = bytes.readFloatLE(byteOffset + i * 4);
  return values;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// ---------------------------------------------------------------------------------------
// File helpers

/** Writes `data` to a new file and fsyncs it. Fails if the file exists. */
async function writeAndSync(filePath: string, data: Uint8Array): Promise<void> {
  const handle = await fs.open(filePath, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Fsyncs a directory so that renames in it survive a crash. Skipped where directories cannot be opened (Windows). */
async function syncDirectory(directory: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(directory, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw writeFailed(`Syncing ${directory} failed`, directory, error);
  } finally {
    await handle?.close();
  }
}

async function statOrNull(filePath: string): Promise<import('node:fs').Stats | null> {
  try {
    return await fs.stat(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

async function readModelFile(filePath: string): Promise<Buffer> {
  try {
    return await fs.readFile(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'the file is missing' : `it cannot be read (${code ?? (error as Error).message})`;
    throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${filePath}: ${reason}.`, { path: filePath, cause: error });
  }
}

async function readBinary(filePath: string, byteLength: number, digest: string): Promise<Buffer> {
  const bytes = await readModelFile(filePath);
  if (bytes.length !== byteLength) {
    throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${filePath}: ${bytes.length} bytes, but the manifest lists ${byteLength} (truncated or replaced).`, { path: filePath });
  }
  if (sha256(bytes) !== digest) {
    throw new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${filePath}: its SHA-256 differs from the manifest's (the file is damaged).`, { path: filePath });
  }
  return bytes;
}

function invalidModel(filePath: string, field: string, expected: string, received: unknown): FacekitError {
  return new FacekitError('ERR_MODEL_INVALID', `Invalid model file ${filePath}: field ${field} must equal ${expected}, found ${describeValue(received)}.`, { path: filePath });
}

function writeFailed(message: string, filePath: string, error: unknown): FacekitError {
  if (isFacekitError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new FacekitError('ERR_WRITE_FAILED', `${message}: ${code ?? (error as Error).message}. Check free space and permissions.`, { path: filePath, cause: error });
}
