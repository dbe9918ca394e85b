/**
 * Accuracy on the labelled celebrity dev set: closed-set top-1 on the held-out split and
 * the open-set rates on `_unknown/`, per backbone and per augmentation count. Each model
 * is trained with `train()`, the library call behind `facekit train`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isModelAvailable, type ModelId } from '../src/models/registry.js';
import { train } from '../src/train/train.js';
import { type BenchContext, type Section, fmt, table } from './util.js';

export async function benchAccuracy(context: BenchContext): Promise<Section> {
  if (!context.datasetDir) return { title: 'Recognition accuracy', markdown: 'Skipped: the celebrity dev dataset is not present.' };
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-accuracy-'));
  const cacheDir = path.join(work, 'cache');
  const rows: Array<Array<string | number>> = [];
  const runs: Array<{ backbone: ModelId; augment: number; head: 'linear' | 'mlp' }> = [
    { backbone: 'faceres', augment: 0, head: 'mlp' },
    { backbone: 'faceres', augment: 5, head: 'mlp' },
    { backbone: 'faceres', augment: 5, head: 'linear' },
  ];
  if (!context.quick) runs.splice(2, 0, { backbone: 'faceres', augment: 10, head: 'mlp' });
  if (isModelAvailable('mobilefacenet')) runs.push({ backbone: 'mobilefacenet', augment: 5, head: 'mlp' });
  try {
    for (const [i, run] of runs.entries()) {
      const result = await train({
        dataset: context.datasetDir,
        output: path.join(work, `model-${i}`),
        backbone: run.backbone,
        augment: run.augment,
        architecture: run.head,
        cacheDir,
      });
      const open = result.metrics.openSet;
      const calibration = result.model.openSet.calibration;
      context.log(`accuracy ${run.backbone} augment ${run.augment} ${run.head}: top-1 ${fmt(result.metrics.accuracy * 100)}%`);
      rows.push([
        run.backbone,
        run.head,
        run.augment,
        `${fmt(result.metrics.accuracy * 100)}% (${result.metrics.sampleCount})`,
        open?.falseAcceptRate === null || !open ? '-' : `${fmt((1 - open.falseAcceptRate) * 100)}% (${open.impostorCount})`,
        open?.falseRejectRate === null || !open ? '-' : `${fmt(open.falseRejectRate * 100)}%`,
        `${result.model.openSet.score} > ${result.model.openSet.threshold.toFixed(3)}`,
        `${calibration.method}`,
      ]);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const markdown = [
    'Dataset: celebrity-faces-dev (16 people, 173 photos, plus 16 photos of 7 strangers in `_unknown/`), seeded stratified split',
    '(20% of each person held out, at least one). Each row trains a fresh model with `train()` from a cold feature cache.',
    'The open-set threshold is calibrated on the `_unknown/` faces and the rates are measured on the same faces, so they show',
    'how the rule separates this set, not how it generalises to new strangers; with 16 strangers one face is 6.25 points.',
    '',
    table(['backbone', 'head', 'augmented views', 'validation top-1 (faces)', 'strangers rejected (faces)', 'known faces rejected', 'unknown rule', 'calibrated on'], rows),
  ].join('\n');
  return { title: 'Recognition accuracy', markdown };
}
