/** Face detection speed per frame and per photo, and the share of dev-set photos with a face found. */
import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import { listImages } from '../src/dataset/scan.js';
import { FaceDetector } from '../src/detect/detector.js';
import { decodeImage } from '../src/image/decode.js';
import { loadModel } from '../src/runtime/load.js';
import type { RgbImage } from '../src/types.js';
import { type BenchContext, type Section, fmt, median, table, timeRuns } from './util.js';

const require = createRequire(import.meta.url);
export const SAMPLE_PHOTOS = [1, 2, 3, 4, 5, 6].map((n) =>
  path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`),
);

function openDetector(options: ConstructorParameters<typeof FaceDetector>[1]): FaceDetector {
  return new FaceDetector(async (id) => (await loadModel(id)).session, options);
}

export async function benchDetection(context: BenchContext): Promise<Section> {
  const repeats = context.quick ? 5 : 20;
  const photo = await decodeImage(SAMPLE_PHOTOS[0]!);
  const frameRaw = await sharp(Buffer.from(photo.data), { raw: { width: photo.width, height: photo.height, channels: 3 } })
    .resize(640, 480, { fit: 'cover' })
    .raw()
    .toBuffer();
  const frame: RgbImage = { data: new Uint8Array(frameRaw), width: 640, height: 480 };

  const untiled = openDetector({ tiling: false });
  const tiled = openDetector({});
  const frameMs = median(await timeRuns(() => untiled.detect(frame), repeats));
  const photoMs = median(await timeRuns(() => tiled.detect(photo), repeats));
  const photoUntiledMs = median(await timeRuns(() => untiled.detect(photo), repeats));
  context.log(`detection: frame ${fmt(frameMs)} ms, photo with pyramid ${fmt(photoMs)} ms`);
  // The model pass alone at each pyramid input size, without sampling or decoding its output:
  // the floor under the times above.
  const passes = tiled.planPasses(photo.width, photo.height).map((pass) => [pass.inputWidthPx, pass.inputHeightPx] as const);
  const { session, spec } = await loadModel('blazeface');
  const passRows: Array<Array<string | number>> = [];
  for (const [width, height] of passes) {
    const input = new Float32Array(width * height * 3).fill(0.1);
    const ms = median(await timeRuns(() => session.run({ [spec.inputName]: { data: input, dims: [1, height, width, 3] } }), repeats));
    passRows.push([`one BlazeFace pass on a ${width}×${height} input, ONNX Runtime only`, fmt(ms), '']);
  }
  await session.dispose();
  const rows: Array<Array<string | number>> = [
    ['640×480 frame, level 0 only (`tiling: false`)', fmt(frameMs), '≤ 5'],
    [`${photo.width}×${photo.height} photo, small-face pyramid (default)`, fmt(photoMs), '≤ 40'],
    [`${photo.width}×${photo.height} photo, level 0 only (\`tiling: false\`)`, fmt(photoUntiledMs), ''],
    ...passRows,
  ];

  let foundLine = context.quick
    ? 'The dev-set detection rate is measured by the full run only.'
    : 'Skipped the dev-set detection rate: the celebrity dev dataset is not present.';
  if (context.datasetDir && !context.quick) {
    const files = (await listImages(context.datasetDir)).filter((f) => !f.includes(`${path.sep}_unknown${path.sep}`));
    let found = 0;
    const missed: string[] = [];
    for (const file of files) {
      const faces = await tiled.detect(await decodeImage(file));
      if (faces.length > 0) found += 1;
      else missed.push(path.relative(context.datasetDir, file));
    }
    foundLine = `Dev set: a face was found in ${found} of ${files.length} photos (${fmt((found / files.length) * 100)}%; target ≥ 98%)` + (missed.length ? `; missed: ${missed.join(', ')}.` : '.');
    context.log(foundLine);
  }
  await untiled.dispose();
  await tiled.dispose();
  const markdown = [
    'BlazeFace (back-camera model, trained at 256 px) on ONNX Runtime, all cores, median over repeated runs; the image is already decoded. With `tiling` on, a 1920×1280 photo runs as two whole-image passes (256×192 and 960×640) so that 40-px faces reach the 20 px the model finds reliably.',
    '',
    table(['input', 'ms', 'target ms'], rows),
    '',
    foundLine,
  ].join('\n');
  return { title: 'Face detection', markdown };
}
