import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, writeFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FacekitError } from '../src/errors.js';
import { RECOGNIZE_LOOKAHEAD, createRecognizer } from '../src/recognize/recognizer.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { type TrainEvent, type TrainResult, train } from '../src/train/train.js';
import { DEMO_PHOTOS, type TinyDataset, tinyDataset } from './support/tiny-dataset.js';

/** Small, fast training settings: the point is the workflow, not accuracy. */
const QUICK = { augment: 1, maxEpochs: 20, architecture: 'linear' as const };

let data: TinyDataset;
let work: string;
let trained: TrainResult;
let events: TrainEvent[];

before(async () => {
  data = await tinyDataset();
  work = await mkdtemp(path.join(os.tmpdir(), 'facekit-train-'));
  events = [];
  trained = await train({ dataset: data.root, output: path.join(work, 'model'), cacheDir: path.join(work, 'cache'), ...QUICK, onEvent: (e) => events.push(e) });
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('train', () => {
  test('saves model and report files', async () => {
    const files = await readdir(trained.directory);
    for (const name of ['manifest.json', 'report.json', 'report.md', 'curves.png', 'confusion.png']) assert.ok(files.includes(name), `${name} missing`);
    assert.deepEqual(trained.model.classNames, [...data.people].sort());
  });

  test('learns the people', () => {
    assert.ok(trained.metrics.accuracy >= 0.8, `validation accuracy ${trained.metrics.accuracy}`);
  });

  test('reports progress events in order', () => {
    const kinds = events.map((e) => e.type);
    assert.equal(kinds[0], 'scan');
    assert.ok(kinds.includes('prepare'));
    assert.ok(events.some((e) => e.type === 'fit' && e.event.type === 'epoch'));
    assert.equal(kinds.at(-1), 'saved');
  });

  test('second run reads every face from cache', async () => {
    const seen: TrainEvent[] = [];
    await train({ dataset: data.root, output: path.join(work, 'model-2'), cacheDir: path.join(work, 'cache'), ...QUICK, onEvent: (e) => seen.push(e) });
    const prepared = seen.filter((e) => e.type === 'prepare');
    assert.ok(prepared.length > 0);
    assert.ok(prepared.every((e) => e.type === 'prepare' && e.cached), 'some images were prepared again');
  });

  test('existing model is kept without force', async () => {
    const manifest = await readFile(path.join(trained.directory, 'manifest.json'));
    await assert.rejects(
      train({ dataset: data.root, output: trained.directory, cacheDir: path.join(work, 'cache'), ...QUICK }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_ALREADY_EXISTS' && error.message.includes(trained.directory),
    );
    assert.deepEqual(await readFile(path.join(trained.directory, 'manifest.json')), manifest);
  });

  test('cancelled training saves nothing', async () => {
    const controller = new AbortController();
    const output = path.join(work, 'cancelled');
    await assert.rejects(
      train({
        dataset: data.root,
        output,
        cacheDir: path.join(work, 'cache'),
        ...QUICK,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'fit' && e.event.type === 'epoch') controller.abort();
        },
      }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_CANCELLED',
    );
    await assert.rejects(stat(output));
    assert.deepEqual((await readdir(work)).filter((name) => name.startsWith('cancelled')), []);
  });
});

describe('train bad input', () => {
  test('missing dataset folder', async () => {
    await assert.rejects(
      train({ dataset: path.join(work, 'nope'), output: path.join(work, 'x') }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_FILE_NOT_FOUND' && error.message.includes('nope'),
    );
  });

  test('one person is not enough', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-one-'));
    await cp(path.join(data.root, data.people[0]!), path.join(root, data.people[0]!), { recursive: true });
    await assert.rejects(
      train({ dataset: root, output: path.join(root, 'model'), cacheDir: path.join(work, 'cache'), ...QUICK }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_DATASET' && /at least two people/.test(error.message),
    );
  });

  test('empty dataset', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-empty-'));
    await assert.rejects(
      train({ dataset: root, output: path.join(root, 'model') }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_DATASET' && /no person folders/.test(error.message),
    );
  });

  test('corrupt image and copy are reported', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-mixed-'));
    await cp(data.root, root, { recursive: true });
    const person = data.people[0]!;
    await writeFile(path.join(root, person, 'broken.jpg'), 'this is not a jpeg');
    const first = (await readdir(path.join(root, person))).find((name) => name.endsWith('-0.jpg'))!;
    await cp(path.join(root, person, first), path.join(root, person, 'copy-of-first.jpg'));
    const result = await train({ dataset: root, output: path.join(root, '..', `${path.basename(root)}-model`), cacheDir: path.join(work, 'cache'), ...QUICK });
    const broken = result.skipped.find((item) => item.path.endsWith('broken.jpg'));
    assert.ok(broken, 'broken.jpg is not reported');
    assert.equal(broken.code, 'ERR_UNSUPPORTED_IMAGE');
    assert.equal(result.duplicates.length, 1);
    assert.match(result.duplicates[0]!.dropped + result.duplicates[0]!.kept, /copy-of-first\.jpg/);
  });
});

describe('recognizer', () => {
  test('names people in a group photo', async () => {
    const recognizer = await createRecognizer({ model: trained.directory });
    const result = await recognizer.recognize(DEMO_PHOTOS[0]!);
    await recognizer.dispose();
    assert.ok(result.faces.length >= 3);
    const named = result.faces.filter((face) => face.known);
    assert.ok(named.length >= 2, `only ${named.length} faces named: ${result.faces.map((f) => f.label).join(', ')}`);
    for (const face of result.faces) {
      assert.ok(face.confidence >= 0, `confidence ${face.confidence} below 0`);
      assert.ok(face.confidence <= 1, `confidence ${face.confidence} above 1`);
      assert.equal(face.candidates.length, 3);
      if (face.known) assert.ok(face.label.startsWith('person-1'), `${face.label} in sample1`);
    }
  });

  test('threshold 1 makes everyone unknown', async () => {
    const recognizer = await createRecognizer({ model: trained.directory, threshold: 1 });
    const result = await recognizer.recognize(DEMO_PHOTOS[0]!);
    await recognizer.dispose();
    assert.ok(result.faces.length > 0);
    assert.ok(result.faces.every((face) => face.label === 'unknown' && !face.known));
  });

  test('batch equals single calls', async () => {
    const recognizer = await createRecognizer({ model: trained.directory });
    const batch = await recognizer.recognizeBatch([DEMO_PHOTOS[0]!, DEMO_PHOTOS[1]!]);
    const single = await recognizer.recognize(DEMO_PHOTOS[1]!);
    await recognizer.dispose();
    assert.equal(batch.length, 2);
    assert.deepEqual(batch[1]!.faces.map((f) => f.label), single.faces.map((f) => f.label));
    batch[1]!.faces.forEach((face, i) => assert.ok(Math.abs(face.confidence - single.faces[i]!.confidence) < 1e-4));
  });

  test('recognizeEach keeps order past a bad file', async () => {
    const missing = path.join(work, 'no-such-photo.jpg');
    const inputs = [DEMO_PHOTOS[1]!, missing, DEMO_PHOTOS[0]!, DEMO_PHOTOS[1]!];
    const recognizer = await createRecognizer({ model: trained.directory });
    const outcomes = [];
    for await (const outcome of recognizer.recognizeEach(inputs)) outcomes.push(outcome);
    const single = await recognizer.recognize(DEMO_PHOTOS[0]!);
    await recognizer.dispose();

    assert.deepEqual(
      outcomes.map((o) => o.index),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      outcomes.map((o) => o.input),
      inputs,
    );
    const failed = outcomes[1]!;
    assert.ok(!failed.ok, 'the missing file has a result');
    assert.ok(failed.error instanceof FacekitError, String(failed.error));
    assert.match(failed.error.message, /no-such-photo\.jpg/);
    const third = outcomes[2]!;
    assert.ok(third.ok, 'the photo after the missing file failed');
    assert.deepEqual(
      third.result.faces.map((f) => f.label),
      single.faces.map((f) => f.label),
    );
  });

  test('recognizeEach reads two ahead and closes its source', async () => {
    let pulled = 0;
    let closed = false;
    function* photos(): Generator<string> {
      try {
        for (let i = 0; i < 10; i++) {
          pulled += 1;
          yield DEMO_PHOTOS[0]!;
        }
      } finally {
        closed = true;
      }
    }
    const recognizer = await createRecognizer({ model: trained.directory });
    let pulledAtFirst = 0;
    for await (const outcome of recognizer.recognizeEach(photos())) {
      if (!outcome.ok) assert.fail(String(outcome.error));
      pulledAtFirst = pulled;
      break;
    }
    await recognizer.dispose();

    assert.equal(pulledAtFirst, 1 + RECOGNIZE_LOOKAHEAD);
    assert.ok(closed, 'the source generator was not closed after break');
  });

  test('use after dispose fails', async () => {
    const recognizer = await createRecognizer({ model: trained.directory });
    await recognizer.dispose();
    await recognizer.dispose();
    await assert.rejects(recognizer.recognize(DEMO_PHOTOS[0]!), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_DISPOSED');
  });

  test('other backbone weights are refused', async () => {
    const copy = path.join(work, 'tampered');
    await cp(trained.directory, copy, { recursive: true });
    const file = path.join(copy, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8'));
    manifest.backbone.sha256 = 'f'.repeat(64);
    await writeFile(file, JSON.stringify(manifest));
    await assert.rejects(createRecognizer({ model: copy }), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_MODEL_MISMATCH' && error.message.includes(copy));
  });

  test('missing model folder', async () => {
    await assert.rejects(createRecognizer({ model: path.join(work, 'no-such-model') }), (error: unknown) => error instanceof FacekitError && error.message.includes('no-such-model'));
  });

  test('memory stays flat over repeated calls', async () => {
    const recognizer = await createRecognizer({ model: trained.directory, detector: { tiling: false } });
    const { default: sharp } = await import('sharp');
    const frame = await sharp(DEMO_PHOTOS[0]!).resize(320, 240, { fit: 'cover' }).jpeg().toBuffer();
    for (let i = 0; i < 50; i++) await recognizer.recognize(frame);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) await recognizer.recognize(frame);
    const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    await recognizer.dispose();
    // Loose bound: a leak of one 320×240 frame per call would add about 220 MiB.
    assert.ok(grownMiB < 60, `RSS grew by ${grownMiB.toFixed(1)} MiB over 1,000 calls`);
  });
});

describe('evaluate', () => {
  test('counts unknown folders as strangers', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-eval-'));
    await cp(data.root, root, { recursive: true });
    await cp(path.dirname(data.strangers[0]!), path.join(root, 'Somebody_Else'), { recursive: true });
    const report = await evaluateModel({ model: trained.directory, dataset: root, cacheDir: path.join(work, 'cache') });
    assert.deepEqual(report.strangerFolders, ['Somebody_Else']);
    assert.ok(report.metrics.openSet);
    assert.equal(report.metrics.openSet.impostorCount, data.strangers.length - report.skipped.filter((s) => s.path.includes('Somebody_Else')).length);
    assert.ok(report.metrics.accuracy > 0.8);
  });
});
