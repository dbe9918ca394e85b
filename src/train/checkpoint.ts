/**
 * The checkpoint file `fitHead` writes when validation loss improves: one JSON document
 * with the head's weights as base64 float32 little-endian, so a crashed run keeps its
 * best epoch. It contains no backbone or open-set data, because `saveModel` writes complete models.
 */

import fs from 'node:fs/promises';

import { FacekitError, isFacekitError } from '../errors.js';
import type { HeadParameters } from './head.js';
import { validateHeadParameters } from './predict.js';

export const CHECKPOINT_FORMAT = 'facekit-head-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface HeadCheckpoint {
  head: HeadParameters;
  /** Epoch (from 1) the weights come from. */
  epoch: number;
  /** Validation loss of that epoch, in nats. */
  valLoss: number;
  classNames: string[];
}

/** Encodes a checkpoint as UTF-8 JSON bytes. */
export function encodeHeadCheckpoint(head: HeadParameters, meta: Omit<HeadCheckpoint, 'head'>): Buffer {
  const document = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    epoch: meta.epoch,
    valLoss: meta.valLoss,
    classNames: meta.classNames,
    head: {
      architecture: head.architecture,
      inputNormalization: head.inputNormalization,
      layers: head.layers.map((layer) => ({
        inputSize: layer.inputSize,
        outputSize: layer.outputSize,
        activation: layer.activation,
        kernel: toBase64(layer.kernel),
        bias: toBase64(layer.bias),
      })),
    },
  };
  return Buffer.from(JSON.stringify(document));
}

/** Reads a checkpoint written by `fitHead`. Raises ERR_MODEL_INVALID naming the file when it is damaged. */
export async function readHeadCheckpoint(filePath: string): Promise<HeadCheckpoint> {
  const invalid = (reason: string, cause?: unknown): FacekitError =>
    new FacekitError('ERR_MODEL_INVALID', `Invalid checkpoint file ${filePath}: ${reason}.`, { path: filePath, cause });

  let document: any;
  try {
    document = JSON.parse(await fs.readFile(filePath, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FacekitError('ERR_FILE_NOT_FOUND', `No checkpoint file at ${filePath}.`, { path: filePath, cause: error });
    }
    throw invalid(`not readable JSON (${(error as Error).message})`, error);
  }
  if (document?.format !== CHECKPOINT_FORMAT || document.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw invalid(`expected format ${CHECKPOINT_FORMAT} version ${CHECKPOINT_FORMAT_VERSION}`);
  }
  if (!Number.isInteger(document.epoch) || document.epoch < 1) throw invalid('field epoch must be an integer ≥ 1');
  if (typeof document.valLoss !== 'number' || !Number.isFinite(document.valLoss)) throw invalid('field valLoss must be a finite number');
  if (!Array.isArray(document.classNames) || !document.classNames.every((name: unknown) => typeof name === 'string')) {
    throw invalid('field classNames must be an array of strings');
  }
  if (!Array.isArray(document.head?.layers)) throw invalid('field head.layers must be an array');

  const head: HeadParameters = {
    architecture: document.head.architecture,
    inputNormalization: document.head.inputNormalization,
    layers: document.head.layers.map((layer: any) => ({
      inputSize: layer?.inputSize,
      outputSize: layer?.outputSize,
      activation: layer?.activation,
      kernel: fromBase64(layer?.kernel),
      bias: fromBase64(layer?.bias),
    })),
  };
  try {
    validateHeadParameters(head);
  } catch (error) {
    if (!isFacekitError(error, 'ERR_INVALID_ARGUMENT')) throw error;
    throw invalid(error.message, error);
  }
  return { head, epoch: document.epoch, valLoss: document.valLoss, classNames: document.classNames };
}

function toBase64(values: Float32Array): string {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i], i * 4);
  return bytes.toString('base64');
}

/** Decodes base64 float32 little-endian. Anything but a string of whole floats gives an empty array, which validation then rejects. */
function fromBase64(text: unknown): Float32Array {
  if (typeof text !== 'string') return new Float32Array(0);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) return new Float32Array(0);
  const values = new Float32Array(bytes.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = bytes.readFloatLE(i * 4);
  return values;
}
