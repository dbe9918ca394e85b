import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { augmentationMatrix, drawAugmentation, viewRandom } from '../src/dataset/augment.js';
import { scanDataset, validationCount } from '../src/dataset/scan.js';
import { FacekitError } from '../src/errors.js';
import { applyAffine } from '../src/align/similarity.js';

async function makeTree(files: string[]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-scan-'));
  for (const file of files) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), 'x');
  }
  return root;
}

describe('scanDataset', () => {
  test('flat layout gets a stratified split', async () => {
    const files = ['Ada/1.jpg', 'Ada/2.jpg', 'Ada/3.jpg', 'Ada/4.jpg', 'Ada/5.jpg', 'Grace/1.png', 'Grace/2.png', 'Solo/1.jpg'];
    const root = await makeTree(files);
    const dataset = await scanDataset(root, { seed: 3 });
    assert.deepEqual(dataset.classNames, ['Ada', 'Grace', 'Solo']);
    assert.equal(dataset.splitSource, 'random');
    const val = (label: number) => dataset.images.filter((i) => i.label === label && i.split === 'val').length;
    assert.equal(val(0), 1, 'Ada: 20% of 5');
    assert.equal(val(1), 1, 'Grace: at least one of two');
    assert.equal(val(2), 0, 'Solo: a single image stays in training');
  });

  test('split is reproducible per seed', async () => {
    const root = await makeTree(Array.from({ length: 10 }, (_, i) => `P/${i}.jpg`).concat(['Q/a.jpg', 'Q/b.jpg']));
    const a = await scanDataset(root, { seed: 1 });
    const b = await scanDataset(root, { seed: 1 });
    const c = await scanDataset(root, { seed: 2 });
    const valOf = (d: typeof a) => d.images.filter((i) => i.split === 'val').map((i) => i.path).join();
    assert.equal(valOf(a), valOf(b));
    assert.notEqual(valOf(a), valOf(c));
  });

  test('train and val folders give the split', async () => {
    const root = await makeTree(['train/Ada/1.jpg', 'train/Ada/2.jpg', 'val/Ada/3.jpg', 'train/Grace/1.jpg', 'validation/Grace/2.jpg', 'val/Grace/9.jpg', '_unknown/x.jpg']);
    const dataset = await scanDataset(root);
    assert.equal(dataset.splitSource, 'folders');
    assert.deepEqual(dataset.classNames, ['Ada', 'Grace']);
    assert.equal(dataset.images.filter((i) => i.split === 'val').length, 2);
    assert.equal(dataset.impostors.length, 1);
  });

  test('unknown folder, hidden and non-image files', async () => {
    const root = await makeTree(['Zoë/1.jpg', 'Zoë/.DS_Store', 'Zoë/notes.txt', 'Élodie/a.JPG', '_unknown/s.png', '.cache/x.jpg']);
    const dataset = await scanDataset(root);
    assert.deepEqual(dataset.classNames, ['Zoë', 'Élodie']);
    assert.equal(dataset.impostors.length, 1);
    assert.equal(dataset.ignored.length, 1);
    assert.match(dataset.ignored[0]!.path, /notes\.txt$/);
  });

  test('missing folder is reported', async () => {
    await assert.rejects(scanDataset('/nonexistent/facekit/dataset'), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_FILE_NOT_FOUND' && error.message.includes('/nonexistent/facekit/dataset'));
  });

  test('invalid fraction is rejected', async () => {
    const root = await makeTree(['A/1.jpg']);
    await assert.rejects(scanDataset(root, { validationFraction: 1.5 }), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_INVALID_ARGUMENT');
  });
});

describe('validationCount', () => {
  const cases: Array<[number, number, number]> = [
    [0, 0.2, 0],
    [1, 0.2, 0],
    [2, 0.2, 1],
    [2, 0.8, 1],
    [10, 0.2, 2],
    [10, 0, 0],
  ];
  for (const [count, fraction, expected] of cases) {
    test(`${count} images at ${fraction}`, () => assert.equal(validationCount(count, fraction), expected));
  }
});

describe('augmentation', () => {
  test('views are seeded by hash and index', () => {
    const hash = 'ab'.repeat(32);
    const a = drawAugmentation(viewRandom(hash, 1, 7));
    const b = drawAugmentation(viewRandom(hash, 1, 7));
    const c = drawAugmentation(viewRandom(hash, 2, 7));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test('identity parameters keep the crop', () => {
    const matrix = augmentationMatrix({ rotationDeg: 0, shiftX: 0, shiftY: 0, zoom: 1, flip: false, brightness: 0, contrast: 1, blur: false }, 224);
    assert.deepEqual(applyAffine(matrix, [10, 20]), [10, 20]);
  });

  test('flip mirrors about the centre', () => {
    const matrix = augmentationMatrix({ rotationDeg: 0, shiftX: 0, shiftY: 0, zoom: 1, flip: true, brightness: 0, contrast: 1, blur: false }, 224);
    const [x, y] = applyAffine(matrix, [10, 20]);
    assert.ok(Math.abs(x - 214) < 1e-9);
    assert.ok(Math.abs(y - 20) < 1e-9);
  });
});
