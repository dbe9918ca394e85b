/** The server's small parts: guards, the status table, the inference gate, request parsing and listen errors. No models are loaded. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ERROR_CODES, FacekitError } from '../src/errors.js';
import { stripPort } from '../src/server/auth.js';
import { HTTP_STATUS_FOR_ERROR, HttpError, toErrorResponse } from '../src/server/errors.js';
import { SERVER_DEFAULTS, isLoopbackHost, resolveServerOptions } from '../src/server/options.js';
import { createServer } from '../src/server/server.js';
import { checkSegment, resolveInside } from '../src/server/paths.js';
import { InferenceGate } from '../src/server/semaphore.js';
import { defaultModelName, parseTrainingRequest } from '../src/server/training-jobs.js';

describe('host checks', () => {
  test('isLoopbackHost on common hosts', () => {
    const cases: Array<[string, boolean]> = [
      ['127.0.0.1', true],
      ['127.1.2.3', true],
      ['localhost', true],
      ['LOCALHOST', true],
      ['::1', true],
      ['[::1]', true],
      ['0.0.0.0', false],
      ['::', false],
      ['192.168.1.10', false],
      ['example.test', false],
      ['127.0.0.1.example.test', false],
    ];
    for (const [host, expected] of cases) assert.equal(isLoopbackHost(host), expected, host);
  });

  test('stripPort keeps the host part', () => {
    assert.equal(stripPort('127.0.0.1:7860'), '127.0.0.1');
    assert.equal(stripPort('[::1]:7860'), '[::1]');
    assert.equal(stripPort('[::1]'), '[::1]');
    assert.equal(stripPort('localhost'), 'localhost');
  });
});

describe('error table', () => {
  test('every library code has a status', () => {
    for (const code of ERROR_CODES) {
      const status = HTTP_STATUS_FOR_ERROR[code];
      assert.ok(Number.isInteger(status), `${code} → ${status}`);
      assert.ok(status >= 400, `${code} → ${status}`);
      assert.ok(status < 600, `${code} → ${status}`);
    }
  });

  test('toErrorResponse maps and hides internals', () => {
    const library = toErrorResponse(new FacekitError('ERR_IMAGE_TOO_LARGE', 'too many pixels'));
    assert.equal(library.statusCode, 413);
    assert.deepEqual(library.body, { error: { code: 'ERR_IMAGE_TOO_LARGE', message: 'too many pixels' } });

    const busy = toErrorResponse(new HttpError('ERR_BUSY', 'busy', { retryAfterSeconds: 3 }));
    assert.equal(busy.statusCode, 503);
    assert.equal(busy.retryAfterSeconds, 3);

    const bug = toErrorResponse(new TypeError('secret internal detail at /srv/x.js:12'));
    assert.equal(bug.statusCode, 500);
    assert.equal(bug.internal, true);
    assert.equal(bug.body.error.code, 'ERR_INTERNAL');
    assert.doesNotMatch(bug.body.error.message, /secret|\/srv/);

    const tooLarge = toErrorResponse(Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }));
    assert.equal(tooLarge.statusCode, 413);
    assert.equal(tooLarge.body.error.code, 'ERR_PAYLOAD_TOO_LARGE');
  });
});

describe('InferenceGate', () => {
  test('bounds running and queued tasks', async () => {
    const gate = new InferenceGate({ maxConcurrent: 2, maxQueued: 1, retryAfterSeconds: 1 });
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const task = (): Promise<void> =>
      gate.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      });
    const accepted = [task(), task(), task()];
    await assert.rejects(task(), (error: unknown) => error instanceof HttpError && error.code === 'ERR_BUSY' && error.retryAfterSeconds === 1);
    assert.equal(gate.active, 2);
    assert.equal(gate.queued, 1);

    // Finish the tasks one by one; the queued one starts when the first slot frees up.
    for (let finished = 0; finished < accepted.length; finished++) {
      while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve));
      releases.shift()!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(accepted);
    assert.equal(peak, 2);
    assert.equal(gate.active, 0);
    assert.equal(gate.queued, 0);
  });

  test('a failing task frees its slot', async () => {
    const gate = new InferenceGate({ maxConcurrent: 1, maxQueued: 0, retryAfterSeconds: 1 });
    await assert.rejects(gate.run(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await gate.run(async () => 42), 42);
  });
});

describe('options and names', () => {
  test('resolveServerOptions fills defaults and rejects bad limits', () => {
    const resolved = resolveServerOptions({ port: 0, limits: { bodyBytes: 1024 } }, '/tmp/web');
    assert.equal(resolved.host, SERVER_DEFAULTS.host);
    assert.equal(resolved.limits.bodyBytes, 1024);
    assert.equal(resolved.limits.maxPixels, SERVER_DEFAULTS.limits.maxPixels);
    assert.throws(() => resolveServerOptions({ port: 70000 }, '/tmp/web'), /Invalid port/);
    assert.throws(() => resolveServerOptions({ limits: { bodyBytes: 0 } }, '/tmp/web'), /Invalid limits.bodyBytes/);
    assert.throws(() => resolveServerOptions({ limits: { colour: 1 } as never }, '/tmp/web'), /only the keys/);
    assert.throws(() => resolveServerOptions({ token: '' }, '/tmp/web'), /Invalid token/);
  });

  test('checkSegment rejects path-like names', () => {
    for (const name of ['..', '.', '../x', 'a/b', 'a\\b', '.hidden', '', 'tab\there', 'x'.repeat(256)]) {
      assert.throws(() => checkSegment(name, 'name'), /Invalid name/, JSON.stringify(name));
    }
    assert.equal(checkSegment('Ada Lovelace', 'name'), 'Ada Lovelace');
    assert.equal(checkSegment('Zoé_2', 'name'), 'Zoé_2');
  });

  test('resolveInside rejects links out of the root', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'facekit-paths-'));
    try {
      await symlink(os.tmpdir(), path.join(root, 'escape'));
      await assert.rejects(resolveInside(root, 'escape', 'person name'), /links to/);
      assert.equal(await resolveInside(root, 'new-person', 'person name'), path.join(root, 'new-person'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('parseTrainingRequest checks each field', () => {
    assert.deepEqual(parseTrainingRequest(undefined), {});
    assert.deepEqual(parseTrainingRequest({ maxEpochs: 5, architecture: 'linear', overwrite: true, name: null }), {
      maxEpochs: 5,
      architecture: 'linear',
      overwrite: true,
    });
    const invalid: unknown[] = [[], 'text', { maxEpochs: 1.5 }, { patience: -1 }, { optimizer: 'sgd' }, { activate: 'yes' }, { name: '-x' }, { unknownField: 1 }];
    for (const body of invalid) assert.throws(() => parseTrainingRequest(body), FacekitError, JSON.stringify(body));
  });

  test('defaultModelName uses UTC', () => {
    assert.equal(defaultModelName(new Date('2026-12-04T20:15:07.123Z')), 'model-20261204-201507');
  });
});

test('createServer reports a port in use', async () => {
  const first = await createServer({ port: 0 });
  try {
    await assert.rejects(createServer({ port: first.port }), (error: unknown) => error instanceof FacekitError && /already in use/.test(error.message));
  } finally {
    await first.close();
  }
});
