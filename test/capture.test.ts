import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';

import { ensureTestVideo, segmentAt, type TestVideo } from '../scripts/make-test-video.js';
import {
  CAPTURE_DEFAULTS,
  type CaptureEvent,
  ORIGINALS_FOLDER,
  SampleCollector,
  captureSamples,
  laplacianVariance,
  measurePose,
  resolveGates,
  utcStamp,
  validatePersonName,
} from '../src/dataset/capture.js';
import { scanDataset } from '../src/dataset/scan.js';
import { FacePipeline } from '../src/embed/face-pipeline.js';
import { isFacekitError } from '../src/errors.js';
import type { PointPx, RgbImage } from '../src/types.js';
import { findFfmpeg, readFrames } from '../src/video/ffmpeg.js';

const PHOTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '@vladmandic', 'face-api', 'demo');

const ffmpegInstalled = await findFfmpeg().then(
  () => true,
  () => false,
);
const needsFfmpeg = ffmpegInstalled ? false : 'ffmpeg is not installed (apt-get install ffmpeg)';

let tempDir: string;
let video: TestVideo;
let pipeline: FacePipeline;

before(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'facekit-capture-'));
  pipeline = await FacePipeline.create();
  if (ffmpegInstalled) video = await ensureTestVideo();
});

after(async () => {
  await pipeline?.dispose();
  await rm(tempDir, { recursive: true, force: true });
});

type FrameEvent = Extract<CaptureEvent, { type: 'frame' }>;

/** Maps every file under `folder`, hidden ones included, by relative path to the SHA-256 of its bytes. */
async function snapshot(folder: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(folder, full), createHash('sha256').update(await readFile(full)).digest('hex'));
  }
  return files;
}

function outcome(event: FrameEvent): string {
  return event.result.kept ? 'kept' : event.result.reason;
}

describe('captureSamples from the test video', { skip: needsFfmpeg }, () => {
  let dataset: string;
  let events: FrameEvent[];
  let firstRun: Awaited<ReturnType<typeof captureSamples>>;

  before(async () => {
    dataset = path.join(tempDir, 'video-dataset');
    events = [];
    firstRun = await captureSamples({
      dataset,
      name: 'Ada',
      from: video.paths.mp4,
      pipeline,
      onEvent: (event) => {
        if (event.type === 'frame') events.push(event);
      },
    });
  });

  function outcomesIn(segment: string): string[] {
    return events.filter((event) => segmentAt(event.timeSec!)?.name === segment).map(outcome);
  }

  it('reads every sampled frame', () => {
    assert.equal(firstRun.framesRead, video.manifest.durationSec * CAPTURE_DEFAULTS.fps);
    assert.equal(events.length, firstRun.framesRead);
    assert.equal(firstRun.stoppedBy, 'end-of-source');
  });

  it('keeps faces in the moving segment', () => {
    const moving = outcomesIn('moving');
    assert.equal(moving[0], 'kept', `moving: ${moving.join(', ')}`);
    assert.ok(moving.every((result) => result === 'kept' || result === 'near-duplicate'), `moving: ${moving.join(', ')}`);
  });

  it('rejects the held frames as near duplicates', () => {
    // The first still frame repeats the last moving frame, which was not sampled, so it
    // may count as new. Every later still frame repeats it.
    const still = outcomesIn('still');
    assert.deepEqual(still.slice(1), Array(still.length - 1).fill('near-duplicate'), `still: ${still.join(', ')}`);
  });

  it('rejects frames without a face', () => {
    const noFace = outcomesIn('no-face');
    assert.ok(noFace.length > 0);
    assert.deepEqual(noFace, Array(noFace.length).fill('no-face'));
  });

  it('rejects the blurred frames', () => {
    const blurred = outcomesIn('blurred');
    assert.ok(blurred.length > 0);
    assert.ok(blurred.every((result) => result === 'blurry' || result === 'no-face'), `blurred: ${blurred.join(', ')}`);
  });

  it('keeps the second person', () => {
    const second = outcomesIn('second-person');
    assert.equal(second[0], 'kept', `second person: ${second.join(', ')}`);
    assert.ok(second.every((result) => result === 'kept' || result === 'near-duplicate'), `second person: ${second.join(', ')}`);
  });

  it('saves one JPEG crop per kept frame', async () => {
    const kept = events.filter((event) => event.result.kept).length;
    assert.equal(firstRun.kept, kept);
    assert.equal(firstRun.files.length, kept);
    const names = (await readdir(path.join(dataset, 'Ada'))).sort();
    assert.deepEqual(names, firstRun.files.map((file) => path.basename(file)).sort());
    for (const name of names) assert.match(name, /^Ada_\d{8}T\d{6}Z_\d+\.jpg$/);
    const { info } = await sharp(firstRun.files[0]!).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [CAPTURE_DEFAULTS.size, CAPTURE_DEFAULTS.size]);
  });

  it('counts rejections by reason', () => {
    const rejected = events.filter((event) => !event.result.kept).map(outcome);
    for (const [reason, count] of Object.entries(firstRun.rejected)) {
      assert.equal(count, rejected.filter((result) => result === reason).length, `count of ${reason}`);
    }
  });

  it('adds files on a second run without overwriting', async () => {
    const personFolder = path.join(dataset, 'Ada');
    const before = await snapshot(personFolder);
    const second = await captureSamples({ dataset, name: 'Ada', from: video.paths.mp4, pipeline, count: 2, saveOriginal: true });

    assert.equal(second.existingCount, firstRun.kept);
    assert.equal(second.kept, 2);
    assert.equal(second.stoppedBy, 'count');
    const afterRun = await snapshot(personFolder);
    for (const [file, hash] of before) assert.equal(afterRun.get(file), hash, `${file} changed or disappeared`);
    const added = [...afterRun.keys()].filter((file) => !before.has(file)).sort();
    const expected = [...second.files, ...second.originals].map((file) => path.relative(personFolder, file)).sort();
    assert.deepEqual(added, expected);
  });

  it('keeps original frames out of the dataset scan', async () => {
    const originals = await readdir(path.join(dataset, 'Ada', ORIGINALS_FOLDER));
    assert.equal(originals.length, 2);
    for (const name of originals) assert.match(name, /_orig\.jpg$/);
    const scanned = await scanDataset(dataset, { validationFraction: 0 });
    assert.ok(scanned.images.every((image) => !image.path.includes(ORIGINALS_FOLDER)));
    assert.equal(scanned.images.length, firstRun.kept + 2);
  });
});

describe('captureSamples errors', () => {
  it('rejects a missing source', async () => {
    const dataset = path.join(tempDir, 'missing-source');
    await assert.rejects(captureSamples({ dataset, name: 'Ada', from: path.join(tempDir, 'no-such.mp4'), pipeline }), (error: unknown) => {
      assert.ok(isFacekitError(error, 'ERR_FILE_NOT_FOUND'), String(error));
      assert.match(error.message, /no-such\.mp4/);
      return true;
    });
    await assert.rejects(readdir(dataset), { code: 'ENOENT' });
  });

  it('rejects an invalid name before reading', async () => {
    const dataset = path.join(tempDir, 'bad-name');
    await assert.rejects(captureSamples({ dataset, name: '../x', from: tempDir, pipeline }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(readdir(dataset), { code: 'ENOENT' });
  });

  it('rejects a person path that is a file', async () => {
    const dataset = path.join(tempDir, 'file-person');
    await mkdir(dataset);
    await writeFile(path.join(dataset, 'Ada'), 'not a folder');
    assert.throws(() => new SampleCollector(pipeline, { dataset, name: 'Ada' }), (error: unknown) => {
      assert.ok(isFacekitError(error, 'ERR_WRITE_FAILED'), String(error));
      assert.equal(error.path, path.join(dataset, 'Ada'));
      return true;
    });
  });

  it('stops cleanly when saving fails', { skip: needsFfmpeg }, async () => {
    const dataset = path.join(tempDir, 'write-fails');
    const personFolder = path.join(dataset, 'Ada');
    const movedFolder = path.join(dataset, 'Ada-moved');
    const saved: string[] = [];
    // After the first sample, the person's folder is replaced by a file, so the next
    // save fails the way a removed or read-only folder would.
    const run = captureSamples({
      dataset,
      name: 'Ada',
      from: video.paths.mp4,
      pipeline,
      onEvent: (event) => {
        if (event.type !== 'frame' || !event.result.kept) return;
        saved.push(path.basename(event.result.path));
        if (saved.length === 1) {
          renameSync(personFolder, movedFolder);
          writeFileSync(personFolder, 'in the way');
        }
      },
    });
    await assert.rejects(run, (error: unknown) => {
      assert.ok(isFacekitError(error, 'ERR_WRITE_FAILED'), String(error));
      assert.equal(error.path, personFolder);
      assert.match(error.message, /Samples saved before the failure \(1\) are kept/);
      return true;
    });
    assert.deepEqual(await readdir(movedFolder), saved);
    assert.equal(await readFile(personFolder, 'utf8'), 'in the way');
  });
});

describe('captureSamples from photos', () => {
  it('reports each photo', async () => {
    const photos = path.join(tempDir, 'photos');
    await mkdir(photos);
    // The profile face on the left of sample2.jpg and a frontal face from sample3.jpg.
    await sharp(path.join(PHOTO_DIR, 'sample2.jpg')).extract({ left: 220, top: 60, width: 470, height: 470 }).resize(320).toFile(path.join(photos, '1-profile.jpg'));
    await sharp(path.join(PHOTO_DIR, 'sample3.jpg')).extract({ left: 470, top: 260, width: 440, height: 440 }).resize(320).toFile(path.join(photos, '2-frontal.jpg'));
    await copyFile(path.join(PHOTO_DIR, 'sample1.jpg'), path.join(photos, '3-group.jpg'));
    await writeFile(path.join(photos, '4-broken.jpg'), 'not an image');

    const events: CaptureEvent[] = [];
    const summary = await captureSamples({
      dataset: path.join(tempDir, 'photo-dataset'),
      name: 'Hedy',
      from: photos,
      pipeline,
      gates: { multiFace: 'skip' },
      onEvent: (event) => events.push(event),
    });

    const outcomes = events.filter((event): event is FrameEvent => event.type === 'frame').map((event) => `${path.basename(event.file!)}: ${outcome(event)}`);
    assert.deepEqual(outcomes, ['1-profile.jpg: not-frontal', '2-frontal.jpg: kept', '3-group.jpg: multiple-faces']);
    assert.equal(summary.sourceKind, 'photos');
    assert.equal(summary.framesRead, 4);
    assert.deepEqual(summary.unreadable.map((item) => [path.basename(item.path), item.code]), [['4-broken.jpg', 'ERR_UNSUPPORTED_IMAGE']]);
    assert.deepEqual(events[0], { type: 'start', name: 'Hedy', folder: path.join(tempDir, 'photo-dataset', 'Hedy'), source: photos, sourceKind: 'photos', target: 100, existingCount: 0, totalFrames: 4 });
  });
});

describe('SampleCollector.offer', { skip: needsFfmpeg }, () => {
  it('runs concurrent offers one at a time', async () => {
    const frame = await firstFrame();
    const collector = new SampleCollector(pipeline, { dataset: path.join(tempDir, 'concurrent'), name: 'Ada' });
    const results = await Promise.all([collector.offer(frame), collector.offer(frame)]);
    assert.deepEqual(results.map((result) => (result.kept ? 'kept' : result.reason)), ['kept', 'near-duplicate']);
    assert.deepEqual(collector.counts.kept, 1);
    assert.equal(collector.counts.rejected['near-duplicate'], 1);
  });

  it('skips file names that exist', async () => {
    const frame = await firstFrame();
    const dataset = path.join(tempDir, 'taken-names');
    const personFolder = path.join(dataset, 'Ada');
    await mkdir(personFolder, { recursive: true });
    // The first name the collector tries for each second of the next half minute.
    const now = Date.now();
    const taken = new Map<string, string>();
    for (let second = 0; second < 30; second++) {
      const name = `Ada_${utcStamp(new Date(now + second * 1000))}_1.jpg`;
      taken.set(name, `placeholder ${second}`);
      await writeFile(path.join(personFolder, name), `placeholder ${second}`);
    }

    const collector = new SampleCollector(pipeline, { dataset, name: 'Ada' });
    assert.equal(collector.existingCount, taken.size);
    const result = await collector.offer(frame);
    assert.ok(result.kept);
    assert.match(path.basename(result.path), /^Ada_\d{8}T\d{6}Z_2\.jpg$/);
    for (const [name, text] of taken) assert.equal(await readFile(path.join(personFolder, name), 'utf8'), text);
    assert.equal((await readdir(personFolder)).length, taken.size + 1);
  });
});

async function firstFrame(): Promise<RgbImage> {
  for await (const decoded of readFrames(video.paths.mp4, { fps: 1 })) return decoded.image;
  throw new Error(`${video.paths.mp4} has no frames`);
}

describe('validatePersonName', () => {
  const invalid: Array<[string, unknown]> = [
    ['parent path', '../x'],
    ['slash', 'a/b'],
    ['backslash', 'a\\b'],
    ['empty', ''],
    ['blank', '   '],
    ['dot dot', '..'],
    ['leading dot', '.hidden'],
    ['NUL', 'a\u0000b'],
    ['line break', 'a\nb'],
    ['Windows character', 'who?'],
    ['too long', 'a'.repeat(101)],
    ['too many bytes', '顔'.repeat(70)],
    ['not a string', 42],
  ];
  for (const [label, name] of invalid) {
    it(`rejects ${label}`, () => {
      assert.throws(() => validatePersonName(name), (error: unknown) => {
        assert.ok(isFacekitError(error, 'ERR_INVALID_ARGUMENT'), String(error));
        assert.match(error.message, /^Invalid person name: expected .+, received .+\. \S/);
        return true;
      });
    });
  }

  it('trims and normalises to NFC', () => {
    assert.equal(validatePersonName('  E\u0301lodie Durand '), 'Élodie Durand');
  });

  it('allows the strangers folder', () => {
    assert.equal(validatePersonName('_unknown'), '_unknown');
  });

  it('allows 100 characters', () => {
    assert.equal(validatePersonName('a'.repeat(100)), 'a'.repeat(100));
  });
});

describe('quality measurements', () => {
  it('gives zero sharpness for a flat image', () => {
    const flat = { data: new Uint8Array(16 * 16 * 3).fill(90), width: 16, height: 16 };
    assert.equal(laplacianVariance(flat), 0);
  });

  it('measures a checkerboard', () => {
    // Grey values alternate 0 and 255, so every interior Laplacian is ±4 × 255 with mean 0.
    const size = 8;
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) data.fill((x + y) % 2 === 0 ? 255 : 0, (y * size + x) * 3, (y * size + x) * 3 + 3);
    }
    const expected = (4 * 255 * (0.299 + 0.587 + 0.114)) ** 2;
    assert.ok(Math.abs(laplacianVariance({ data, width: size, height: size }) - expected) < 1e-3 * expected);
  });

  it('measures a frontal upright pose as zero', () => {
    const keypoints: PointPx[] = [[40, 50], [80, 50], [60, 70], [60, 90]];
    assert.deepEqual(measurePose(keypoints), { yawRatio: 0, rollDeg: 0 });
  });

  it('measures yaw in eye distances and roll in degrees', () => {
    // Eyes 40 px apart along a line tilted by 30°, nose 10 px along that line from their midpoint.
    const angle = Math.PI / 6;
    const along = (distance: number): PointPx => [100 + distance * Math.cos(angle), 100 + distance * Math.sin(angle)];
    const pose = measurePose([along(-20), along(20), along(10)]);
    assert.ok(Math.abs(pose.yawRatio - 0.25) < 1e-9, `yaw ${pose.yawRatio}`);
    assert.ok(Math.abs(pose.rollDeg - 30) < 1e-9, `roll ${pose.rollDeg}`);
  });
});

describe('resolveGates', () => {
  it('fills in the defaults without changing the input', () => {
    const overrides = { minSharpness: 10 };
    const gates = resolveGates(overrides);
    assert.equal(gates.minSharpness, 10);
    assert.equal(gates.minFaceSizePx, CAPTURE_DEFAULTS.minFaceSizePx);
    assert.deepEqual(overrides, { minSharpness: 10 });
  });

  const invalid: Array<[string, object]> = [
    ['gates.minFaceSizePx', { minFaceSizePx: -1 }],
    ['gates.minSharpness', { minSharpness: Number.NaN }],
    ['gates.maxRollDeg', { maxRollDeg: 200 }],
    ['gates.maxSimilarity', { maxSimilarity: 1.5 }],
    ['gates.size', { size: 10.5 }],
    ['gates.multiFace', { multiFace: 'all' }],
  ];
  for (const [name, gates] of invalid) {
    it(`rejects an invalid ${name}`, () => {
      assert.throws(() => resolveGates(gates), { code: 'ERR_INVALID_ARGUMENT', message: new RegExp(`^Invalid ${name.replace('.', '\\.')}:`) });
    });
  }
});

describe('utcStamp', () => {
  it('formats a compact UTC time', () => {
    assert.equal(utcStamp(new Date(Date.UTC(2026, 11, 4, 20, 15, 0, 789))), '20261204T201500Z');
  });
});
