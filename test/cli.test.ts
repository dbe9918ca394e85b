import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile, copyFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DEMO_PHOTOS, type TinyDataset, tinyDataset } from './support/tiny-dataset.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'facekit.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/, made by `npm run build` or `npm test`'s pretest step). */
function facekit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      let code = 0;
      if (error) code = typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function hasFfmpeg(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, 'ffmpeg')));
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

let work: string;
let data: TinyDataset;
let cacheEnv: NodeJS.ProcessEnv;

before(async () => {
  assert.ok(existsSync(path.join(root, 'dist', 'cli', 'main.js')), 'dist/ is missing: run npm run build');
  work = await mkdtemp(path.join(os.tmpdir(), 'facekit-cli-'));
  data = await tinyDataset();
  cacheEnv = { XDG_CACHE_HOME: path.join(work, 'cache') };
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('facekit cli', () => {
  test('help lists commands', async () => {
    const run = await facekit(['--help']);
    assert.equal(run.code, 0);
    for (const command of ['detect', 'train', 'evaluate', 'recognize', 'models']) assert.match(run.stdout, new RegExp(`\\b${command}\\b`));
  });

  test('unknown option exits 2', async () => {
    const run = await facekit(['detect', '--bogus', 'x.jpg']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown option/);
  });

  test('invalid threshold names the flag', async () => {
    const run = await facekit(['detect', '--threshold', '7', 'x.jpg']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--threshold/);
  });

  test('models lists installed models', async () => {
    const run = await facekit(['models', '--json']);
    assert.equal(run.code, 0);
    const ids = jsonLines(run.stdout).map((m) => m.id);
    assert.ok(ids.includes('blazeface'), 'blazeface missing');
    assert.ok(ids.includes('faceres'), 'faceres missing');
  });

  test('detect reports bad files and goes on', async () => {
    const folder = path.join(work, 'detect-in');
    await import('node:fs/promises').then((fs) => fs.mkdir(folder, { recursive: true }));
    await copyFile(DEMO_PHOTOS[0]!, path.join(folder, 'group.jpg'));
    await writeFile(path.join(folder, 'broken.jpg'), 'not an image');
    const out = path.join(work, 'detect-out');
    const run = await facekit(['detect', folder, '--json', '--out', out]);
    assert.equal(run.code, 1, run.stderr);
    const records = jsonLines(run.stdout);
    const broken = records.find((r) => String(r.file).endsWith('broken.jpg'));
    const group = records.find((r) => String(r.file).endsWith('group.jpg'));
    assert.equal((broken?.error as { code: string }).code, 'ERR_UNSUPPORTED_IMAGE');
    assert.ok(Array.isArray(group?.faces), 'group.jpg has no faces array');
    assert.ok((group.faces as unknown[]).length >= 3, 'fewer than 3 faces in group.jpg');
    const written = await readdir(out);
    assert.ok(written.includes('group.jpg'));
    assert.ok(written.some((name) => name.startsWith('group_face1')));
  });

  test('train, refuse overwrite, recognize', async () => {
    const model = path.join(work, 'model');
    const trained = await facekit(['train', data.root, '--out', model, '--augment', '1', '--epochs', '20', '--head', 'linear', '--json'], cacheEnv);
    assert.equal(trained.code, 0, trained.stderr);
    const result = jsonLines(trained.stdout).find((r) => r.type === 'result');
    assert.ok(result, 'no result record');
    assert.ok(existsSync(path.join(model, 'manifest.json')));

    const again = await facekit(['train', data.root, '--out', model], cacheEnv);
    assert.equal(again.code, 7);
    assert.match(again.stderr, /already exists/);

    const csv = path.join(work, 'faces.csv');
    const recognized = await facekit(['recognize', '--model', model, DEMO_PHOTOS[0]!, '--csv', csv, '--json'], cacheEnv);
    assert.equal(recognized.code, 0, recognized.stderr);
    const lines = jsonLines(recognized.stdout);
    const summary = lines.find((r) => r.type === 'summary') as { faces: number; people: Record<string, number> };
    assert.ok(summary.faces >= 3);
    assert.ok(Object.keys(summary.people).length >= 2);
    const rows = (await readFile(csv, 'utf8')).trim().split('\n');
    assert.equal(rows[0], 'source,time_sec,face,label,known,confidence,x,y,width,height,detection_score');
    assert.equal(rows.length - 1, summary.faces);

    const { cp } = await import('node:fs/promises');
    const damaged = path.join(work, 'damaged-model');
    await cp(model, damaged, { recursive: true });
    await writeFile(path.join(damaged, 'manifest.json'), '{"formatVersion": 1');
    const refused = await facekit(['recognize', '--model', damaged, DEMO_PHOTOS[0]!]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /manifest\.json/);
  });

  test('recognize video gives tracks', { skip: hasFfmpeg() ? false : 'ffmpeg is not installed' }, async () => {
    const model = path.join(work, 'model');
    assert.ok(existsSync(model), 'the training test must run first');
    const { ensureTestVideo } = await import('../scripts/make-test-video.js');
    const video = await ensureTestVideo();
    const run = await facekit(['recognize', '--model', model, '--json', '--fps', '2', video.paths.mp4, video.paths.audioOnly], cacheEnv);
    assert.equal(run.code, 1, 'the audio-only file must count as failed');
    const records = jsonLines(run.stdout);
    const tracks = records.filter((r) => r.track !== undefined);
    assert.ok(tracks.length >= 1, 'no face tracks in the test video');
    for (const track of tracks) assert.ok(Number(track.lastSec) >= Number(track.firstSec));
    const summary = records.find((r) => r.type === 'summary') as { frames: number; failed: Array<{ file: string; code: string }> };
    assert.ok(summary.frames >= 10, `only ${summary.frames} frames read`);
    assert.equal(summary.failed.length, 1);
    assert.equal(summary.failed[0]!.code, 'ERR_VIDEO');
    assert.match(run.stderr, /audio-only\.mp4/);
  });

  test('--csv - writes the rows to stdout', async () => {
    const model = path.join(work, 'model');
    assert.ok(existsSync(model), 'the training test must run first');
    const run = await facekit(['recognize', '--model', model, DEMO_PHOTOS[0]!, '--csv', '-'], cacheEnv);
    assert.equal(run.code, 0, run.stderr);
    const rows = run.stdout.trim().split('\n');
    assert.equal(rows[0], 'source,time_sec,face,label,known,confidence,x,y,width,height,detection_score');
    assert.ok(rows.length >= 4, `only ${rows.length - 1} rows`);
    assert.ok(!existsSync(path.join(root, '-')), 'a file named - was written');
    // The human-readable lines move to stderr.
    assert.match(run.stderr, /Read 1 image/);
  });

  test('unwritable outputs exit 7 before any work', async () => {
    const model = path.join(work, 'model');
    assert.ok(existsSync(model), 'the training test must run first');
    const file = path.join(work, 'plain-file');
    await writeFile(file, 'not a folder');

    const intoFile = await facekit(['recognize', '--model', model, DEMO_PHOTOS[0]!, '--out', file]);
    assert.equal(intoFile.code, 7, intoFile.stderr);
    assert.match(intoFile.stderr, /--out .*plain-file is a file/);

    const csvNowhere = await facekit(['recognize', '--model', model, DEMO_PHOTOS[0]!, '--csv', path.join(work, 'no-folder', 'faces.csv')]);
    assert.equal(csvNowhere.code, 7, csvNowhere.stderr);
    assert.match(csvNowhere.stderr, /--csv .*no-folder.*ENOENT/);

    const detectIntoFile = await facekit(['detect', DEMO_PHOTOS[0]!, '--out', file]);
    assert.equal(detectIntoFile.code, 7, detectIntoFile.stderr);

    const forceOntoFile = await facekit(['train', data.root, '--out', file, '--force'], cacheEnv);
    assert.equal(forceOntoFile.code, 7, forceOntoFile.stderr);
    assert.match(forceOntoFile.stderr, /is not a facekit model/);
    assert.doesNotMatch(forceOntoFile.stderr, /training/i, 'train started before checking its output folder');

    const underFile = await facekit(['train', data.root, '--out', path.join(file, 'model')], cacheEnv);
    assert.equal(underFile.code, 7, underFile.stderr);
    assert.match(underFile.stderr, /plain-file is a file/);
    assert.doesNotMatch(underFile.stderr, /training/i, 'train started before checking its output folder');
  });

  test('a missing only input exits 3', async () => {
    const run = await facekit(['detect', path.join(work, 'no-such-photo.jpg')]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /no-such-photo\.jpg does not exist/);
  });

  test('missing model folder exits 3', async () => {
    const run = await facekit(['recognize', '--model', path.join(work, 'absent'), DEMO_PHOTOS[0]!]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /absent/);
  });

  test('one-person dataset exits 5', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-cli-one-'));
    const { cp } = await import('node:fs/promises');
    await cp(path.join(data.root, data.people[0]!), path.join(root, data.people[0]!), { recursive: true });
    const run = await facekit(['train', root, '--out', path.join(root, 'model')], cacheEnv);
    await rm(root, { recursive: true, force: true });
    assert.equal(run.code, 5);
    assert.match(run.stderr, /at least two people/);
  });
});
