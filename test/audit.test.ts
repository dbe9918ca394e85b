import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';

import { type AuditIssue, type AuditIssueKind, type AuditReport, auditDataset, quickAudit, renderAuditMarkdown } from '../src/dataset/audit.js';
import { scanDataset } from '../src/dataset/scan.js';
import { FacePipeline } from '../src/embed/face-pipeline.js';

const PHOTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '@vladmandic', 'face-api', 'demo');

/**
 * One face per person, each from a different demo photo, so each is a different person.
 * Boxes are BlazeFace detections (`FacePipeline.detect`, default options) on the photos,
 * rounded to pixels: left, top and width.
 */
const PEOPLE = {
  ada: { photo: 'sample1.jpg', x: 421, y: 407, side: 187 },
  grace: { photo: 'sample6.jpg', x: 656, y: 377, side: 242 },
  hedy: { photo: 'sample3.jpg', x: 591, y: 385, side: 201 },
  lin: { photo: 'sample4.jpg', x: 975, y: 225, side: 201 },
} as const;

type Person = keyof typeof PEOPLE;

/** A crop window: side in face widths, centre offset in face widths, mirrored, brightness factor. */
interface CropVariant {
  scale: number;
  dx: number;
  dy: number;
  flip: boolean;
  brightness: number;
}

const VARIANTS: readonly CropVariant[] = [
  { scale: 2.0, dx: 0, dy: 0, flip: false, brightness: 1 },
  { scale: 2.6, dx: -0.2, dy: 0.1, flip: false, brightness: 1 },
  { scale: 1.7, dx: 0.1, dy: -0.05, flip: true, brightness: 1 },
  { scale: 2.2, dx: 0, dy: 0.15, flip: false, brightness: 0.8 },
  { scale: 3.0, dx: 0.25, dy: 0, flip: true, brightness: 1.15 },
];

/** Writes a JPEG crop around a person's face, scaled to 320 px wide, and returns its path. */
async function writeCrop(file: string, person: Person, variant: CropVariant, quality = 90): Promise<string> {
  const source = PEOPLE[person];
  const photo = path.join(PHOTO_DIR, source.photo);
  const { width = 0, height = 0 } = await sharp(photo).metadata();
  const side = source.side * variant.scale;
  const left = Math.max(0, Math.round(source.x + source.side / 2 + variant.dx * source.side - side / 2));
  const top = Math.max(0, Math.round(source.y + source.side / 2 + variant.dy * source.side - side / 2));
  let image = sharp(photo)
    .extract({ left, top, width: Math.min(width - left, Math.round(side)), height: Math.min(height - top, Math.round(side)) })
    .resize(320);
  if (variant.flip) image = image.flop();
  if (variant.brightness !== 1) image = image.modulate({ brightness: variant.brightness });
  await mkdir(path.dirname(file), { recursive: true });
  await image.jpeg({ quality }).toFile(file);
  return file;
}

/** Writes a 320×320 colour gradient, an image without a face. */
async function writeGradient(file: string): Promise<void> {
  const size = 320;
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const offset = (y * size + x) * 3;
      data[offset] = Math.round((255 * x) / size);
      data[offset + 1] = Math.round((255 * y) / size);
      data[offset + 2] = 128;
    }
  }
  await sharp(data, { raw: { width: size, height: size, channels: 3 } }).jpeg().toFile(file);
}

let root: string;
let planted: Record<'duplicateOriginal' | 'duplicateCopy' | 'reencoded' | 'reencodedSource' | 'noFace' | 'mislabelled' | 'empty' | 'text', string>;
let report: AuditReport;

/**
 * Builds the dataset: ada, grace and hedy with 5 crops each, lin with 2, and planted
 * problems: an exact copy and a re-encoded copy in ada's folder, a gradient and one of
 * ada's faces in grace's folder, an empty file and a text file in hedy's folder.
 */
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'facekit-audit-'));
  for (const person of ['ada', 'grace', 'hedy'] as const) {
    for (const [k, variant] of VARIANTS.entries()) await writeCrop(path.join(root, person, `${person}_${k + 1}.jpg`), person, variant);
  }
  for (const k of [0, 2]) await writeCrop(path.join(root, 'lin', `lin_${k + 1}.jpg`), 'lin', VARIANTS[k]!);

  planted = {
    duplicateOriginal: path.join(root, 'ada', 'ada_1.jpg'),
    duplicateCopy: path.join(root, 'ada', 'ada_1_copy.jpg'),
    reencodedSource: path.join(root, 'ada', 'ada_2.jpg'),
    reencoded: path.join(root, 'ada', 'ada_2_small.jpg'),
    noFace: path.join(root, 'grace', 'wall.jpg'),
    mislabelled: path.join(root, 'grace', 'party.jpg'),
    empty: path.join(root, 'hedy', 'empty.jpg'),
    text: path.join(root, 'hedy', 'notes.txt'),
  };
  await copyFile(planted.duplicateOriginal, planted.duplicateCopy);
  await writeCrop(planted.reencoded, 'ada', VARIANTS[1], 60);
  await writeGradient(planted.noFace);
  await writeCrop(planted.mislabelled, 'ada', { scale: 2.3, dx: 0.05, dy: 0.05, flip: false, brightness: 1.05 });
  await writeFile(planted.empty, '');
  await writeFile(planted.text, 'not a photo\n');

  const pipeline = await FacePipeline.create();
  try {
    report = await auditDataset(root, { pipeline, cacheDir: false });
  } finally {
    await pipeline.dispose();
  }
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

function issuesOf(kind: AuditIssueKind, from: AuditReport = report): AuditIssue[] {
  return from.issues.filter((issue) => issue.kind === kind);
}

function describeIssues(issues: readonly AuditIssue[]): string {
  return issues.map((issue) => `${issue.kind}: ${issue.message}`).join('\n') || '(none)';
}

describe('auditDataset', () => {
  it('counts images per person', () => {
    const counts = Object.fromEntries(report.people.map((person) => [person.name, person.imageCount]));
    assert.deepEqual(counts, { ada: 7, grace: 7, hedy: 6, lin: 2 });
    assert.equal(report.overall.images, 22);
    assert.equal(report.overall.medianCount, 6.5);
    assert.equal(report.overall.imbalanceRatio, 3.5);
  });

  it('flags the person with few images', () => {
    const few = issuesOf('few-images');
    assert.deepEqual(few.map((issue) => issue.people), [['lin']], describeIssues(few));
  });

  it('flags the exact duplicate', () => {
    const duplicates = issuesOf('exact-duplicate');
    assert.equal(duplicates.length, 1, describeIssues(duplicates));
    assert.deepEqual([...duplicates[0]!.paths].sort(), [planted.duplicateOriginal, planted.duplicateCopy].sort());
    assert.deepEqual(duplicates[0]!.people, ['ada']);
  });

  it('flags the re-encoded copy as a near duplicate', () => {
    const pairs = issuesOf('near-duplicate').map((issue) => [...issue.paths].sort().join(' & '));
    assert.ok(pairs.includes([planted.reencodedSource, planted.reencoded].sort().join(' & ')), `near duplicates:\n${pairs.join('\n')}`);
  });

  it('leaves exact duplicates out of the near duplicates', () => {
    const pair = [planted.duplicateOriginal, planted.duplicateCopy].sort().join(' & ');
    const pairs = issuesOf('near-duplicate').map((issue) => [...issue.paths].sort().join(' & '));
    assert.ok(!pairs.includes(pair));
  });

  it('flags the image without a face', () => {
    const noFace = issuesOf('no-face');
    assert.deepEqual(noFace.map((issue) => issue.paths[0]), [planted.noFace], describeIssues(noFace));
    assert.equal(noFace[0]!.severity, 'error');
  });

  it('flags the mislabelled face', () => {
    const mislabels = issuesOf('likely-mislabel');
    assert.deepEqual(mislabels.map((issue) => issue.paths[0]), [planted.mislabelled], describeIssues(mislabels));
    assert.equal(mislabels[0]!.closestPerson, 'ada');
    assert.ok(mislabels[0]!.similarity! > mislabels[0]!.ownSimilarity!);
  });

  it('flags the empty file once', () => {
    assert.deepEqual(issuesOf('empty-file').map((issue) => issue.paths[0]), [planted.empty]);
    assert.deepEqual(issuesOf('unreadable'), [], describeIssues(issuesOf('unreadable')));
  });

  it('reports the skipped text file', () => {
    assert.deepEqual(issuesOf('not-an-image').map((issue) => issue.paths[0]), [planted.text]);
    assert.deepEqual(issuesOf('not-an-image')[0]!.people, ['hedy']);
  });

  it('passes the crops through the face gates', () => {
    const gateIssues = [...issuesOf('too-small'), ...issuesOf('blurry'), ...issuesOf('not-frontal'), ...issuesOf('multiple-faces')];
    assert.deepEqual(gateIssues, [], describeIssues(gateIssues));
  });

  it('counts issues per person', () => {
    const grace = report.people.find((person) => person.name === 'grace')!;
    assert.equal(grace.issueCounts['no-face'], 1);
    assert.equal(grace.issueCounts['likely-mislabel'], 1);
    const ada = report.people.find((person) => person.name === 'ada')!;
    assert.equal(ada.issueCounts['exact-duplicate'], 2);
    assert.equal(ada.issueCounts['likely-mislabel'], 0);
  });
});

describe('quickAudit', () => {
  it('runs the cheap checks only', async () => {
    const quick = await quickAudit(await scanDataset(root));
    assert.equal(quick.depth, 'quick');
    assert.equal(issuesOf('exact-duplicate', quick).length, 1);
    assert.deepEqual(issuesOf('empty-file', quick).map((issue) => issue.paths[0]), [planted.empty]);
    assert.deepEqual(issuesOf('few-images', quick).map((issue) => issue.people[0]), ['lin']);
    for (const kind of ['no-face', 'near-duplicate', 'likely-mislabel', 'blurry'] as const) {
      assert.equal(issuesOf(kind, quick).length, 0, `quick audit reported ${kind}`);
    }
  });

  it('applies the count options', async () => {
    const quick = await quickAudit(await scanDataset(root), { minImagesPerPerson: 7, minShareOfMedian: 0 });
    assert.deepEqual(issuesOf('few-images', quick).map((issue) => issue.people[0]), ['hedy', 'lin']);
  });

  it('flags a dataset with one person', async () => {
    const single = await mkdtemp(path.join(os.tmpdir(), 'facekit-audit-one-'));
    try {
      await mkdir(path.join(single, 'ada'));
      await copyFile(planted.duplicateOriginal, path.join(single, 'ada', 'ada_1.jpg'));
      const quick = await quickAudit(await scanDataset(single));
      const issues = issuesOf('too-few-people', quick);
      assert.equal(issues.length, 1);
      assert.equal(issues[0]!.severity, 'error');
      assert.match(issues[0]!.message, /one person folder \(ada\), and training needs at least two people/);
    } finally {
      await rm(single, { recursive: true, force: true });
    }
  });

  it('rejects an invalid share of the median', async () => {
    const scanned = await scanDataset(root);
    await assert.rejects(quickAudit(scanned, { minShareOfMedian: 2 }), { code: 'ERR_INVALID_ARGUMENT' });
  });
});

describe('renderAuditMarkdown', () => {
  it('lists each kind of problem with paths inside the dataset', () => {
    const markdown = renderAuditMarkdown(report);
    assert.match(markdown, /^# Dataset check: /);
    assert.match(markdown, /^\| ada \| 7 \|/m);
    assert.match(markdown, /^\| lin \| 2 \(few\) \|/m);
    assert.match(markdown, /^## Likely mislabelled faces \(1\)$/m);
    assert.match(markdown, /^## Images without a face \(1\)$/m);
    assert.match(markdown, /^- grace\/party\.jpg in grace's folder looks more like ada/m);
    assert.ok(!markdown.includes(path.join(root, 'grace')), 'the Markdown report repeats the dataset folder in paths');
  });
});

describe('auditDataset errors', () => {
  it('rejects a missing folder', async () => {
    await assert.rejects(auditDataset(path.join(root, 'missing'), { cacheDir: false }), { code: 'ERR_FILE_NOT_FOUND' });
  });
});
