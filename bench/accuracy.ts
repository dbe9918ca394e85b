/**
 * Accuracy on the labelled celebrity dev set, with models trained by `train()` (the
 * library call behind `facekit train`):
 *
 * - closed-set top-1 on the seeded held-out split, per backbone, head and augmentation;
 * - the "unknown" rule on strangers it was not calibrated on: the `_unknown/` people are
 *   split into two groups by identity; a model calibrated on one group is tested on the
 *   other, both ways round, and the rates are pooled.
 */
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UNKNOWN_FOLDER } from '../src/dataset/scan.js';
import { type ModelId, isModelAvailable } from '../src/models/registry.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { FIT_DEFAULTS } from '../src/train/fit.js';
import { train } from '../src/train/train.js';
import { type BenchContext, type Section, fmt, table } from './util.js';

interface Run {
  backbone: ModelId;
  augment: number;
  head: 'linear' | 'mlp' | 'classic';
}

export async function benchAccuracy(context: BenchContext): Promise<Section> {
  if (!context.datasetDir) return { title: 'Recognition accuracy', markdown: 'Skipped: the celebrity dev dataset is not present.' };
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-accuracy-'));
  const cacheDir = path.join(work, 'cache');
  // The quick run keeps the configuration that `facekit train` uses by default.
  const runs: Run[] = context.quick
    ? [{ backbone: 'faceres', augment: 5, head: FIT_DEFAULTS.architecture }]
    : [
        { backbone: 'faceres', augment: 0, head: 'mlp' },
        { backbone: 'faceres', augment: 5, head: 'mlp' },
        { backbone: 'faceres', augment: 5, head: 'classic' },
        { backbone: 'faceres', augment: 5, head: 'linear' },
      ];
  if (!context.quick && isModelAvailable('mobilefacenet')) runs.push({ backbone: 'mobilefacenet', augment: 5, head: 'mlp' });

  try {
    const folds = await makeStrangerFolds(context.datasetDir, work);
    const rows: Array<Array<string | number>> = [];
    for (const run of runs) {
      let correct = 0;
      let validation = 0;
      let strangers = 0;
      let strangersAccepted = 0;
      let genuine = 0;
      let genuineRejected = 0;
      let seconds = 0;
      for (const [f, fold] of folds.entries()) {
        const started = performance.now();
        const result = await train({
          dataset: fold.trainRoot,
          output: path.join(work, `model-${rows.length}-${f}`),
          backbone: run.backbone,
          augment: run.augment,
          architecture: run.head,
          cacheDir,
        });
        seconds += (performance.now() - started) / 1000;
        if (f === 0) {
          correct += Math.round(result.metrics.accuracy * result.metrics.sampleCount);
          validation += result.metrics.sampleCount;
        }
        const held = await evaluateModel({ model: result.directory, dataset: fold.testRoot, cacheDir });
        const open = held.metrics.openSet!;
        strangers += open.impostorCount;
        strangersAccepted += Math.round((open.falseAcceptRate ?? 0) * open.impostorCount);
        const own = result.metrics.openSet!;
        genuine += own.genuineCount;
        genuineRejected += Math.round((own.falseRejectRate ?? 0) * own.genuineCount);
      }
      const line = `${run.backbone} ${run.head} augment ${run.augment}: top-1 ${correct}/${validation}, strangers rejected ${strangers - strangersAccepted}/${strangers}`;
      context.log(`accuracy ${line}`);
      rows.push([
        run.backbone,
        run.head,
        run.augment,
        `${fmt((correct / validation) * 100)}% (${correct}/${validation})`,
        `${fmt(((strangers - strangersAccepted) / strangers) * 100)}% (${strangers - strangersAccepted}/${strangers})`,
        `${fmt((genuineRejected / genuine) * 100)}% (${genuineRejected}/${genuine})`,
        fmt(seconds / folds.length),
      ]);
    }
    const markdown = [
      'Dataset: celebrity-faces-dev, 16 people (173 photos) and 16 photos of 7 strangers in `_unknown/`. Seeded stratified split:',
      '20% of each person held out for validation (at least one photo). Every model is trained by `train()` with a shared feature cache.',
      '',
      `Strangers: the \`_unknown/\` people are split by identity into ${folds.map((f) => f.names.join(', ')).join(' | ')}.`,
      'Each model calibrates its unknown-face rule (target false-accept 1%) on one group and is tested on the other, both ways round;',
      '"strangers rejected" pools the two held-out groups. "Known faces rejected" is the share of validation faces of known people',
      'that the rule turned away. With 16 strangers, one face moves the rate by about 6 points.',
      '',
      table(['backbone', 'head', 'augmented views', 'validation top-1', 'held-out strangers rejected', 'known faces rejected', 'train s (warm cache after the first)'], rows),
      '',
      'Targets: validation top-1 ≥ 97%; strangers rejected ≥ 90% with ≤ 3% of known faces rejected.',
      ...(context.quick ? ['', 'Quick run: the default configuration only; the full run adds the other heads and backbones.'] : []),
    ].join('\n');
    return { title: 'Recognition accuracy', markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface StrangerFold {
  names: string[];
  trainRoot: string;
  testRoot: string;
}

/** Makes two copies of the dataset, each with one group of strangers in `_unknown/`. The other group is that copy's test set. */
async function makeStrangerFolds(datasetDir: string, work: string): Promise<StrangerFold[]> {
  const unknownDir = path.join(datasetDir, UNKNOWN_FOLDER);
  const files = (await readdir(unknownDir)).sort();
  const identity = (file: string): string => file.replace(/_\d+\.[^.]+$/, '');
  const names = [...new Set(files.map(identity))];
  // Alternate identities between the groups, sorted by photo count, so both groups get a similar number of photos.
  names.sort((a, b) => files.filter((f) => identity(f) === b).length - files.filter((f) => identity(f) === a).length || a.localeCompare(b));
  const groups = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
  const people = (await readdir(datasetDir, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name !== UNKNOWN_FOLDER).map((e) => e.name);
  const folds: StrangerFold[] = [];
  for (const [g, group] of groups.entries()) {
    const trainRoot = path.join(work, `fold-${g}`, 'dataset');
    const testRoot = path.join(work, `fold-${g}`, 'strangers');
    for (const person of people) await cp(path.join(datasetDir, person), path.join(trainRoot, person), { recursive: true });
    await mkdir(path.join(trainRoot, UNKNOWN_FOLDER), { recursive: true });
    await mkdir(path.join(testRoot, UNKNOWN_FOLDER), { recursive: true });
    // One known person is copied into the test folder too, because evaluation needs at least one known face.
    await cp(path.join(datasetDir, people[0]!), path.join(testRoot, people[0]!), { recursive: true });
    for (const file of files) {
      const target = group.includes(identity(file)) ? trainRoot : testRoot;
      await cp(path.join(unknownDir, file), path.join(target, UNKNOWN_FOLDER, file));
    }
    folds.push({ names: group, trainRoot, testRoot });
  }
  return folds;
}
