// `npm run demo`: the whole facekit path on a fresh machine, offline, in about a minute.
//
// It is a demonstration, not a measurement. The six group photos shipped in
// @vladmandic/face-api (demo/sample1.jpg … sample6.jpg) hold 22 faces; each face becomes a
// "person" whose training photos are jittered crops of that one face. facekit trains on
// them, then names the people in transformed copies of the group photos (mirrored,
// rescaled, recompressed, slightly rotated). Accuracy figures live in docs/benchmarks.md.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { MARK_COLORS, annotateImage, createRecognizer, decodeImage, detectFaces, train } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'demo-output');
const require = createRequire(import.meta.url);
const photoDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const photos = [1, 2, 3, 4, 5, 6].map((n) => path.join(photoDir, `sample${n}.jpg`));

const CROPS_PER_PERSON = 8;

/** Seeded uniform numbers in [0, 1), so the demo makes the same files on every run. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

await rm(out, { recursive: true, force: true });
log('facekit demo: each face in the six face-api sample photos becomes a person.');

// 1. Find the faces, and make a dataset of jittered crops per face.
const detections = await detectFaces(photos);
const people = [];
const next = random(7);
for (const [p, photo] of photos.entries()) {
  const meta = await sharp(photo).metadata();
  const faces = [...detections[p]].sort((a, b) => a.boxPx.x - b.boxPx.x);
  for (const [f, face] of faces.entries()) {
    const name = `photo${p + 1}-face${f + 1}`;
    people.push({ name, photo: p, centre: [face.boxPx.x + face.boxPx.width / 2, face.boxPx.y + face.boxPx.height / 2] });
    const folder = path.join(out, 'dataset', name);
    await mkdir(folder, { recursive: true });
    for (let k = 0; k < CROPS_PER_PERSON; k++) {
      const side = face.boxPx.width * (2 + next() * 0.8);
      const cx = face.boxPx.x + face.boxPx.width / 2 + (next() - 0.5) * 0.2 * face.boxPx.width;
      const cy = face.boxPx.y + face.boxPx.height / 2 + (next() - 0.5) * 0.2 * face.boxPx.height;
      const left = Math.max(0, Math.round(cx - side / 2));
      const top = Math.max(0, Math.round(cy - side / 2));
      const width = Math.min(meta.width - left, Math.round(side));
      const height = Math.min(meta.height - top, Math.round(side));
      let crop = sharp(photo).extract({ left, top, width, height }).resize(320).modulate({ brightness: 0.8 + next() * 0.4 });
      if (next() < 0.5) crop = crop.flop();
      await crop.jpeg({ quality: 70 + Math.round(next() * 25) }).toFile(path.join(folder, `${name}-${k + 1}.jpg`));
    }
  }
}
log(`1. Dataset: ${people.length} people, ${CROPS_PER_PERSON} crops each, in ${path.relative(root, path.join(out, 'dataset'))}/`);

// 2. Train a model on it.
const trained = await train({
  dataset: path.join(out, 'dataset'),
  output: path.join(out, 'model'),
  force: true,
  augment: 2,
  cacheDir: false,
  onEvent: (event) => {
    if (event.type === 'fit' && event.event.type === 'end') log(`   trained ${event.event.epochs} epochs (best ${event.event.bestEpoch})`);
  },
});
log(`2. Model: ${path.relative(root, trained.directory)}/ (validation top-1 ${(trained.metrics.accuracy * 100).toFixed(0)}% on ${trained.metrics.sampleCount} held-out crops; report.md beside it)`);

// 3. Transformed copies of the group photos: the model has never seen these pixels.
const transforms = [
  { name: 'mirrored', apply: (image) => image.flop(), point: (x, y, w) => [w - x, y] },
  { name: 'rescaled', apply: (image, meta) => image.resize(Math.round(meta.width * 0.6)), point: (x, y) => [x * 0.6, y * 0.6] },
  { name: 'recompressed', apply: (image) => image.jpeg({ quality: 35 }), point: (x, y) => [x, y] },
  { name: 'rotated', apply: (image) => image.rotate(6, { background: '#808080' }), point: null },
];
await mkdir(path.join(out, 'test'), { recursive: true });
await mkdir(path.join(out, 'annotated'), { recursive: true });
const recognizer = await createRecognizer({ model: trained.directory });
let faces = 0;
let named = 0;
let right = 0;
let checked = 0;
for (const [p, photo] of photos.entries()) {
  const meta = await sharp(photo).metadata();
  for (const transform of transforms) {
    const file = path.join(out, 'test', `sample${p + 1}-${transform.name}.jpg`);
    await transform.apply(sharp(photo), meta).jpeg({ quality: transform.name === 'recompressed' ? 35 : 90 }).toFile(file);
    const result = await recognizer.recognize(file);
    faces += result.faces.length;
    for (const face of result.faces) {
      if (face.known) named += 1;
      if (!transform.point) continue;
      // The person this face was cut from: the nearest original face centre, moved by the same transform.
      const cx = face.boxPx.x + face.boxPx.width / 2;
      const cy = face.boxPx.y + face.boxPx.height / 2;
      let best;
      for (const person of people.filter((q) => q.photo === p)) {
        const [x, y] = transform.point(person.centre[0], person.centre[1], meta.width);
        const distance = Math.hypot(x - cx, y - cy);
        if (!best || distance < best.distance) best = { person, distance };
      }
      checked += 1;
      if (best && face.label === best.person.name) right += 1;
    }
    const image = await decodeImage(file);
    const marks = result.faces.map((face) => ({
      boxPx: face.boxPx,
      label: `${face.label} ${(face.confidence * 100).toFixed(0)}%`,
      color: face.known ? MARK_COLORS.known : MARK_COLORS.unknown,
    }));
    await writeFile(path.join(out, 'annotated', path.basename(file)), await annotateImage(image, marks));
  }
}
await recognizer.dispose();
log(`3. Recognition on ${photos.length * transforms.length} transformed photos: ${faces} faces found, ${named} named, ${faces - named} unknown.`);
log(`   On the mirrored, rescaled and recompressed copies, ${right} of ${checked} faces got the name of the face they were cut from.`);
log(`   Annotated images: ${path.relative(root, path.join(out, 'annotated'))}/`);
log('This demo trains on crops of the same photos it then recognises, so it shows the workflow, not accuracy; see docs/benchmarks.md for measurements.');
