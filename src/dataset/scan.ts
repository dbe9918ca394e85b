/**
 * Dataset folders as Keras `flow_from_directory` reads them: one sub-folder per person,
 * the folder name is the label. Optional `train/` and `val/` (or `validation/`) folders
 * give a fixed split. An `_unknown/` folder contains faces of people in none of the
 * classes, used to calibrate the "unknown" decision.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { FacekitError, invalidArgument } from '../errors.js';
import { createRandom, shuffleInPlace } from '../train/random.js';

/** File extensions read as images (lower case): the formats sharp decodes. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

/** Name of the folder whose faces belong to none of the classes. */
export const UNKNOWN_FOLDER = '_unknown';

export type Split = 'train' | 'val';

export interface DatasetImage {
  path: string;
  /** Class index into `classNames`. */
  label: number;
  split: Split;
}

export interface ScannedDataset {
  root: string;
  /** Person names, sorted by code point so that class indices are stable. */
  classNames: string[];
  images: DatasetImage[];
  /** Images in `_unknown/` (and `train|val/_unknown/`): impostors for open-set calibration. */
  impostors: string[];
  /** Source of the train/validation split: split folders, or the seeded random split. */
  splitSource: 'folders' | 'random';
  /** Files inside person folders that are not images, with the reason. */
  ignored: Array<{ path: string; reason: string }>;
}

export interface ScanOptions {
  /** Share of each person's images held out for validation when no split folders exist. Default 0.2. */
  validationFraction?: number;
  /** Seed of the stratified split. Default 42. */
  seed?: number;
}

export const SCAN_DEFAULTS = { validationFraction: 0.2, seed: 42 };

/** Scans a dataset folder and assigns every image to the training or validation split. */
export async function scanDataset(root: string, options: ScanOptions = {}): Promise<ScannedDataset> {
  const validationFraction = options.validationFraction ?? SCAN_DEFAULTS.validationFraction;
  const seed = options.seed ?? SCAN_DEFAULTS.seed;
  if (typeof validationFraction !== 'number' || !(validationFraction >= 0 && validationFraction < 1)) {
    throw invalidArgument('validationFraction', 'a number in [0, 1)', validationFraction);
  }
  if (!Number.isInteger(seed)) throw invalidArgument('seed', 'an integer', seed);
  await requireFolder(root, 'Dataset folder');

  const top = await listFolders(root);
  const trainFolder = top.find((name) => name === 'train');
  const valFolder = top.find((name) => name === 'val' || name === 'validation');
  const ignored: ScannedDataset['ignored'] = [];
  const impostors: string[] = [];

  if (trainFolder && valFolder) {
    const train = await scanPeople(path.join(root, trainFolder), ignored, impostors);
    const val = await scanPeople(path.join(root, valFolder), ignored, impostors);
    const rootUnknown = top.includes(UNKNOWN_FOLDER) ? await listImages(path.join(root, UNKNOWN_FOLDER), ignored) : [];
    impostors.push(...rootUnknown);
    const classNames = sortNames([...new Set([...train.keys(), ...val.keys()])]);
    const images: DatasetImage[] = [];
    for (const [split, people] of [['train', train], ['val', val]] as const) {
      for (const [name, files] of people) {
        const label = classNames.indexOf(name);
        for (const file of files) images.push({ path: file, label, split });
      }
    }
    return { root, classNames, images, impostors, splitSource: 'folders', ignored };
  }

  const people = await scanPeople(root, ignored, impostors);
  const classNames = sortNames([...people.keys()]);
  const random = createRandom(seed);
  const images: DatasetImage[] = [];
  for (const name of classNames) {
    const files = people.get(name)!;
    const label = classNames.indexOf(name);
    const order = shuffleInPlace([...files], random);
    const valCount = validationCount(files.length, validationFraction);
    order.forEach((file, i) => images.push({ path: file, label, split: i < valCount ? 'val' : 'train' }));
  }
  images.sort((a, b) => a.label - b.label || compareNames(a.path, b.path));
  return { root, classNames, images, impostors, splitSource: 'random', ignored };
}

/**
 * Validation images for a person with `count` images: the rounded fraction, but at least
 * one when the person has two or more images and never all of them.
 */
export function validationCount(count: number, fraction: number): number {
  if (count < 2 || fraction === 0) return 0;
  return Math.min(count - 1, Math.max(1, Math.round(count * fraction)));
}

async function scanPeople(folder: string, ignored: ScannedDataset['ignored'], impostors: string[]): Promise<Map<string, string[]>> {
  const people = new Map<string, string[]>();
  for (const name of await listFolders(folder)) {
    const files = await listImages(path.join(folder, name), ignored);
    if (name === UNKNOWN_FOLDER) impostors.push(...files);
    else people.set(name.normalize('NFC'), files);
  }
  return people;
}

/** Image files under `folder`, recursively, sorted; hidden files and folders are skipped. */
export async function listImages(folder: string, ignored: ScannedDataset['ignored'] = []): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(folder, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) found.push(...(await listImages(full, ignored)));
    else if (entry.isFile() || entry.isSymbolicLink()) {
      if (IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) found.push(full);
      else ignored.push({ path: full, reason: `extension ${path.extname(entry.name) || '(none)'} is not an image type facekit reads` });
    }
  }
  return found.sort(compareNames);
}

async function listFolders(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(compareNames);
}

export async function requireFolder(folder: string, what: string): Promise<void> {
  let info;
  try {
    info = await stat(folder);
  } catch {
    throw new FacekitError('ERR_FILE_NOT_FOUND', `${what} ${folder} does not exist; check the path`, { path: folder });
  }
  if (!info.isDirectory()) {
    throw new FacekitError('ERR_INVALID_ARGUMENT', `${what} ${folder} is a file, not a folder; pass the folder that contains one sub-folder per person`, {
      path: folder,
    });
  }
}

/** Compares by UTF-16 code units, so the order does not depend on the locale. */
function compareNames(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function sortNames(names: string[]): string[] {
  return names.sort(compareNames);
}
