import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { FaceDetector } from '../src/detect/detector.js';
import { intersectionOverUnion } from '../src/detect/nms.js';
import { decodeImage } from '../src/image/decode.js';
import { loadModel } from '../src/runtime/load.js';
import type { BoxPx } from '../src/types.js';
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

test('default settings find the demo faces', async () => {
  let expected = 0;
  let found = 0;
  const falsePositives: string[] = [];
  const missed: string[] = [];
  for (const photo of fixture.photos) {
    const file = DEMO_PHOTOS.find((p) => p.endsWith(photo.file))!;
    const faces = await detector.detect(await decodeImage(file));
    const unmatched = new Set(faces.keys());
    for (const truth of photo.facesPx) {
      expected += 1;
      let best = -1;
      let bestIou = MATCH_IOU;
      for (const index of unmatched) {
        const iou = intersectionOverUnion(truth, faces[index]!.boxPx);
        if (iou >= bestIou) [best, bestIou] = [index, iou];
      }
      if (best >= 0) {
        found += 1;
        unmatched.delete(best);
      } else missed.push(`${photo.file} ${JSON.stringify(truth)}`);
    }
    for (const index of unmatched) falsePositives.push(`${photo.file} ${JSON.stringify(faces[index]!.boxPx)} score ${faces[index]!.score.toFixed(2)}`);
  }
  assert.equal(expected, 22, 'fixture records 22 faces');
  assert.ok(found >= 21, `found ${found} of 22 faces; missed: ${missed.join('; ')}`);
  assert.deepEqual(falsePositives, [], 'detections that match no recorded face');
});
