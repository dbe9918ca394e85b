/**
 * The web UI's Live page frame rate in real Chromium. A fake camera plays a Y4M video of
 * one face. The page sends downscaled frames to `POST /api/recognize`, one request in
 * flight, and draws the recognised faces over the video.
 *
 * The server runs in a child process (scripts/serve-demo-model.ts), as it would under
 * `facekit serve`. Its event loop then handles only the page's requests, not Playwright's
 * traffic with Chromium. Its RSS and ONNX Runtime threads hold nothing that earlier
 * sections left in this process, and they go away when it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { CHROMIUM, fakeCameraArgs } from '../scripts/fake-camera.js';
import { type FaceId, ensurePersonVideo } from '../scripts/make-face-crops.js';
import { type BenchContext, type Section, fmt, median, table } from './util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The person in the fake camera's video, one of the people the served model is trained on. */
const PERSON: FaceId = 'ada';
/** Length of one measurement window, in seconds. */
const WINDOW_SECONDS = 5;
/** The Live page's frame-rate target, in frames per second. */
const TARGET_FPS = 5;
/** How long the server may take to train its model and start, in milliseconds. */
const SERVER_START_TIMEOUT_MS = 180_000;
/** How long the page may take from starting the camera to showing the person's name, in milliseconds. */
const NAME_TIMEOUT_MS = 30_000;
const RECOGNIZE_PATH = '/api/recognize';

interface DemoServer {
  url: string;
  model: string;
  classNames: string[];
  trainSeconds: number;
  /** Ends the server's stdin and waits for it to exit, killing it after 15 s. */
  stop(): Promise<void>;
}

interface WindowResult {
  seconds: number;
  frames: number;
  fps: number;
  /** Frames that the recorder saw drawn in the window, and those whose recognition result included the person's name. */
  framesRecorded: number;
  framesWithName: number;
  /** Fetch start to response end of each `POST /api/recognize` that ended in the window (Resource Timing), in milliseconds. */
  latenciesMs: number[];
  /** Most `POST /api/recognize` requests open at one time during the window. */
  maxInFlight: number;
}

export async function benchLivePage(context: BenchContext): Promise<Section> {
  const title = 'Live page';
  if (!existsSync(CHROMIUM)) {
    const reason = `Chromium is not installed at ${CHROMIUM} (Debian package \`chromium\`)`;
    context.log(`live page: skipped, ${reason}`);
    return { title, markdown: `Skipped: ${reason}. This section drives the Live page in a real browser.` };
  }

  const windows = context.quick ? 1 : 3;
  const video = await ensurePersonVideo(PERSON);
  const videoFps = await readY4mFrameRate(video);
  const loadAverage = os.loadavg()[0]!;
  let server: DemoServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startDemoServer(context);
    context.log(`live page: model ${server.model} (${server.classNames.join(', ')}) trained in ${server.trainSeconds} s, serving at ${server.url}`);
    browser = await launchChromium(video);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.addInitScript(FRAME_RECORDER_SCRIPT);

    await page.goto(`${server.url}/#live`);
    await page.click('nav [data-tab="live"]');
    await page.waitForSelector('#tab-live:not([hidden])');
    const started = performance.now();
    await page.click('#live-start');
    await waitForName(page, PERSON);
    const nameSeconds = (performance.now() - started) / 1000;
    context.log(`live page: ${PERSON} shown ${fmt(nameSeconds)} s after starting the camera`);

    const results: WindowResult[] = [];
    for (let i = 0; i < windows; i++) {
      const result = await measureWindow(page, PERSON);
      results.push(result);
      context.log(`live page: window ${i + 1}/${windows}: ${fmt(result.fps)} frames/s, ${result.framesWithName}/${result.framesRecorded} frames show ${PERSON}, median request ${formatMedian(result.latenciesMs)} ms`);
    }
    const camera = await page.evaluate(() => {
      const element = document.getElementById('live-video') as HTMLVideoElement;
      return `${element.videoWidth}×${element.videoHeight}`;
    });
    await page.click('#live-stop');
    if (pageErrors.length > 0) throw new Error(`The Live page raised uncaught errors: ${pageErrors.join('; ')}`);

    return {
      title,
      markdown: renderMarkdown({
        browserVersion: browser.version(),
        camera,
        videoFps,
        sent: await readSentFrames(page),
        nameSeconds,
        results,
        server,
        loadAverage,
      }),
    };
  } finally {
    await browser?.close().catch((error: Error) => context.log(`live page: closing Chromium failed: ${error.message}`));
    await server?.stop();
  }
}

/** Starts scripts/serve-demo-model.ts and waits for the JSON line it prints once its model is active. */
async function startDemoServer(context: BenchContext): Promise<DemoServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'serve-demo-model.ts')], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderrLines: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrLines.push(line);
    context.log(`live page server: ${line}`);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = () => stopChild(child, exited);

  const ready = new Promise<Omit<DemoServer, 'stop'>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Timed out after ${SERVER_START_TIMEOUT_MS / 1000} s waiting for scripts/serve-demo-model.ts to serve its model: ${stderrLines.slice(-20).join('\n')}`)), SERVER_START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Omit<DemoServer, 'stop'>);
      } catch {
        reject(new Error(`scripts/serve-demo-model.ts printed invalid JSON: ${line}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`scripts/serve-demo-model.ts exited with code ${code} before serving: ${stderrLines.slice(-20).join('\n')}`));
    });
  });
  try {
    return { ...(await ready), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin!.end();
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 15_000, 'timeout').unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Reads the frame rate from a Y4M file's header line (`F<numerator>:<denominator>`), in frames per second. */
async function readY4mFrameRate(file: string): Promise<number> {
  const handle = await open(file);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(256), 0, 256, 0);
    const header = buffer.subarray(0, bytesRead).toString('latin1').split('\n')[0]!;
    const match = / F(\d+):(\d+)/.exec(header);
    if (!header.startsWith('YUV4MPEG2 ') || !match) throw new Error(`Invalid Y4M header in ${file}: ${JSON.stringify(header)}; delete the file so that ensurePersonVideo writes it again`);
    return Number(match[1]) / Number(match[2]);
  } finally {
    await handle.close();
  }
}

/** Launches headless Chromium with a fake camera that plays `video` in a loop, as test/web-e2e.test.ts does. */
function launchChromium(video: string): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: fakeCameraArgs(video) });
}

/**
 * Runs in the page before its scripts. Keeps every value the Live page assigns to
 * `window.facekitLive` (once per frame whose result it drew) with its time, and the size of
 * every JPEG encoded by `canvas.toBlob` (how the page encodes the frames it sends). It
 * also enlarges the Resource Timing buffer (250 entries by default) so that no request
 * drops out of it. It is a string, not a function, because tsx rewrites functions to
 * call its `__name` helper, which does not exist in the page.
 */
const FRAME_RECORDER_SCRIPT = `
  const frames = [];
  const jpegs = [];
  let latest;
  Object.defineProperty(window, 'facekitLive', {
    configurable: true,
    get() { return latest; },
    set(value) {
      latest = value;
      frames.push({ at: performance.now(), frames: value.frames, labels: value.labels });
    },
  });
  const toBlob = HTMLCanvasElement.prototype.toBlob;
  HTMLCanvasElement.prototype.toBlob = function (callback, type, quality) {
    const canvas = this;
    return toBlob.call(canvas, (blob) => {
      if (type === 'image/jpeg' && blob) jpegs.push({ width: canvas.width, height: canvas.height, bytes: blob.size });
      callback(blob);
    }, type, quality);
  };
  window.facekitBench = { frames, jpegs };
  performance.setResourceTimingBufferSize(100000);
`;

interface SentFrames {
  /** Distinct pixel sizes of the encoded frames, such as `384×288`. */
  sizes: string[];
  medianBytes: number;
}

/** Reads the sizes of the JPEG frames that the recorder saw the page encode. */
async function readSentFrames(page: Page): Promise<SentFrames> {
  const jpegs = await page.evaluate(() => (window as any).facekitBench.jpegs as Array<{ width: number; height: number; bytes: number }>);
  return {
    sizes: [...new Set(jpegs.map((jpeg) => `${jpeg.width}×${jpeg.height}`))],
    medianBytes: jpegs.length > 0 ? median(jpegs.map((jpeg) => jpeg.bytes)) : Number.NaN,
  };
}

/** Waits until the Live page shows `name`; on timeout, the error includes the page's status line. */
async function waitForName(page: Page, name: string): Promise<void> {
  try {
    await page.waitForFunction((expected) => (window as any).facekitLive?.labels?.includes(expected), name, { timeout: NAME_TIMEOUT_MS });
  } catch (error) {
    const stats = await page.textContent('#live-stats').catch(() => null);
    throw new Error(`The Live page did not show ${name} within ${NAME_TIMEOUT_MS / 1000} s; its status line reads ${JSON.stringify(stats)}: ${(error as Error).message}`);
  }
}

/** Measures one window of `WINDOW_SECONDS`, counting frames as test/web-e2e.test.ts does. */
async function measureWindow(page: Page, name: string): Promise<WindowResult> {
  const start = await page.evaluate(() => ({ frames: (window as any).facekitLive.frames as number, at: performance.now() }));
  await page.waitForTimeout(WINDOW_SECONDS * 1000);
  return page.evaluate(
    ({ start, name, recognizePath }) => {
      const end = { frames: (window as any).facekitLive.frames as number, at: performance.now() };
      const records = ((window as any).facekitBench.frames as Array<{ at: number; labels: string[] }>).filter((record) => record.at > start.at && record.at <= end.at);
      const requests = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter((entry) => new URL(entry.name).pathname === recognizePath && entry.responseEnd > start.at && entry.responseEnd <= end.at)
        .sort((a, b) => a.startTime - b.startTime);
      let maxInFlight = 0;
      for (const request of requests) {
        const openCount = requests.filter((other) => other.startTime <= request.startTime && other.responseEnd > request.startTime).length;
        maxInFlight = Math.max(maxInFlight, openCount);
      }
      const seconds = (end.at - start.at) / 1000;
      return {
        seconds,
        frames: end.frames - start.frames,
        fps: (end.frames - start.frames) / seconds,
        framesRecorded: records.length,
        framesWithName: records.filter((record) => record.labels.includes(name)).length,
        latenciesMs: requests.map((entry) => entry.responseEnd - entry.startTime),
        maxInFlight,
      };
    },
    { start, name, recognizePath: RECOGNIZE_PATH },
  );
}

interface Measurement {
  browserVersion: string;
  camera: string;
  /** Frame rate of the camera's video, in frames per second. */
  videoFps: number;
  sent: SentFrames;
  nameSeconds: number;
  results: WindowResult[];
  server: DemoServer;
  /** One-minute load average when the section started, which includes earlier sections' work. */
  loadAverage: number;
}

function renderMarkdown(measurement: Measurement): string {
  const { results } = measurement;
  const fpsValues = results.map((result) => result.fps);
  const medianFps = median(fpsValues);
  const allLatencies = results.flatMap((result) => result.latenciesMs);
  const maxInFlight = Math.max(...results.map((result) => result.maxInFlight));
  const met = medianFps >= TARGET_FPS;
  const summary =
    results.length > 1
      ? `Median ${fmt(medianFps)} frames per second over ${results.length} windows of ${WINDOW_SECONDS} s (range ${fmt(Math.min(...fpsValues))}–${fmt(Math.max(...fpsValues))})`
      : `${fmt(medianFps)} frames per second over one window of ${WINDOW_SECONDS} s`;
  return [
    `Playwright drives the web UI's Live page in Chromium ${measurement.browserVersion} (${CHROMIUM}, headless, no GPU).`,
    `Chromium's fake camera plays a ${measurement.camera}, ${fmt(measurement.videoFps, 0)} fps Y4M video of one face (\`${PERSON}\`, made by scripts/make-face-crops.ts from a demo photo, panned, zoomed, tilted and brightened).`,
    `The page sends each frame as a ${measurement.sent.sizes.join(' or ')} JPEG (median ${fmt(measurement.sent.medianBytes / 1024)} KiB) to \`POST ${RECOGNIZE_PATH}\`, keeps one request in flight (at most ${maxInFlight} measured) and draws the result over the video.`,
    `The server is \`createServer\` on 127.0.0.1 in its own process (scripts/serve-demo-model.ts), with a model of ${measurement.server.classNames.length} people (${measurement.server.classNames.join(', ')}) trained on face crops in ${measurement.server.trainSeconds} s.`,
    `Measurement starts once the name is shown (${fmt(measurement.nameSeconds)} s after starting the camera).`,
    'Frames per second counts the frames whose recognition result the page received and drew (`window.facekitLive.frames`), as test/web-e2e.test.ts does.',
    `The page grabs whatever frame the video shows when the previous result arrives, so above ${fmt(measurement.videoFps, 0)} frames per second some frames sent repeat the one before.`,
    'Request latency is fetch start to response end from the Resource Timing API; the rest of each frame time is spent in the page (grabbing, JPEG encoding, drawing).',
    '',
    table(
      ['window', 'seconds', 'frames', 'frames/s', 'ms per frame', 'median request ms', `frames showing ${PERSON}`],
      results.map((result, i) => [
        i + 1,
        fmt(result.seconds),
        result.frames,
        fmt(result.fps),
        result.fps > 0 ? fmt(1000 / result.fps) : 'n/a',
        formatMedian(result.latenciesMs),
        `${result.framesWithName} of ${result.framesRecorded}`,
      ]),
    ),
    '',
    `${summary}. Median request latency over all ${allLatencies.length} requests: ${formatMedian(allLatencies)} ms. Target ≥ ${TARGET_FPS} frames per second: ${met ? 'met' : 'not met'}.`,
    '',
    `Chromium, the server and Playwright share the machine's cores, so the rate also depends on other load: the one-minute load average was ${fmt(measurement.loadAverage, 2)} when this section started.`,
  ].join('\n');
}

/** Formats the median of `values`, or `n/a` when the page recorded none. */
function formatMedian(values: readonly number[]): string {
  return values.length > 0 ? fmt(median(values)) : 'n/a';
}
