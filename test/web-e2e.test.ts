/**
 * The web UI in real Chromium with a fake webcam fed from Y4M videos of two people:
 * capture samples of each, train, and see both names on the Live tab. Screenshots go
 * to `out/web-e2e/` (gitignored). The Live tab's frame rate is reported as a diagnostic.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { CHROMIUM, fakeCameraArgs } from '../scripts/fake-camera.js';
import { type FaceId, ensurePersonVideo } from '../scripts/make-face-crops.js';
import { type FacekitServer, createServer } from '../src/server/server.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'out', 'web-e2e');
const require = createRequire(import.meta.url);
const PHOTO = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
const PEOPLE: readonly FaceId[] = ['ada', 'grace'];
/** Samples captured per person: enough for a training and a validation split, few enough to keep the run short. */
const SAMPLES_PER_PERSON = 8;
/** Seconds over which the Live tab's frame rate is measured. */
const FPS_WINDOW_SECONDS = 5;
/**
 * Lowest Live tab frame rate the test accepts, in frames per second. The UI's target is 5
 * or more. Here Chromium and the server share the machine with whatever else runs, so the
 * test only asserts that recognition keeps going, and reports the measured rate.
 */
const MIN_LIVE_FPS = 2;

const skip = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM}`;

let server: FacekitServer;
let workDir: string;
const videos = new Map<FaceId, string>();
const contexts: BrowserContext[] = [];
/** Uncaught errors of the pages' scripts; each test checks that it added none. */
const pageErrors: string[] = [];

/** Opens Chromium with a new empty profile and a fake camera that plays `video` in a loop. */
async function openBrowser(video: string): Promise<Page> {
  const profile = await mkdtemp(path.join(workDir, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: fakeCameraArgs(video),
    viewport: { width: 1200, height: 900 },
  });
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return page;
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

async function openTab(page: Page, tab: string): Promise<void> {
  await page.click(`nav [data-tab="${tab}"]`);
  await page.waitForSelector(`#tab-${tab}:not([hidden])`);
}

/** Starts the Live tab's camera and waits until `name` is recognised; returns the page's frames per second. */
async function watchLive(page: Page, name: string): Promise<number> {
  await openTab(page, 'live');
  await page.click('#live-start');
  await page.waitForFunction((expected) => (window as any).facekitLive?.labels?.includes(expected), name, { timeout: 30_000 });
  const first = await page.evaluate(() => ({ frames: (window as any).facekitLive.frames as number, at: performance.now() }));
  await page.waitForTimeout(FPS_WINDOW_SECONDS * 1000);
  const last = await page.evaluate(() => ({ frames: (window as any).facekitLive.frames as number, at: performance.now(), labels: (window as any).facekitLive.labels as string[] }));
  assert.ok(last.labels.includes(name), `expected ${name} on the live page, the last frame shows ${JSON.stringify(last.labels)}`);
  return (last.frames - first.frames) / ((last.at - first.at) / 1000);
}

describe('web UI end to end', { skip }, () => {
  before(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'facekit-web-e2e-'));
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    for (const person of PEOPLE) videos.set(person, await ensurePersonVideo(person));
    server = await createServer({ dataset: path.join(workDir, 'dataset'), models: path.join(workDir, 'models'), port: 0, trainCacheDir: false });
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await server?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  test('capture, train and recognise two people', async (t) => {
    let page: Page | undefined;
    for (const person of PEOPLE) {
      page = await openBrowser(videos.get(person)!);
      await page.goto(`${server.url}/#capture`);
      await page.fill('#capture-form [name="name"]', person);
      await page.fill('#capture-form [name="target"]', String(SAMPLES_PER_PERSON));
      await page.fill('#capture-form [name="fps"]', '5');
      await page.click('#capture-start');
      await page.waitForFunction(() => (window as any).facekitCapture?.kept >= 3, null, { timeout: 60_000 });
      await screenshot(page, `capture-${person}`);
      await page.waitForFunction(() => (window as any).facekitCapture?.done, null, { timeout: 90_000 });
      const capture = await page.evaluate(() => (window as any).facekitCapture);
      assert.equal(capture.kept, SAMPLES_PER_PERSON, `${person}: ${JSON.stringify(capture)}`);
      const files = await readdir(path.join(workDir, 'dataset', person));
      assert.equal(files.filter((file) => file.endsWith('.jpg')).length, SAMPLES_PER_PERSON);
      t.diagnostic(`${person}: kept ${capture.kept} of ${capture.sent} frames, rejected ${JSON.stringify(capture.reasons)}`);
    }
    page = page!;

    await openTab(page, 'dataset');
    await page.waitForFunction((count) => document.querySelectorAll('#dataset-people img[src^="blob:"]').length === count, PEOPLE.length * SAMPLES_PER_PERSON, {
      timeout: 20_000,
    });
    await screenshot(page, 'dataset');

    await openTab(page, 'train');
    await page.waitForFunction(() => (document.querySelector('#train-form [name="maxEpochs"]') as HTMLInputElement).value !== '');
    await page.fill('#train-form [name="name"]', 'two-people');
    await page.fill('#train-form [name="maxEpochs"]', '20');
    await page.fill('#train-form [name="augment"]', '2');
    await page.click('#train-start');
    await page.waitForFunction(() => (window as any).facekitTraining?.status, null, { timeout: 120_000 });
    const training = await page.evaluate(() => (window as any).facekitTraining);
    assert.equal(training.status, 'succeeded', await page.textContent('#train-progress') ?? '');
    assert.ok(training.epochs >= 1);
    await page.waitForSelector('#train-result table.confusion');
    await screenshot(page, 'train');

    const fps: number[] = [];
    fps.push(await watchLive(page, 'grace'));
    await screenshot(page, 'live-grace');
    await page.click('#live-stop');
    const adaPage = await openBrowser(videos.get('ada')!);
    await adaPage.goto(`${server.url}/#live`);
    fps.push(await watchLive(adaPage, 'ada'));
    await screenshot(adaPage, 'live-ada');
    t.diagnostic(`live page: ${fps.map((value) => value.toFixed(1)).join(' and ')} frames per second over ${FPS_WINDOW_SECONDS} s (384-px frames, one request in flight)`);
    for (const value of fps) assert.ok(value >= MIN_LIVE_FPS, `live page ran at ${value.toFixed(1)} frames per second, below ${MIN_LIVE_FPS}`);

    await openTab(adaPage, 'photo');
    await adaPage.setInputFiles('#photo-form [name="image"]', PHOTO);
    await adaPage.click('#photo-form button[type="submit"]');
    await adaPage.waitForFunction(() => document.querySelectorAll('#photo-faces tbody tr').length >= 3, null, { timeout: 30_000 });
    await screenshot(adaPage, 'photo');
    t.diagnostic(`screenshots in ${SCREENSHOT_DIR}`);
    assert.deepEqual(pageErrors, []);
  });

  test('token dialog unlocks a protected server', async () => {
    const token = 'e2e-token-5678';
    const protectedServer = await createServer({ port: 0, token });
    try {
      const page = await openBrowser(videos.get('ada')!);
      await page.goto(`${protectedServer.url}/#photo`);
      await page.waitForSelector('#token-dialog[open]');
      await page.fill('#token-dialog [name="token"]', token);
      await page.click('#token-dialog button');
      await page.waitForFunction(() => /^facekit \d/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => sessionStorage.getItem('facekit-token')), token);
      assert.deepEqual(pageErrors, []);
    } finally {
      await protectedServer.close();
    }
  });
});
