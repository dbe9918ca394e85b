/** End-to-end recognition speed (decode included) and memory over many calls. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createRecognizer } from '../src/recognize/recognizer.js';
import { train } from '../src/train/train.js';
import { SAMPLE_PHOTOS } from './detection.js';
import { type BenchContext, type Section, fmt, rssMiB, table } from './util.js';

export async function benchRecognition(context: BenchContext): Promise<Section> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-recognize-'));
  try {
    const model = await trainSmallModel(work);
    const recognizer = await createRecognizer({ model });
    const rounds = context.quick ? 1 : 3;
    await recognizer.recognize(SAMPLE_PHOTOS[0]!);
    const photos = Array.from({ length: rounds }, () => SAMPLE_PHOTOS).flat();
    // One call at a time: each photo is decoded, then recognised.
    let faces = 0;
    let start = performance.now();
    for (const photo of photos) faces += (await recognizer.recognize(photo)).faces.length;
    const oneByOne = photos.length / ((performance.now() - start) / 1000);
    // As `facekit recognize` reads a folder: the next photos decode while one is recognised.
    start = performance.now();
    for await (const outcome of recognizer.recognizeEach(photos)) if (!outcome.ok) throw outcome.error;
    const photosPerSecond = photos.length / ((performance.now() - start) / 1000);
    context.log(`recognition: ${fmt(photosPerSecond)} photos/s read ahead, ${fmt(oneByOne)} one call at a time`);

    const frameFile = path.join(work, 'frame.jpg');
    await sharp(SAMPLE_PHOTOS[0]!).resize(640, 480, { fit: 'cover' }).jpeg().toFile(frameFile);
    const frameRecognizer = await createRecognizer({ model, detector: { tiling: false } });
    const loops = context.quick ? 100 : 1000;
    await frameRecognizer.recognize(frameFile);
    const rssBefore = rssMiB();
    const loopStart = performance.now();
    for (let i = 0; i < loops; i++) await frameRecognizer.recognize(frameFile);
    const loopSeconds = (performance.now() - loopStart) / 1000;
    const rssAfter = rssMiB();
    context.log(`recognition: ${loops} frames, RSS ${fmt(rssBefore)} → ${fmt(rssAfter)} MiB`);
    await frameRecognizer.dispose();
    await recognizer.dispose();

    const markdown = [
      `A model trained by \`train()\` on crops of the sample photos; \`recognize(path)\` per photo, decode included, all cores for ONNX Runtime.`,
      '',
      table(
        ['workload', 'result', 'target'],
        [
          [`1920-px group photos (face-api samples, ${faces / rounds} faces per round of 6), small-face pyramid on, \`recognizeEach\` (decodes ahead, as the CLI does)`, `${fmt(photosPerSecond)} photos/s`, '≥ 12 photos/s'],
          ['the same photos, one `recognize` call at a time', `${fmt(oneByOne)} photos/s`, ''],
          [`640×480 JPEG frame, \`tiling: false\`, ${loops} calls`, `${fmt(loops / loopSeconds)} frames/s`, ''],
          [`RSS before and after those ${loops} calls`, `${fmt(rssBefore)} → ${fmt(rssAfter)} MiB`, 'flat'],
        ],
      ),
    ].join('\n');
    return { title: 'End-to-end recognition', markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Trains a throwaway model whose people are the faces of the first two sample photos. */
async function trainSmallModel(work: string): Promise<string> {
  const { detectFaces } = await import('../src/detect/detect-faces.js');
  const photos = SAMPLE_PHOTOS.slice(0, 2);
  const detections = await detectFaces(photos);
  for (const [p, photo] of photos.entries()) {
    for (const [f, face] of detections[p]!.entries()) {
      const folder = path.join(work, 'dataset', `p${p}f${f}`);
      await mkdir(folder, { recursive: true });
      for (let k = 0; k < 4; k++) {
        const side = Math.round(face.boxPx.width * (2 + k * 0.2));
        const left = Math.max(0, Math.round(face.boxPx.x + face.boxPx.width / 2 - side / 2));
        const top = Math.max(0, Math.round(face.boxPx.y + face.boxPx.height / 2 - side / 2));
        const meta = await sharp(photo).metadata();
        await sharp(photo)
          .extract({ left, top, width: Math.min(side, meta.width! - left), height: Math.min(side, meta.height! - top) })
          .modulate({ brightness: 0.85 + k * 0.1 })
          .jpeg()
          .toFile(path.join(folder, `${k}.jpg`));
      }
    }
  }
  const result = await train({ dataset: path.join(work, 'dataset'), output: path.join(work, 'model'), augment: 1, cacheDir: false });
  return result.directory;
}
