/**
 * The HTTP API against a real server on 127.0.0.1 with an ephemeral port, real models and
 * a dataset of face crops from the @vladmandic/face-api demo photos.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeFaceCrops, writeFaceDataset } from '../scripts/make-face-crops.js';
import { FacePipeline } from '../src/embed/face-pipeline.js';
import { decodeImage } from '../src/image/decode.js';
import { type FacekitServer, createServer } from '../src/server/server.js';

const require = createRequire(import.meta.url);
const PHOTO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'test-token-1234';
/** Body limit of the test server: sample1.jpg (145 kB) passes, the 3 MB test body does not. */
const BODY_LIMIT_BYTES = 2 * 1024 * 1024;

let server: FacekitServer;
let workDir: string;
let photoBytes: Buffer;
let cropBytes: Buffer;

function url(route: string): string {
  return `${server.url}${route}`;
}

function call(route: string, init: RequestInit = {}, token: string | null = TOKEN): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return fetch(url(route), { ...init, headers });
}

function postImage(route: string, bytes: Buffer, type = 'image/jpeg'): Promise<Response> {
  return call(route, { method: 'POST', body: Uint8Array.from(bytes), headers: { 'content-type': type } });
}

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, 'string');
  assert.doesNotMatch(body.error.message, /\n\s+at /, 'error messages carry no stack trace');
  return body.error.code;
}

/** Reads a server-sent event stream until the `end` event and returns every event. */
async function readEvents(route: string): Promise<Array<{ event: string; data: any }>> {
  const response = await call(route);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: Array<{ event: string; data: any }> = [];
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.+)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (data !== undefined) events.push({ event: name, data: JSON.parse(data) });
    }
  }
  return events;
}

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'facekit-server-'));
  await writeFaceDataset(path.join(workDir, 'dataset'), ['ada', 'grace', 'hedy'], 5);
  const [crop] = await writeFaceCrops(path.join(workDir, 'crops'), 'grace', 1, 99);
  cropBytes = await readFile(crop!);
  photoBytes = await readFile(PHOTO);
  server = await createServer({
    dataset: path.join(workDir, 'dataset'),
    models: path.join(workDir, 'models'),
    port: 0,
    token: TOKEN,
    trainCacheDir: false,
    limits: { bodyBytes: BODY_LIMIT_BYTES, maxConcurrentInference: 1, maxQueuedInference: 1 },
  });
});

after(async () => {
  await server?.close();
  await rm(workDir, { recursive: true, force: true });
});

describe('server basics', () => {
  test('health reports the version', async () => {
    const response = await call('/api/health');
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; version: string; activeModel: string | null };
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.version, version);
    assert.equal(body.activeModel, null);
  });

  test('auth rejects missing and wrong tokens', async () => {
    const missing = await call('/api/health', {}, null);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal(await errorCode(missing), 'ERR_UNAUTHORIZED');
    const wrong = await call('/api/people', {}, 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal(await errorCode(wrong), 'ERR_UNAUTHORIZED');
    const page = await fetch(url('/'));
    assert.equal(page.status, 200, 'the web UI itself needs no token');
    assert.match(await page.text(), /<title>facekit<\/title>/);
  });

  test('cross-origin and foreign Host requests are rejected', async () => {
    const crossOrigin = await call('/api/health', { headers: { origin: 'http://example.test' } });
    assert.equal(crossOrigin.status, 403);
    assert.equal(await errorCode(crossOrigin), 'ERR_FORBIDDEN');
    const sameOrigin = await call('/api/health', { headers: { origin: server.url } });
    assert.equal(sameOrigin.status, 200);
  });

  test('unknown routes answer 404 JSON', async () => {
    for (const route of ['/api/nope', '/no/such/page']) {
      const response = await call(route);
      assert.equal(response.status, 404, route);
      assert.match(response.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(await errorCode(response), 'ERR_NOT_FOUND');
    }
  });
});

describe('detection and recognition', () => {
  test('detect returns the library result', async () => {
    const response = await postImage('/api/detect', photoBytes);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { source: string; width: number; height: number; faces: unknown[] };
    assert.equal(body.source, 'upload');
    assert.equal(body.width, 1920);
    assert.equal(body.height, 1280);
    assert.ok(body.faces.length >= 3, `sample1.jpg shows at least 3 faces, got ${body.faces.length}`);
    const pipeline = await FacePipeline.create();
    try {
      const expected = await pipeline.detect(await decodeImage(PHOTO));
      assert.deepEqual(body.faces, JSON.parse(JSON.stringify(expected)));
    } finally {
      await pipeline.dispose();
    }
  });

  test('detect accepts multipart uploads', async () => {
    const form = new FormData();
    form.append('image', new Blob([Uint8Array.from(photoBytes)], { type: 'image/jpeg' }), 'group.jpg');
    const response = await call('/api/detect', { method: 'POST', body: form });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { source: string; faces: unknown[] };
    assert.equal(body.source, 'group.jpg');
    assert.ok(body.faces.length >= 3);
  });

  test('bad uploads get typed errors', async () => {
    const notImage = await postImage('/api/detect', Buffer.from('plain text, not pixels'));
    assert.equal(notImage.status, 415);
    assert.equal(await errorCode(notImage), 'ERR_UNSUPPORTED_IMAGE');
    const empty = await postImage('/api/detect', Buffer.alloc(0));
    assert.equal(empty.status, 400);
    const wrongType = await call('/api/detect', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 415);
    assert.equal(await errorCode(wrongType), 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const malformed = await call('/api/detect', { method: 'POST', body: 'no parts here', headers: { 'content-type': 'multipart/form-data' } });
    assert.equal(malformed.status, 400);
    assert.equal(await errorCode(malformed), 'ERR_BAD_REQUEST');
  });

  test('oversized bodies get 413', async () => {
    const big = Buffer.alloc(BODY_LIMIT_BYTES + 1024 * 1024, 0xff);
    const raw = await postImage('/api/detect', big);
    assert.equal(raw.status, 413);
    assert.equal(await errorCode(raw), 'ERR_PAYLOAD_TOO_LARGE');
    const form = new FormData();
    form.append('image', new Blob([Uint8Array.from(big)], { type: 'image/jpeg' }), 'big.jpg');
    const multipart = await call('/api/detect', { method: 'POST', body: form });
    assert.equal(multipart.status, 413);
    assert.equal(await errorCode(multipart), 'ERR_PAYLOAD_TOO_LARGE');
  });

  test('excess concurrent requests get 503 with Retry-After', async () => {
    // The test server runs 1 inference and queues 1, so of 4 at once at least 2 are turned away.
    const responses = await Promise.all(Array.from({ length: 4 }, () => postImage('/api/detect', photoBytes)));
    const busy = responses.filter((response) => response.status === 503);
    assert.ok(busy.length >= 2, `expected at least 2 busy answers, got statuses ${responses.map((r) => r.status).join(', ')}`);
    assert.equal(busy[0]!.headers.get('retry-after'), '1');
    assert.equal(await errorCode(busy[0]!), 'ERR_BUSY');
    assert.ok(responses.some((response) => response.status === 200));
    await Promise.all(responses.map((response) => (response.bodyUsed ? undefined : response.body?.cancel())));
  });

  test('recognize without a model answers 409', async () => {
    const response = await postImage('/api/recognize', photoBytes);
    assert.equal(response.status, 409);
    assert.equal(await errorCode(response), 'ERR_NO_ACTIVE_MODEL');
  });
});

describe('people and samples', () => {
  test('add, list, fetch and delete a sample', async () => {
    const added = await postImage('/api/people/Zoe/samples', cropBytes);
    assert.equal(added.status, 201);
    const body = (await added.json()) as { kept: boolean; sample: { id: string; url: string; thumbnailUrl: string }; counts: { kept: number } };
    assert.equal(body.kept, true);
    assert.equal(body.counts.kept, 1);

    // The same frame again: the person's collector remembers the first one.
    const again = await postImage('/api/people/Zoe/samples', cropBytes);
    assert.equal(again.status, 200);
    const rejected = (await again.json()) as { kept: boolean; reason: string; detail: string };
    assert.equal(rejected.kept, false);
    assert.equal(rejected.reason, 'near-duplicate');

    const noFace = await postImage('/api/people/Zoe/samples', await blankJpeg());
    assert.equal(((await noFace.json()) as { reason: string }).reason, 'no-face');

    const listed = (await (await call('/api/people/Zoe/samples')).json()) as { samples: Array<{ id: string }> };
    assert.deepEqual(listed.samples.map((s) => s.id), [body.sample.id]);
    const people = (await (await call('/api/people')).json()) as { people: Array<{ name: string; samples: number }> };
    assert.deepEqual(people.people.find((p) => p.name === 'Zoe'), { name: 'Zoe', samples: 1 });

    const image = await call(body.sample.url);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/jpeg');
    await image.arrayBuffer();
    const thumbnail = await call(body.sample.thumbnailUrl);
    assert.equal(thumbnail.headers.get('content-type'), 'image/jpeg');
    assert.ok((await thumbnail.arrayBuffer()).byteLength > 500);

    const deleted = await call(body.sample.url, { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    const remaining = (await (await call('/api/people/Zoe/samples')).json()) as { samples: unknown[] };
    assert.equal(remaining.samples.length, 0);
    const deletedSample = await call(body.sample.url);
    assert.equal(deletedSample.status, 404);
    // An empty person folder would stop training, which needs images for every person.
    assert.equal((await call('/api/people/Zoe', { method: 'DELETE' })).status, 204);
  });

  test('rename and delete a person', async () => {
    await writeFaceCrops(path.join(workDir, 'dataset', 'Temp'), 'ada', 2, 5);
    const renamed = await call('/api/people/Temp', { method: 'PATCH', body: JSON.stringify({ name: 'Temporary' }), headers: { 'content-type': 'application/json' } });
    assert.equal(renamed.status, 200);
    assert.equal(((await renamed.json()) as { samples: unknown[] }).samples.length, 2);
    assert.ok(existsSync(path.join(workDir, 'dataset', 'Temporary')));
    const clash = await call('/api/people/Temporary', { method: 'PATCH', body: JSON.stringify({ name: 'ada' }), headers: { 'content-type': 'application/json' } });
    assert.equal(clash.status, 409);
    assert.equal(await errorCode(clash), 'ERR_ALREADY_EXISTS');
    const deleted = await call('/api/people/Temporary', { method: 'DELETE' });
    assert.equal(deleted.status, 204);
    assert.ok(!existsSync(path.join(workDir, 'dataset', 'Temporary')));
    assert.equal((await call('/api/people/Temporary/samples')).status, 404);
  });

  test('path traversal names are rejected', async () => {
    const outside = path.join(workDir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.jpg'), cropBytes);
    await symlink(outside, path.join(workDir, 'dataset', 'linked'));

    const cases: Array<[string, string, number]> = [
      ['GET', '/api/people/..%2F..%2Foutside/samples', 400],
      ['GET', '/api/people/ada/samples/..%2F..%2Foutside%2Fsecret.jpg', 400],
      ['GET', '/api/people/linked/samples', 400],
      ['DELETE', '/api/people/..%2Foutside', 400],
      ['GET', '/api/people/a/b/samples', 404],
      ['GET', '/api/models/..%2F..%2Fetc/report', 400],
    ];
    for (const [method, route, status] of cases) {
      const response = await call(route, { method });
      assert.equal(response.status, status, `${method} ${route}`);
      await response.body?.cancel();
    }
    const upload = await postImage('/api/people/..%2F..%2Foutside/samples', cropBytes);
    assert.equal(upload.status, 400);
    assert.equal(await errorCode(upload), 'ERR_INVALID_ARGUMENT');
    for (const name of ['a/b', '../x', '.hidden', '']) {
      const rename = await call('/api/people/ada', { method: 'PATCH', body: JSON.stringify({ name }), headers: { 'content-type': 'application/json' } });
      assert.equal(rename.status, 400, `rename to ${JSON.stringify(name)}`);
      await rename.body?.cancel();
    }
    assert.ok(existsSync(path.join(outside, 'secret.jpg')));
    assert.deepEqual((await readdir(outside)).sort(), ['secret.jpg']);
    await rm(path.join(workDir, 'dataset', 'linked'));
  });
});

describe('training jobs', () => {
  test('invalid training options get 400', async () => {
    for (const body of [{ architecture: 'huge' }, { maxEpochs: 0 }, { colour: 'blue' }, { name: '../escape' }]) {
      const response = await call('/api/training', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(await errorCode(response), 'ERR_INVALID_ARGUMENT');
    }
  });

  test('a job runs to completion over SSE', async () => {
    const started = await call('/api/training', {
      method: 'POST',
      body: JSON.stringify({ name: 'tiny', maxEpochs: 8, augment: 0 }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(started.status, 202);
    const job = (await started.json()) as { id: string; status: string };
    assert.equal(job.status, 'running');

    const events = await readEvents(`/api/training/${job.id}/events`);
    const types = events.filter((e) => e.event === 'message').map((e) => e.data.type as string);
    assert.ok(types.includes('scan'));
    assert.ok(events.some((e) => e.data.type === 'fit' && e.data.event.type === 'epoch'));
    assert.equal(types.at(-1), 'saved');
    const end = events.at(-1)!;
    assert.equal(end.event, 'end');
    assert.equal(end.data.status, 'succeeded', JSON.stringify(end.data.error));
    assert.deepEqual(end.data.result.classNames, ['ada', 'grace', 'hedy']);
    assert.equal(end.data.result.activated, true);

    const models = (await (await call('/api/models')).json()) as { active: string; models: Array<{ name: string; valid: boolean }> };
    assert.equal(models.active, 'tiny');
    assert.deepEqual(models.models.map((m) => [m.name, m.valid]), [['tiny', true]]);
    const report = await call('/api/models/tiny/report');
    assert.equal(((await report.json()) as { classNames: string[] }).classNames.length, 3);
    const curves = await call('/api/models/tiny/report/curves.png');
    assert.equal(curves.headers.get('content-type'), 'image/png');
    await curves.arrayBuffer();

    const recognized = await postImage('/api/recognize', cropBytes);
    assert.equal(recognized.status, 200);
    const result = (await recognized.json()) as { model: string; faces: Array<{ label: string; known: boolean; candidates: unknown[] }> };
    assert.equal(result.model, 'tiny');
    assert.equal(result.faces.length, 1);
    assert.equal(result.faces[0]!.label, 'grace');
    const annotated = await postImage('/api/recognize?output=jpeg', cropBytes);
    assert.equal(annotated.headers.get('content-type'), 'image/jpeg');
    assert.equal(annotated.headers.get('x-facekit-faces'), '1');
    await annotated.arrayBuffer();
  });

  test('a second job gets 409 and a cancelled job saves nothing', async () => {
    const started = await call('/api/training', {
      method: 'POST',
      body: JSON.stringify({ name: 'cancelled', maxEpochs: 2000, patience: 2000 }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(started.status, 202);
    const job = (await started.json()) as { id: string };
    const second = await call('/api/training', { method: 'POST', body: JSON.stringify({ name: 'other' }), headers: { 'content-type': 'application/json' } });
    assert.equal(second.status, 409);
    assert.equal(await errorCode(second), 'ERR_TRAINING_RUNNING');

    const cancel = await call(`/api/training/${job.id}/cancel`, { method: 'POST' });
    assert.ok(cancel.status === 202 || cancel.status === 200);
    await cancel.arrayBuffer();
    const events = await readEvents(`/api/training/${job.id}/events`);
    const end = events.at(-1)!;
    assert.equal(end.event, 'end');
    assert.equal(end.data.status, 'cancelled');
    assert.equal(end.data.error.code, 'ERR_CANCELLED');
    const left = await readdir(path.join(workDir, 'models'));
    assert.deepEqual(left, ['tiny'], 'no model folder and no temporary folder is left behind');
  });
});

test('close lets in-flight requests finish', async () => {
  const inFlight = postImage('/api/detect', photoBytes);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await server.close();
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.ok(((await response.json()) as { faces: unknown[] }).faces.length >= 3);
  await assert.rejects(fetch(url('/api/health')), 'the port is closed after close()');
});

test('serve command shuts down on SIGTERM', async () => {
  const models = path.join(workDir, 'cli-models');
  const script = [
    "import { Command } from 'commander';",
    "import { register } from './src/cli/commands/serve.ts';",
    "const program = new Command('facekit');",
    'let code = -1;',
    'register(program, (c) => { code = c; });',
    'await program.parseAsync(process.argv.slice(1), { from: "user" });',
    'process.exitCode = code;',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'serve', '--port', '0', '--models', models, '--log-level', 'info'], {
    cwd: REPO_ROOT,
    env: { ...process.env, FACEKIT_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const listening = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (text: string) => {
      stderr += text;
      const match = /serving the web UI and API on (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.on('exit', () => reject(new Error(`serve exited before listening:\n${stderr}`)));
  });
  const base = await listening;
  const health = await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(health.status, 200);
  assert.equal((await fetch(`${base}/api/health`)).status, 401, 'FACEKIT_TOKEN is required');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.match(stderr, /"signal":"SIGTERM"/);
  assert.match(stderr, /shutdown complete/);
  assert.doesNotMatch(stderr, new RegExp(TOKEN), 'the token is never logged');
});

/** Encodes a 64 × 64 grey JPEG, an image without a face. */
function blankJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer();
}
