/**
 * A small labelled dataset made from the group photos in @vladmandic/face-api/demo: every
 * face of sample1.jpg and sample2.jpg becomes a person with jittered crops of that face.
 * Faces of sample3.jpg are strangers. Face boxes come from the detector, so this fixture
 * depends on detection working (which test/detect*.test.ts checks on its own).
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { detectFaces } from '../../src/detect/detect-faces.js';
import type { BoxPx } from '../../src/types.js';

const require = createRequire(import.meta.url);
export const DEMO_PHOTOS = [1, 2, 3, 4, 5, 6].map((n) =>
  path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', `sample${n}.jpg`),
);

export interface TinyDataset {
  root: string;
  people: string[];
  /** Crops of faces of people who are not in `people`. */
  strangers: string[];
}

let cached: Promise<TinyDataset> | undefined;

/** Builds the dataset once per process, in a temporary folder. */
export function tinyDataset(): Promise<TinyDataset> {
  cached ??= build();
  return cached;
}

async function build(): Promise<TinyDataset> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-tiny-'));
  const photos = DEMO_PHOTOS.slice(0, 3);
  const detections = await detectFaces(photos);
  const people: string[] = [];
  const strangers: string[] = [];
  for (const [p, photo] of photos.entries()) {
    const faces = [...detections[p]!].sort((a, b) => a.boxPx.x - b.boxPx.x);
    for (const [f, face] of faces.entries()) {
      const name = `person-${p + 1}${String.fromCharCode(97 + f)}`;
      const folder = p < 2 ? path.join(root, 'people', name) : path.join(root, 'strangers');
      await mkdir(folder, { recursive: true });
      const count = p < 2 ? 4 : 1;
      for (let k = 0; k < count; k++) {
        const file = path.join(folder, `${name}-${k}.jpg`);
        await writeCrop(photo, face.boxPx, k, file);
        if (p === 2) strangers.push(file);
      }
      if (p < 2) people.push(name);
    }
  }
  return { root: path.join(root, 'people'), people, strangers };
}

/** Writes crop number `k` of a face: a little larger each time, with a brightness change. */
export async function writeCrop(photo: string, box: BoxPx, k: number, file: string): Promise<void> {
  const meta = await sharp(photo).metadata();
  const side = Math.round(box.width * (2 + 0.25 * k));
  const left = Math.max(0, Math.round(box.x + box.width / 2 - side / 2 + (k % 2 ? 6 : -6)));
  const top = Math.max(0, Math.round(box.y + box.height / 2 - side / 2));
  await sharp(photo)
    .extract({ left, top, width: Math.min(side, meta.width! - left), height: Math.min(side, meta.height! - top) })
    .modulate({ brightness: 0.85 + 0.1 * k })
    .jpeg({ quality: 88 })
    .toFile(file);
}
