import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { FaceDetector, type DetectedFace } from '../src/detect/detector.js';
import { intersectionOverUnion } from '../src/detect/nms.js';
import { decodeImage } from '../src/image/decode.js';
import { loadModel } from '../src/runtime/load.js';
import type { BoxPx, RgbImage } from '../src/types.js';
import { DEMO_PHOTOS } from './support/tiny-dataset.js';

interface Fixture {
  photos: Array<{ file: string; facesPx: BoxPx[] }>;
}

/** Overlap at which a detection counts as finding a face recorded in the fixture. */
const MATCH_IOU = 0.5;
const fixture = JSON.parse(readFileSync(new URL('./fixtures/demo-faces.json', import.meta.url), 'utf8')) as Fixture;
let detector: FaceDetector;

before(() => {
  detector = new FaceDetector(async (id) => (await loadModel(id)).session);
});
after(async () => {
  await detector.dispose();
});

interface MatchResult {
  found: number;
  missed: BoxPx[];
  falsePositives: DetectedFace[];
}

/** Pairs each recorded face with the best unpaired detection of IoU at least MATCH_IOU. */
function matchFaces(truths: readonly BoxPx[], faces: readonly DetectedFace[]): MatchResult {
  const unmatched = new Set(faces.keys());
  const missed: BoxPx[] = [];
  for (const truth of truths) {
    let best = -1;
    let bestIou = MATCH_IOU;
    for (const index of unmatched) {
      const iou = intersectionOverUnion(truth, faces[index]!.boxPx);
      if (iou >= bestIou) [best, bestIou] = [index, iou];
    }
    if (best >= 0) unmatched.delete(best);
    else missed.push(truth);
  }
  return { found: truths.length - missed.length, missed, falsePositives: [...unmatched].map((index) => faces[index]!) };
}

test('default settings find the demo faces', async () => {
  let expected = 0;
  let found = 0;
  const falsePositives: string[] = [];
  const missed: string[] = [];
  for (const photo of fixture.photos) {
    const file = DEMO_PHOTOS.find((p) => p.endsWith(photo.file))!;
    const faces = await detector.detect(await decodeImage(file));
    const result = matchFaces(photo.facesPx, faces);
    expected += photo.facesPx.length;
    found += result.found;
    for (const truth of result.missed) missed.push(`${photo.file} ${JSON.stringify(truth)}`);
    for (const face of result.falsePositives) falsePositives.push(`${photo.file} ${JSON.stringify(face.boxPx)} score ${face.score.toFixed(2)}`);
  }
  assert.equal(expected, 22, 'fixture records 22 faces');
  assert.ok(found >= 21, `found ${found} of 22 faces; missed: ${missed.join('; ')}`);
  assert.deepEqual(falsePositives, [], 'detections that match no recorded face');
});

/** Scale of the demo photos in the mosaic: their faces become about 30-50 px wide. */
const MOSAIC_SCALE = 0.2;

/**
 * Recorded faces the default settings must find in the mosaic, of 72. The `blazeface` scale
 * pyramid found 67 and nothing else. The 256-px tile pyramid that preceded it also found 67, plus
 * two boxes below MATCH_IOU. The margin of 2 absorbs small changes in resampling.
 */
const MOSAIC_MIN_FOUND = 65;

/**
 * Builds a 1920×1280 mosaic of the six demo photos scaled by MOSAIC_SCALE, in rows, cycling
 * through the photos, with their recorded faces moved and scaled to match.
 */
async function demoMosaic(): Promise<{ image: RgbImage; facesPx: BoxPx[] }> {
  const composites: Array<{ input: Buffer; left: number; top: number }> = [];
  const facesPx: BoxPx[] = [];
  let left = 0;
  let top = 0;
  let rowHeight = 0;
  for (let cell = 0; ; cell++) {
    const photo = fixture.photos[cell % fixture.photos.length]!;
    const file = DEMO_PHOTOS.find((p) => p.endsWith(photo.file))!;
    const { width, height } = await sharp(file).metadata();
    const cellWidth = Math.round(width! * MOSAIC_SCALE);
    const cellHeight = Math.round(height! * MOSAIC_SCALE);
    if (left + cellWidth > 1920) [left, top, rowHeight] = [0, top + rowHeight, 0];
    if (top + cellHeight > 1280) break;
    composites.push({ input: await sharp(file).resize(cellWidth, cellHeight).toBuffer(), left, top });
    for (const box of photo.facesPx) {
      facesPx.push({ x: left + box.x * MOSAIC_SCALE, y: top + box.y * MOSAIC_SCALE, width: box.width * MOSAIC_SCALE, height: box.height * MOSAIC_SCALE });
    }
    left += cellWidth;
    rowHeight = Math.max(rowHeight, cellHeight);
  }
  const { data, info } = await sharp({ create: { width: 1920, height: 1280, channels: 3, background: '#000' } })
    .composite(composites)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { image: { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, facesPx };
}

test('default settings find 40-px faces in a mosaic', async () => {
  const { image, facesPx } = await demoMosaic();
  assert.equal(facesPx.length, 72, 'the mosaic holds 18 photos');
  const result = matchFaces(facesPx, await detector.detect(image));
  assert.ok(result.found >= MOSAIC_MIN_FOUND, `found ${result.found} of ${facesPx.length} faces; missed: ${JSON.stringify(result.missed)}`);
  assert.deepEqual(result.falsePositives.map((face) => face.boxPx), [], 'detections that match no recorded face');
});
