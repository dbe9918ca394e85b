/**
 * Dataset audit: finds what would make training worse before it runs. `quickAudit` reads
 * only file sizes and bytes (counts, imbalance, empty files, exact duplicates), so
 * `facekit train` can run it first. `auditDataset` adds the face checks: unreadable
 * images, no face or several faces, the capture quality gates, near duplicates by backbone
 * feature, and likely mislabelled faces.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DetectedFace } from '../detect/detector.js';
import { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError, invalidArgument, isFacekitError, type ErrorCode } from '../errors.js';
import { decodeImage } from '../image/decode.js';
import { cosineSimilarity, l2Normalize, matmulTransposeB } from '../train/linalg.js';
import { type QualityGates, checkFaceQuality, resolveGates } from './capture.js';
import { prepareImage } from './prepare.js';
import { type ScannedDataset, UNKNOWN_FOLDER, scanDataset } from './scan.js';

/** Defaults of the audit's own checks. The face gates come from `CAPTURE_DEFAULTS`. */
export const AUDIT_DEFAULTS = Object.freeze({
  /** People with fewer images than this are flagged. 5 is a judgement call, not a measured limit. */
  minImagesPerPerson: 5,
  /** People with fewer images than this share of the median count are flagged. A judgement call. */
  minShareOfMedian: 0.5,
  /**
   * A sample is a likely mislabel when its cosine similarity to another person's centroid
   * exceeds the similarity to its own person's centroid (computed without it) by more than
   * this. On the @vladmandic/face-api demo photos, different people measured at most 0.65,
   * and crops of one person's photo 0.56–0.99 (median about 0.92), so a real mislabel
   * clears this margin by far. The margin only keeps near-ties from being reported.
   */
  mislabelMargin: 0.05,
});

/** Kinds of problems, in the order reports list them. */
export const AUDIT_ISSUE_KINDS = [
  'unreadable',
  'empty-file',
  'not-an-image',
  'few-images',
  'too-few-people',
  'no-face',
  'multiple-faces',
  'too-small',
  'not-frontal',
  'blurry',
  'exact-duplicate',
  'near-duplicate',
  'likely-mislabel',
] as const;

export type AuditIssueKind = (typeof AUDIT_ISSUE_KINDS)[number];

/** One problem found by the audit. */
export interface AuditIssue {
  kind: AuditIssueKind;
  /** `error`: training cannot use the image. `warning`: training runs but may do worse. */
  severity: 'error' | 'warning';
  /** One sentence on the problem and what to do. */
  message: string;
  /** People (folder names) involved; `_unknown` for strangers. */
  people: string[];
  /** Files involved, empty for `few-images` and `too-few-people`. */
  paths: string[];
  /** Error code of an unreadable image. */
  code?: ErrorCode;
  /** Cosine similarity of a near duplicate pair, or to the other person's centroid for a likely mislabel. */
  similarity?: number;
  /** For a likely mislabel: the person whose centroid the face is closest to. */
  closestPerson?: string;
  /** For a likely mislabel: similarity to its own person's centroid, computed without it. */
  ownSimilarity?: number;
}

export interface PersonAudit {
  name: string;
  imageCount: number;
  /** Images of this person that each kind of issue involves. */
  issueCounts: Record<AuditIssueKind, number>;
}

export interface AuditReport {
  /** `quick`: counts, sizes and hashes only. `full`: also faces and features. */
  depth: 'quick' | 'full';
  root: string;
  settings: {
    gates?: Pick<QualityGates, 'minFaceSizePx' | 'minSharpness' | 'maxYawRatio' | 'maxRollDeg' | 'maxSimilarity'>;
    minImagesPerPerson: number;
    minShareOfMedian: number;
    mislabelMargin?: number;
  };
  overall: {
    people: number;
    images: number;
    /** Images in `_unknown/`. */
    strangers: number;
    minCount: number;
    medianCount: number;
    maxCount: number;
    /** Largest image count divided by the smallest; null when a person has no images. */
    imbalanceRatio: number | null;
    issueCounts: Record<AuditIssueKind, number>;
  };
  /** People in name order, `_unknown` last when present. */
  people: PersonAudit[];
  issues: AuditIssue[];
}

export interface QuickAuditOptions {
  /** Default `AUDIT_DEFAULTS.minImagesPerPerson` (5). */
  minImagesPerPerson?: number;
  /** Default `AUDIT_DEFAULTS.minShareOfMedian` (0.5). */
  minShareOfMedian?: number;
}

export type AuditProgressEvent =
  | { type: 'scan'; people: number; images: number }
  | { type: 'image'; done: number; total: number; path: string; cached: boolean }
  | { type: 'compare'; images: number };

export interface AuditOptions extends QuickAuditOptions {
  /** Pipeline to use. Default: a new `FacePipeline` with default options, disposed at the end. */
  pipeline?: FacePipeline;
  /** Feature cache folder, or false for none. Default: the `prepareImages` default. */
  cacheDir?: string | false;
  /** Gate overrides; see `CAPTURE_DEFAULTS`. `maxSimilarity` sets the near-duplicate threshold. */
  gates?: Partial<Pick<QualityGates, 'minFaceSizePx' | 'minSharpness' | 'maxYawRatio' | 'maxRollDeg' | 'maxSimilarity'>>;
  /** Default `AUDIT_DEFAULTS.mislabelMargin` (0.05). */
  mislabelMargin?: number;
  signal?: AbortSignal;
  onProgress?: (event: AuditProgressEvent) => void;
}

/** An image of the dataset and the person folder it belongs to. */
interface AuditedFile {
  path: string;
  person: string;
}

// ---------------------------------------------------------------------------------------
// Quick audit

/**
 * Runs the checks that need no model: image counts and imbalance, empty files, files
 * skipped for their extension, and exact duplicates by SHA-256 of the bytes.
 */
export async function quickAudit(scanned: ScannedDataset, options: QuickAuditOptions = {}): Promise<AuditReport> {
  const settings = resolveQuickOptions(options);
  const files = listAuditedFiles(scanned);
  const issues: AuditIssue[] = [];

  for (const ignored of scanned.ignored) {
    issues.push({
      kind: 'not-an-image',
      severity: 'warning',
      message: `${ignored.path} is skipped: ${ignored.reason}. Convert it to JPEG or PNG, or move it out of the dataset.`,
      people: [personOfPath(scanned.root, ignored.path)],
      paths: [ignored.path],
    });
  }

  const hashes = new Map<string, AuditedFile[]>();
  for (const file of files) {
    const size = await fileSize(file.path);
    if (size === 0) {
      issues.push({
        kind: 'empty-file',
        severity: 'error',
        message: `${file.path} is empty (0 bytes). Copy or export the photo again, or delete it.`,
        people: [file.person],
        paths: [file.path],
      });
      continue;
    }
    if (size === undefined) continue;
    const hash = await hashFile(file.path);
    if (hash === undefined) continue;
    const group = hashes.get(hash) ?? [];
    group.push(file);
    hashes.set(hash, group);
  }
  issues.push(...countIssues(scanned, settings), ...exactDuplicateIssues(hashes));
  return buildReport('quick', scanned, files, issues, { ...settings });
}

function resolveQuickOptions(options: QuickAuditOptions): Required<QuickAuditOptions> {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object or undefined', options);
  const minImagesPerPerson = options.minImagesPerPerson ?? AUDIT_DEFAULTS.minImagesPerPerson;
  const minShareOfMedian = options.minShareOfMedian ?? AUDIT_DEFAULTS.minShareOfMedian;
  if (!Number.isSafeInteger(minImagesPerPerson) || minImagesPerPerson < 0) {
    throw invalidArgument('minImagesPerPerson', 'an integer number of images >= 0', minImagesPerPerson);
  }
  if (typeof minShareOfMedian !== 'number' || !(minShareOfMedian >= 0 && minShareOfMedian <= 1)) {
    throw invalidArgument('minShareOfMedian', 'a fraction from 0 to 1', minShareOfMedian);
  }
  return { minImagesPerPerson, minShareOfMedian };
}

/** Lists every image of the scan with its person: people first, then `_unknown`. */
function listAuditedFiles(scanned: ScannedDataset): AuditedFile[] {
  const files: AuditedFile[] = scanned.images.map((image) => ({ path: image.path, person: scanned.classNames[image.label]! }));
  for (const impostor of scanned.impostors) files.push({ path: impostor, person: UNKNOWN_FOLDER });
  return files;
}

/** Returns the person folder a path lies in: the first folder below the root, or below `train/` or `val/`. */
function personOfPath(root: string, file: string): string {
  const parts = path.relative(root, file).split(path.sep);
  const splitFolders = ['train', 'val', 'validation'];
  return (splitFolders.includes(parts[0]!) && parts.length > 2 ? parts[1] : parts[0])!.normalize('NFC');
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    // The full audit reports files that cannot be read; the quick audit only skips them.
    return undefined;
  }
}

async function hashFile(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

function imageCounts(scanned: ScannedDataset): Map<string, number> {
  const counts = new Map<string, number>(scanned.classNames.map((name) => [name, 0]));
  for (const image of scanned.images) {
    const name = scanned.classNames[image.label]!;
    counts.set(name, counts.get(name)! + 1);
  }
  return counts;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function countIssues(scanned: ScannedDataset, settings: Required<QuickAuditOptions>): AuditIssue[] {
  const counts = imageCounts(scanned);
  const medianCount = median([...counts.values()]);
  const issues: AuditIssue[] = [];
  if (scanned.classNames.length < 2) {
    const found = scanned.classNames.length === 0 ? 'no person folders' : `one person folder (${scanned.classNames[0]})`;
    issues.push({
      kind: 'too-few-people',
      severity: 'error',
      message: `${scanned.root} contains ${found}, and training needs at least two people. Put each person's photos in a sub-folder named after them, such as ${path.join(scanned.root, 'ada', '1.jpg')}.`,
      people: [...scanned.classNames],
      paths: [],
    });
  }
  for (const [name, count] of counts) {
    const reasons: string[] = [];
    if (count < settings.minImagesPerPerson) reasons.push(`fewer than ${settings.minImagesPerPerson}`);
    if (count < medianCount * settings.minShareOfMedian) reasons.push(`less than ${Math.round(settings.minShareOfMedian * 100)}% of the median (${medianCount})`);
    if (reasons.length === 0) continue;
    issues.push({
      kind: 'few-images',
      severity: 'warning',
      message: `${name} has ${count} image${count === 1 ? '' : 's'}, ${reasons.join(' and ')}. Add more photos of ${name}, for example with facekit capture.`,
      people: [name],
      paths: [],
    });
  }
  return issues;
}

function exactDuplicateIssues(hashes: Map<string, AuditedFile[]>): AuditIssue[] {
  const issues: AuditIssue[] = [];
  for (const group of hashes.values()) {
    if (group.length < 2) continue;
    const people = [...new Set(group.map((file) => file.person))];
    const where = people.length > 1 ? `in the folders of ${people.join(', ')}` : `in the folder of ${people[0]}`;
    const advice = people.length > 1 ? 'Keep the photo only in the folder of the person it shows.' : 'Delete all but one copy.';
    issues.push({
      kind: 'exact-duplicate',
      severity: 'warning',
      message: `${group.length} files have the same bytes ${where}: ${group.map((file) => file.path).join(', ')}. ${advice}`,
      people,
      paths: group.map((file) => file.path),
    });
  }
  return issues;
}

// ---------------------------------------------------------------------------------------
// Full audit

/** A face found in an image, with its feature normalised to unit length. */
interface FaceRecord {
  file: AuditedFile;
  hash: string;
  feature: Float32Array;
}

/**
 * Audits a dataset folder: everything `quickAudit` checks, plus unreadable images,
 * images with no face or several faces, faces that fail the size, pose or sharpness
 * gate, near duplicates (within and across people), and likely mislabels.
 *
 * @throws FacekitError ERR_FILE_NOT_FOUND or ERR_INVALID_ARGUMENT for a bad folder,
 *   ERR_CANCELLED, and the pipeline's model errors. Problems with single images are
 *   reported in the result, not thrown.
 */
export async function auditDataset(dir: string, options: AuditOptions = {}): Promise<AuditReport> {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('dir', 'the path of a dataset folder', dir);
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object or undefined', options);
  const gates = resolveGates(options.gates);
  const mislabelMargin = options.mislabelMargin ?? AUDIT_DEFAULTS.mislabelMargin;
  if (typeof mislabelMargin !== 'number' || !(mislabelMargin >= 0 && mislabelMargin <= 2)) {
    throw invalidArgument('mislabelMargin', 'a cosine similarity difference from 0 to 2', mislabelMargin);
  }
  if (options.pipeline !== undefined && !(options.pipeline instanceof FacePipeline)) {
    throw invalidArgument('pipeline', 'a FacePipeline or undefined', options.pipeline);
  }

  const scanned = await scanDataset(dir);
  const quick = await quickAudit(scanned, options);
  const files = listAuditedFiles(scanned);
  options.onProgress?.({ type: 'scan', people: scanned.classNames.length, images: files.length });

  const emptyFiles = new Set(quick.issues.filter((issue) => issue.kind === 'empty-file').flatMap((issue) => issue.paths));
  const toRead = files.filter((file) => !emptyFiles.has(file.path));
  const pipeline = options.pipeline ?? (await FacePipeline.create());
  let faceIssues: AuditIssue[];
  let faces: FaceRecord[];
  try {
    ({ issues: faceIssues, faces } = await checkFaces(pipeline, toRead, gates, options));
  } finally {
    if (!options.pipeline) await pipeline.dispose();
  }

  options.onProgress?.({ type: 'compare', images: faces.length });
  const issues = [
    ...quick.issues,
    ...faceIssues,
    ...nearDuplicateIssues(faces, gates.maxSimilarity),
    ...mislabelIssues(faces, mislabelMargin),
  ];
  const { minFaceSizePx, minSharpness, maxYawRatio, maxRollDeg, maxSimilarity } = gates;
  return buildReport('full', scanned, files, issues, {
    ...quick.settings,
    gates: { minFaceSizePx, minSharpness, maxYawRatio, maxRollDeg, maxSimilarity },
    mislabelMargin,
  });
}

/** Prepares every image (cached features), then applies the face gates to those with a face. */
async function checkFaces(
  pipeline: FacePipeline,
  files: readonly AuditedFile[],
  gates: QualityGates,
  options: AuditOptions,
): Promise<{ issues: AuditIssue[]; faces: FaceRecord[] }> {
  const issues: AuditIssue[] = [];
  const faces: FaceRecord[] = [];
  for (const [index, file] of files.entries()) {
    if (options.signal?.aborted) throw new FacekitError('ERR_CANCELLED', 'The dataset audit was cancelled');
    const prepared = await prepareImage(pipeline, file.path, { cacheDir: options.cacheDir, multiFace: 'largest' });
    options.onProgress?.({ type: 'image', done: index + 1, total: files.length, path: file.path, cached: prepared.cached });
    const people = [file.person];
    const paths = [file.path];

    if (prepared.status === 'error') {
      const code = prepared.error?.code === 'ERR_INTERNAL' ? undefined : prepared.error?.code;
      const message = `${file.path} cannot be read: ${prepared.error?.message ?? 'unknown error'}`;
      issues.push({ kind: 'unreadable', severity: 'error', message, people, paths, ...(code ? { code } : {}) });
      continue;
    }
    if (prepared.status === 'no-face' || !prepared.face) {
      const message = `${file.path} shows no face that the detector finds. Replace it with a photo where the face is visible, or delete it.`;
      issues.push({ kind: 'no-face', severity: 'error', message, people, paths });
      continue;
    }
    if (prepared.faceCount > 1) {
      const message = `${file.path} shows ${prepared.faceCount} faces; training uses the largest. Crop the photo to ${file.person}'s face if that is not the largest.`;
      issues.push({ kind: 'multiple-faces', severity: 'warning', message, people, paths });
    }

    const verdict = await checkGates(file.path, prepared.face, gates);
    if (verdict) issues.push({ kind: verdict.reason, severity: 'warning', message: `${file.path}: ${verdict.detail}.`, people, paths });
    faces.push({ file, hash: prepared.hash, feature: l2Normalize(prepared.features[0]!) });
  }
  return { issues, faces };
}

/** Runs the size, pose and sharpness gates on an image's face; undefined when it passes. */
async function checkGates(
  file: string,
  face: DetectedFace,
  gates: QualityGates,
): Promise<{ reason: 'too-small' | 'not-frontal' | 'blurry'; detail: string } | undefined> {
  let image;
  try {
    // NOTE: prepareImage decodes each new image too, but does not return the pixels that
    // the sharpness gate needs, so uncached images are decoded twice.
    image = await decodeImage(file);
  } catch (error) {
    if (isFacekitError(error)) return undefined;
    throw error;
  }
  const verdict = checkFaceQuality(image, face, gates);
  return verdict.passed ? undefined : { reason: verdict.reason, detail: verdict.detail };
}

/** Rows of features compared per block, which bounds the block of similarities to this many × N floats. */
const SIMILARITY_BLOCK_ROWS = 256;

/**
 * Pairs of different files whose features have a cosine similarity of at least
 * `threshold`. Exact duplicates (same bytes) are left out, because they are reported as such.
 * NOTE: compares every pair, so time grows with the square of the image count.
 */
function nearDuplicateIssues(faces: readonly FaceRecord[], threshold: number): AuditIssue[] {
  const count = faces.length;
  if (count < 2) return [];
  const size = faces[0]!.feature.length;
  const matrix = new Float32Array(count * size);
  faces.forEach((face, i) => matrix.set(face.feature, i * size));

  const issues: AuditIssue[] = [];
  for (let start = 0; start < count; start += SIMILARITY_BLOCK_ROWS) {
    const rows = Math.min(SIMILARITY_BLOCK_ROWS, count - start);
    const columns = count - start;
    const block = matmulTransposeB(matrix.subarray(start * size, (start + rows) * size), matrix.subarray(start * size), rows, columns, size);
    for (let r = 0; r < rows; r++) {
      for (let c = r + 1; c < columns; c++) {
        const similarity = block[r * columns + c]!;
        if (similarity < threshold) continue;
        const a = faces[start + r]!;
        const b = faces[start + c]!;
        if (a.hash === b.hash) continue;
        issues.push(nearDuplicateIssue(a, b, similarity));
      }
    }
  }
  return issues;
}

function nearDuplicateIssue(a: FaceRecord, b: FaceRecord, similarity: number): AuditIssue {
  const samePerson = a.file.person === b.file.person;
  const people = samePerson ? [a.file.person] : [a.file.person, b.file.person];
  const advice = samePerson
    ? 'They add little and can leak into validation; keep one.'
    : 'They probably show the same person; keep the photo only in the right folder.';
  return {
    kind: 'near-duplicate',
    severity: 'warning',
    message: `${a.file.path} and ${b.file.path} are near duplicates (cosine similarity ${similarity.toFixed(3)}). ${advice}`,
    people,
    paths: [a.file.path, b.file.path],
    similarity,
  };
}

/**
 * Faces closer to another person's centroid than to their own person's centroid computed
 * without them, by more than `margin`. Strangers in `_unknown` are neither checked nor
 * used as a centroid. People with a single face cannot be checked, because their
 * centroid without that face is empty.
 */
function mislabelIssues(faces: readonly FaceRecord[], margin: number): AuditIssue[] {
  const labelled = faces.filter((face) => face.file.person !== UNKNOWN_FOLDER);
  if (labelled.length === 0) return [];
  const size = labelled[0]!.feature.length;
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  for (const face of labelled) {
    const entry = sums.get(face.file.person) ?? { sum: new Float64Array(size), count: 0 };
    for (let i = 0; i < size; i++) entry.sum[i] += face.feature[i]!;
    entry.count++;
    sums.set(face.file.person, entry);
  }
  const centroids = new Map([...sums].map(([person, { sum, count }]) => [person, l2Normalize(Float32Array.from(sum, (value) => value / count))]));

  const issues: AuditIssue[] = [];
  for (const face of labelled) {
    const own = sums.get(face.file.person)!;
    if (own.count < 2) continue;
    const withoutFace = Float32Array.from(own.sum, (value, i) => value - face.feature[i]!);
    const ownSimilarity = cosineSimilarity(face.feature, withoutFace);

    let closestPerson: string | undefined;
    let closestSimilarity = -Infinity;
    for (const [person, centroid] of centroids) {
      if (person === face.file.person) continue;
      const similarity = cosineSimilarity(face.feature, centroid);
      if (similarity > closestSimilarity) {
        closestSimilarity = similarity;
        closestPerson = person;
      }
    }
    if (closestPerson === undefined || closestSimilarity <= ownSimilarity + margin) continue;
    issues.push({
      kind: 'likely-mislabel',
      severity: 'warning',
      message:
        `${face.file.path} in ${face.file.person}'s folder looks more like ${closestPerson} ` +
        `(cosine similarity ${closestSimilarity.toFixed(3)} to ${closestPerson}, ${ownSimilarity.toFixed(3)} to ${face.file.person}). ` +
        'Check who it shows and move it to the right folder.',
      people: [face.file.person, closestPerson],
      paths: [face.file.path],
      similarity: closestSimilarity,
      closestPerson,
      ownSimilarity,
    });
  }
  return issues;
}

// ---------------------------------------------------------------------------------------
// Report

function zeroIssueCounts(): Record<AuditIssueKind, number> {
  return Object.fromEntries(AUDIT_ISSUE_KINDS.map((kind) => [kind, 0])) as Record<AuditIssueKind, number>;
}

function buildReport(
  depth: AuditReport['depth'],
  scanned: ScannedDataset,
  files: readonly AuditedFile[],
  issues: AuditIssue[],
  settings: AuditReport['settings'],
): AuditReport {
  const counts = imageCounts(scanned);
  const values = [...counts.values()];
  const minCount = values.length ? Math.min(...values) : 0;
  const maxCount = values.length ? Math.max(...values) : 0;

  const personOfFile = new Map(files.map((file) => [file.path, file.person]));
  const names = [...scanned.classNames, ...(scanned.impostors.length ? [UNKNOWN_FOLDER] : [])];
  const people: PersonAudit[] = names.map((name) => ({
    name,
    imageCount: name === UNKNOWN_FOLDER ? scanned.impostors.length : counts.get(name)!,
    issueCounts: zeroIssueCounts(),
  }));
  const byName = new Map(people.map((person) => [person.name, person]));

  const sorted = [...issues].sort((a, b) => AUDIT_ISSUE_KINDS.indexOf(a.kind) - AUDIT_ISSUE_KINDS.indexOf(b.kind));
  const overallCounts = zeroIssueCounts();
  for (const issue of sorted) {
    overallCounts[issue.kind]++;
    if (issue.kind === 'few-images') {
      byName.get(issue.people[0]!)!.issueCounts[issue.kind]++;
      continue;
    }
    // Mislabels count only against the folder the file is in, not the person it resembles.
    const involved = issue.kind === 'likely-mislabel' ? issue.paths.slice(0, 1) : issue.paths;
    for (const file of involved) {
      const person = byName.get(personOfFile.get(file) ?? personOfPath(scanned.root, file));
      if (person) person.issueCounts[issue.kind]++;
    }
  }

  return {
    depth,
    root: scanned.root,
    settings,
    overall: {
      people: scanned.classNames.length,
      images: scanned.images.length,
      strangers: scanned.impostors.length,
      minCount,
      medianCount: median(values),
      maxCount,
      imbalanceRatio: minCount > 0 ? maxCount / minCount : null,
      issueCounts: overallCounts,
    },
    people,
    issues: sorted,
  };
}

/** Headings of the issue sections in the Markdown report. */
const ISSUE_TITLES: Record<AuditIssueKind, string> = {
  unreadable: 'Unreadable images',
  'empty-file': 'Empty files',
  'not-an-image': 'Files skipped for their extension',
  'few-images': 'People with few images',
  'too-few-people': 'Too few people to train',
  'no-face': 'Images without a face',
  'multiple-faces': 'Images with several faces',
  'too-small': 'Faces too small',
  'not-frontal': 'Faces turned or tilted',
  blurry: 'Blurry faces',
  'exact-duplicate': 'Exact duplicates',
  'near-duplicate': 'Near duplicates',
  'likely-mislabel': 'Likely mislabelled faces',
};

/** Columns of the per-person table, with short headings. */
const TABLE_COLUMNS: ReadonlyArray<[AuditIssueKind, string]> = [
  ['unreadable', 'unreadable'],
  ['empty-file', 'empty'],
  ['no-face', 'no face'],
  ['multiple-faces', 'several faces'],
  ['too-small', 'small'],
  ['not-frontal', 'turned'],
  ['blurry', 'blurry'],
  ['exact-duplicate', 'duplicate'],
  ['near-duplicate', 'near duplicate'],
  ['likely-mislabel', 'mislabel?'],
];

/** Issues listed per section of the Markdown report; the JSON report has all of them. */
export const MARKDOWN_ISSUES_PER_SECTION = 50;

/** Renders an audit report as Markdown: a summary, a table per person and one section per kind of issue. */
export function renderAuditMarkdown(report: AuditReport): string {
  const { overall } = report;
  const lines: string[] = [`# Dataset check: ${report.root}`, ''];
  const ratio = overall.imbalanceRatio === null ? 'a person has no images' : `largest / smallest ${overall.imbalanceRatio.toFixed(1)}`;
  lines.push(
    `${overall.people} people, ${overall.images} images, ${overall.strangers} strangers in ${UNKNOWN_FOLDER}/. ` +
      `Images per person: ${overall.minCount} to ${overall.maxCount}, median ${overall.medianCount} (${ratio}).`,
  );
  if (report.depth === 'quick') lines.push('', 'Quick check: counts, file sizes and exact duplicates only; faces were not examined.');
  const total = AUDIT_ISSUE_KINDS.reduce((sum, kind) => sum + overall.issueCounts[kind], 0);
  lines.push('', total === 0 ? 'No problems found.' : `${total} problem${total === 1 ? '' : 's'} found.`);

  lines.push('', '## People', '');
  const columns = report.depth === 'full' ? TABLE_COLUMNS : TABLE_COLUMNS.filter(([kind]) => kind === 'empty-file' || kind === 'exact-duplicate');
  lines.push(`| person | images | ${columns.map(([, title]) => title).join(' | ')} |`);
  lines.push(`|---|---:|${columns.map(() => '---:').join('|')}|`);
  for (const person of report.people) {
    const flag = person.issueCounts['few-images'] > 0 ? ' (few)' : '';
    const cells = columns.map(([kind]) => (person.issueCounts[kind] ? String(person.issueCounts[kind]) : ''));
    lines.push(`| ${escapeCell(person.name)} | ${person.imageCount}${flag} | ${cells.join(' | ')} |`);
  }

  for (const kind of AUDIT_ISSUE_KINDS) {
    const found = report.issues.filter((issue) => issue.kind === kind);
    if (found.length === 0) continue;
    lines.push('', `## ${ISSUE_TITLES[kind]} (${found.length})`, '');
    for (const issue of found.slice(0, MARKDOWN_ISSUES_PER_SECTION)) lines.push(`- ${relativeMessage(issue.message, report.root)}`);
    if (found.length > MARKDOWN_ISSUES_PER_SECTION) {
      lines.push(`- … and ${found.length - MARKDOWN_ISSUES_PER_SECTION} more; the JSON report (--json) lists all.`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Shortens the paths in a message, which all start with the dataset folder, to paths inside it. */
function relativeMessage(message: string, root: string): string {
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message.replace(new RegExp(`(^|[\\s(,])${escaped}`, 'g'), '$1');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
