/**
 * Training time and validation accuracy of `facekit train` defaults against the classic
 * Keras transfer-learning recipe, rebuilt in TF.js on the WASM backend, on one seed-sized
 * job: the 4 people with the most photos in celebrity-faces-dev, each photo plus its
 * mirror image.
 *
 * The recipe as rebuilt here runs a frozen MobileNet v1 base with global average pooling
 * on every augmented batch of every epoch. The base is the faceres graph: the same
 * MobileNet v1 224 architecture, with face-trained weights. Augmentation is Keras
 * `ImageDataGenerator` with rotation ±45°, width and height shift ±0.3, horizontal flip
 * and fill "nearest", and pixels are scaled by 1/255. The head is Dense(1024, relu) →
 * Dense(1024, relu) → Dense(512, relu) → Dense(K, softmax), trained with RMSprop
 * (learning rate 0.001) on categorical cross-entropy, batch size 32, for 5 epochs with
 * validation after each.
 */
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGE_EXTENSIONS, UNKNOWN_FOLDER, validationCount } from '../src/dataset/scan.js';
import { MODELS, resolveModelFile } from '../src/models/registry.js';
import { createRandom, shuffleInPlace, type RandomSource } from '../src/train/random.js';
import { train } from '../src/train/train.js';
import { loadTfjsGraphModel, tf } from '../test/support/tfjs-reference.js';
import { formatLoad } from './peers/report.js';
import { type BenchContext, type Section, fmt, table } from './util.js';

const PEOPLE = 4;
const SPLIT_SEED = 11;
/** Keras `ImageDataGenerator` settings of the recipe. */
const ROTATION_DEG = 45;
const SHIFT_FRACTION = 0.3;
/** Keras `flow_from_directory` target size, and the batch size both it and `fit` default to. */
const IMAGE_SIZE = 224;
const BATCH_SIZE = 32;
const EPOCHS = 5;
const LEARNING_RATE = 0.001;
const HIDDEN_UNITS = [1024, 1024, 512];

interface Job {
  root: string;
  people: string[];
  train: Array<{ path: string; label: number }>;
  val: Array<{ path: string; label: number }>;
}

interface RecipeResult {
  seconds: number;
  epochs: Array<{ seconds: number; trainAccuracy: number; valAccuracy: number; valLoss: number }>;
  /** Mean cosine similarity between the base's features of different validation images, per input scaling. */
  featureSimilarity: { scaled: number; raw: number };
}

export async function benchClassicRecipe(context: BenchContext): Promise<Section> {
  const title = 'Training time against the classic Keras recipe';
  if (!context.datasetDir) return { title, markdown: 'Skipped: the celebrity dev dataset is not present.' };
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-classic-'));
  try {
    const loadBefore = os.loadavg();
    // The quick run keeps 3 source photos per person: 4 training and 2 validation images.
    const job = await buildJob(context.datasetDir, path.join(work, 'dataset'), context.quick ? 3 : Infinity);
    context.log(`classic recipe: ${job.train.length} training and ${job.val.length} validation images of ${job.people.join(', ')}`);

    const facekitStart = performance.now();
    const result = await train({ dataset: job.root, output: path.join(work, 'model'), cacheDir: path.join(work, 'cache') });
    const facekitSeconds = (performance.now() - facekitStart) / 1000;
    const facekitCorrect = Math.round(result.metrics.accuracy * result.metrics.sampleCount);
    context.log(`classic recipe: facekit train ${fmt(facekitSeconds)} s, validation ${facekitCorrect} of ${job.val.length}`);

    const recipe = await runClassicRecipe(job, context);
    const loadAfter = os.loadavg();
    const last = recipe.epochs[recipe.epochs.length - 1]!;
    const valPercent = (correct: number) => `${fmt((100 * correct) / job.val.length)}% (${correct} of ${job.val.length})`;

    const markdown = [
      `Job: ${job.people.join(', ')} (the ${PEOPLE} people with the most photos in celebrity-faces-dev), each photo and its mirror image,`,
      `${job.train.length + job.val.length} images${context.quick ? ' (quick run: 3 photos per person)' : ''}. Split by source photo with seed ${SPLIT_SEED}, 20% held out,`,
      `so no image has its mirror on the other side: ${job.train.length} training and ${job.val.length} validation images. Both runs start cold and include decoding.`,
      '',
      '- `facekit train` defaults: detect, align and embed each photo once on ONNX Runtime with 5 augmented views, then fit the `mlp` head',
      '  with early stopping (`train()` with no options but the folders and an empty feature cache).',
      '- Classic recipe: whole photos resized to 224×224 (nearest neighbour, as `flow_from_directory` does), `ImageDataGenerator`',
      `  augmentation (rotation ±${ROTATION_DEG}°, width and height shift ±${SHIFT_FRACTION}, horizontal flip, fill "nearest"), pixels × 1/255, the frozen`,
      `  faceres MobileNet v1 graph with global average pooling run on every augmented batch of every epoch, head Dense(${HIDDEN_UNITS.join(') → Dense(')}) → Dense(K, softmax),`,
      `  RMSprop learning rate ${LEARNING_RATE}, batch size ${BATCH_SIZE}, ${EPOCHS} epochs, validated after each epoch; TF.js ${tf.version.tfjs} layers on the WASM backend.`,
      '',
      table(
        ['recipe', 'seconds', 'seconds per epoch', 'epochs', 'validation top-1 (images)', 'training top-1, last epoch'],
        [
          ['`facekit train` defaults', fmt(facekitSeconds), fmt(result.timings.fit / result.model.training.epochs, 2), result.model.training.epochs, valPercent(facekitCorrect), '-'],
          [
            'classic recipe, TF.js WASM',
            fmt(recipe.seconds),
            fmt(recipe.epochs.reduce((total, e) => total + e.seconds, 0) / recipe.epochs.length),
            recipe.epochs.length,
            valPercent(Math.round(last.valAccuracy * job.val.length)),
            `${fmt(last.trainAccuracy * 100)}%`,
          ],
        ],
      ),
      '',
      `Ratio: the classic recipe took ${fmt(recipe.seconds / facekitSeconds)}× as long as \`facekit train\`.`,
      `facekit's validation images without a detected face (${result.skipped.filter((s) => job.val.some((v) => v.path === s.path)).length}) count as wrong;`,
      "its seconds per epoch count head fitting only, because facekit embeds each photo once before the first epoch.",
      `Classic recipe, validation top-1 after each epoch: ${recipe.epochs.map((e) => `${fmt(e.valAccuracy * 100)}%`).join(', ')}.`,
      '',
      "The original recipe's mistake is kept on purpose: it scaled pixels to 0–1 (`x/255`) where Keras MobileNet expects −1 to 1",
      '(`x/127.5 − 1`). Here the frozen base is faceres, which reads raw 0–255 values, so the same `x/255` shrinks its input',
      '255-fold, a larger error than in the original. Measured after training on the validation images: the mean cosine similarity',
      `between the base's features of two different images is ${recipe.featureSimilarity.scaled.toFixed(3)} with \`x/255\` and ${recipe.featureSimilarity.raw.toFixed(3)} with 0–255 input,`,
      "so with the recipe's scaling the head gets nearly the same feature for every photo, and its accuracy shows that mistake as much as the recipe.",
      `Load average (1, 5, 15 min) before: ${formatLoad(loadBefore)}, after: ${formatLoad(loadAfter)}.`,
    ].join('\n');
    return { title, markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Writes `root/train/<person>/` and `root/val/<person>/`: each source photo as a link and
 * its mirror image as a JPEG, both in the same split.
 */
async function buildJob(datasetDir: string, root: string, photosPerPerson: number): Promise<Job> {
  const counts: Array<{ person: string; files: string[] }> = [];
  for (const entry of await readdir(datasetDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === UNKNOWN_FOLDER || entry.name.startsWith('.')) continue;
    const files = (await readdir(path.join(datasetDir, entry.name))).filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase())).sort();
    counts.push({ person: entry.name, files });
  }
  counts.sort((a, b) => b.files.length - a.files.length || a.person.localeCompare(b.person));
  const chosen = counts.slice(0, PEOPLE).sort((a, b) => a.person.localeCompare(b.person));

  const random = createRandom(SPLIT_SEED);
  const job: Job = { root, people: chosen.map((c) => c.person), train: [], val: [] };
  for (const [label, { person, files }] of chosen.entries()) {
    const photos = shuffleInPlace([...files], random).slice(0, photosPerPerson);
    const valCount = validationCount(photos.length, 0.2);
    for (const [i, file] of photos.entries()) {
      const split = i < valCount ? 'val' : 'train';
      const folder = path.join(root, split, person);
      await mkdir(folder, { recursive: true });
      const source = path.join(datasetDir, person, file);
      const original = path.join(folder, file);
      const mirror = path.join(folder, `mirror-${path.parse(file).name}.jpg`);
      await symlink(source, original);
      await sharp(source).rotate().flop().jpeg({ quality: 92 }).toFile(mirror);
      job[split].push({ path: original, label }, { path: mirror, label });
    }
  }
  return job;
}

/** Decodes an image as `flow_from_directory` would: RGB, resized to 224×224 by nearest neighbour. */
async function loadRecipeImage(file: string): Promise<Uint8Array> {
  const { data, info } = await sharp(file)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file} decoded to ${info.channels} channels, expected 3`);
  return new Uint8Array(data);
}

/**
 * Draws one random `ImageDataGenerator` transform and returns it as the 8 projective
 * parameters of `tf.image.transform`, which map an output pixel to the input pixel it
 * samples: rotation about the centre, then a shift, with the horizontal flip folded in.
 */
function randomTransform(random: RandomSource): number[] {
  const uniform = (limit: number) => (2 * random.next() - 1) * limit;
  const theta = (uniform(ROTATION_DEG) * Math.PI) / 180;
  const shiftX = uniform(SHIFT_FRACTION) * IMAGE_SIZE;
  const shiftY = uniform(SHIFT_FRACTION) * IMAGE_SIZE;
  const centre = (IMAGE_SIZE - 1) / 2;
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  let [a0, a1, a2] = [cos, -sin, centre - cos * centre + sin * centre + shiftX];
  let [b0, b1, b2] = [sin, cos, centre - sin * centre - cos * centre + shiftY];
  if (random.next() < 0.5) {
    // Output column x samples what the unflipped transform puts at column (size − 1 − x).
    [a0, a2] = [-a0, a2 + a0 * (IMAGE_SIZE - 1)];
    [b0, b2] = [-b0, b2 + b0 * (IMAGE_SIZE - 1)];
  }
  return [a0, a1, a2, b0, b1, b2, 0, 0];
}

async function runClassicRecipe(job: Job, context: BenchContext): Promise<RecipeResult> {
  const start = performance.now();
  const base = await loadTfjsGraphModel(resolveModelFile(MODELS.faceres));
  const inputName = base.inputs[0]!.name;
  const featuresName = MODELS.faceres.outputs.features!;
  const classes = job.people.length;
  const trainPixels = await Promise.all(job.train.map((item) => loadRecipeImage(item.path)));
  const valPixels = await Promise.all(job.val.map((item) => loadRecipeImage(item.path)));

  const head = tf.sequential();
  HIDDEN_UNITS.forEach((units, i) => head.add(tf.layers.dense({ units, activation: 'relu', ...(i === 0 ? { inputShape: [1024] } : {}) })));
  head.add(tf.layers.dense({ units: classes, activation: 'softmax' }));
  head.compile({ optimizer: tf.train.rmsprop(LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

  const pixelsToBatch = (pixels: readonly Uint8Array[]) => {
    const batch = new Float32Array(pixels.length * IMAGE_SIZE * IMAGE_SIZE * 3);
    pixels.forEach((image, i) => batch.set(image, i * image.length));
    return tf.tensor4d(batch, [pixels.length, IMAGE_SIZE, IMAGE_SIZE, 3]);
  };
  // The frozen base receives x / 255, the recipe's input scaling.
  const embed = (images: tf.Tensor4D) => tf.tidy(() => base.execute({ [inputName]: tf.div(images, 255) }, featuresName) as tf.Tensor2D);

  const random = createRandom(SPLIT_SEED);
  const epochs: RecipeResult['epochs'] = [];
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const epochStart = performance.now();
    const order = shuffleInPlace([...job.train.keys()], random);
    let trainCorrect = 0;
    for (let first = 0; first < order.length; first += BATCH_SIZE) {
      const indices = order.slice(first, first + BATCH_SIZE);
      const raw = pixelsToBatch(indices.map((i) => trainPixels[i]!));
      const transforms = tf.tensor2d(indices.map(() => randomTransform(random)));
      const augmented = tf.image.transform(raw, transforms, 'bilinear', 'nearest');
      const features = embed(augmented);
      const labels = tf.oneHot(tf.tensor1d(indices.map((i) => job.train[i]!.label), 'int32'), classes);
      const [, accuracy] = (await head.trainOnBatch(features, labels)) as number[];
      trainCorrect += accuracy! * indices.length;
      tf.dispose([raw, transforms, augmented, features, labels]);
    }

    let valCorrect = 0;
    let valLoss = 0;
    for (let first = 0; first < job.val.length; first += BATCH_SIZE) {
      const items = job.val.slice(first, first + BATCH_SIZE);
      const raw = pixelsToBatch(valPixels.slice(first, first + BATCH_SIZE));
      const features = embed(raw);
      const probabilities = head.predict(features) as tf.Tensor2D;
      const rows = (await probabilities.array()) as number[][];
      rows.forEach((row, i) => {
        const truth = items[i]!.label;
        if (row.indexOf(Math.max(...row)) === truth) valCorrect += 1;
        valLoss -= Math.log(Math.max(row[truth]!, 1e-7));
      });
      tf.dispose([raw, features, probabilities]);
    }
    const record = {
      seconds: (performance.now() - epochStart) / 1000,
      trainAccuracy: trainCorrect / job.train.length,
      valAccuracy: valCorrect / job.val.length,
      valLoss: valLoss / job.val.length,
    };
    epochs.push(record);
    context.log(
      `classic recipe: epoch ${epoch}/${EPOCHS} ${fmt(record.seconds)} s, training top-1 ${fmt(record.trainAccuracy * 100)}%, ` +
        `validation top-1 ${fmt(record.valAccuracy * 100)}%, loss ${record.valLoss.toFixed(3)}`,
    );
  }
  const seconds = (performance.now() - start) / 1000;

  // Not part of the recipe, so outside its time: how alike the base's features of
  // different photos are with the recipe's x/255 input and with the 0–255 faceres expects.
  const similarity = async (scale: number) => {
    const raw = pixelsToBatch(valPixels.slice(0, BATCH_SIZE));
    const features = tf.tidy(() => base.execute({ [inputName]: tf.mul(raw, scale) }, featuresName) as tf.Tensor2D);
    const rows = (await features.array()) as number[][];
    tf.dispose([raw, features]);
    return meanPairwiseCosine(rows);
  };
  const featureSimilarity = { scaled: await similarity(1 / 255), raw: await similarity(1) };
  head.dispose();
  base.dispose();
  return { seconds, epochs, featureSimilarity };
}

function meanPairwiseCosine(rows: readonly number[][]): number {
  let total = 0;
  let pairs = 0;
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      const a = rows[i]!;
      const b = rows[j]!;
      let dot = 0;
      let normA = 0;
      let normB = 0;
      for (let k = 0; k < a.length; k++) {
        dot += a[k]! * b[k]!;
        normA += a[k]! * a[k]!;
        normB += b[k]! * b[k]!;
      }
      total += dot / Math.sqrt(normA * normB);
      pairs += 1;
    }
  }
  return pairs === 0 ? Number.NaN : total / pairs;
}
