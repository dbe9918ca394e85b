/**
 * Whole-command training time on a 250-image, 4-person set with 5 augmented views: once
 * from a cold feature cache (every photo decoded, detected, aligned and embedded) and once
 * warm (features read from the cache), as `facekit train` runs it.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { FIT_DEFAULTS } from '../src/train/fit.js';
import { train } from '../src/train/train.js';
import { type BenchContext, type Section, fmt, table } from './util.js';

const PEOPLE = ['Ben_Affleck', 'Elton_John', 'Jerry_Seinfeld', 'Madonna'];
const TARGET_IMAGES = 250;
/** Photos in the quick run's set: about a third, so the cold run takes seconds, not most of a minute. */
const QUICK_IMAGES = 80;

export async function benchTraining(context: BenchContext): Promise<Section> {
  if (!context.datasetDir) return { title: 'Training time', markdown: 'Skipped: the celebrity dev dataset is not present.' };
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-train-'));
  try {
    const dataset = path.join(work, 'dataset');
    const images = await buildSet(context.datasetDir, dataset, context.quick ? QUICK_IMAGES : TARGET_IMAGES);
    const cacheDir = path.join(work, 'cache');
    const rows: Array<Array<string | number>> = [];
    for (const label of ['cold cache', 'warm cache']) {
      const start = performance.now();
      const result = await train({ dataset, output: path.join(work, `model-${rows.length}`), augment: 5, cacheDir });
      const seconds = (performance.now() - start) / 1000;
      context.log(`training ${label}: ${fmt(seconds)} s`);
      rows.push([label, fmt(seconds), fmt(result.timings.prepare), fmt(result.timings.fit), result.model.training.epochs, `${fmt(result.metrics.accuracy * 100)}%`]);
    }
    const markdown = [
      `${images} photos of ${PEOPLE.length} people from celebrity-faces-dev: each person's photos, their mirror images and 80% rescaled copies`,
      `(different bytes, so no copy is dropped as a duplicate), capped at ${context.quick ? `${QUICK_IMAGES} in this quick run (${TARGET_IMAGES} in the full run)` : TARGET_IMAGES}. \`train()\` with 5 augmented views per training photo,`,
      `the default \`${FIT_DEFAULTS.architecture}\` head and early stopping. The classic Keras recipe needed about 250 s per epoch on a CPU.`,
      '',
      table(['run', 'whole command s', 'faces (decode, detect, align, embed) s', 'head fitting s', 'epochs', 'validation top-1'], rows),
      '',
      'Targets: ≤ 60 s from a cold cache and ≤ 10 s warm on 2 cores.',
    ].join('\n');
    return { title: 'Training time', markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function buildSet(source: string, target: string, count: number): Promise<number> {
  const perPerson = Math.floor(count / PEOPLE.length);
  let total = 0;
  for (const person of PEOPLE) {
    const folder = path.join(target, person);
    await mkdir(folder, { recursive: true });
    const files = (await readdir(path.join(source, person))).sort();
    let written = 0;
    for (const variant of ['original', 'mirror', 'small'] as const) {
      for (const file of files) {
        if (written >= perPerson) break;
        let image = sharp(path.join(source, person, file)).rotate();
        if (variant === 'mirror') image = image.flop();
        if (variant === 'small') {
          const meta = await sharp(path.join(source, person, file)).metadata();
          image = image.resize(Math.max(64, Math.round((meta.width ?? 400) * 0.8)));
        }
        await image.jpeg({ quality: 92 }).toFile(path.join(folder, `${variant}-${path.parse(file).name}.jpg`));
        written += 1;
      }
    }
    total += written;
  }
  return total;
}
