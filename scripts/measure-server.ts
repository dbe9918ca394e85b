/**
 * Measures the HTTP API's recognition throughput on loopback. It trains a model on face
 * crops of the @vladmandic/face-api demo photos, then sends bounded bursts of
 * `POST /api/recognize`. The bodies are one webcam-sized JPEG (384 × 288, one face) at
 * concurrency 1, as one Live page sends them, and at concurrency 4, and a full 1920-px
 * group photo at concurrency 4.
 *
 * Usage: `node --import tsx scripts/measure-server.ts [--requests 200] [--concurrency 4]`
 * Prints one JSON object per run on stdout and a summary table on stderr. The numbers
 * depend on the machine and on whatever else runs on it: the load average is printed
 * with them.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createServer } from '../src/server/server.js';
import { train } from '../src/train/train.js';
import { FACES, writeFaceDataset } from './make-face-crops.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PHOTO_DIR = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'face-api', 'demo');
/** Width of the Live tab's frames (web/js/live.js, FRAME_WIDTH). */
const LIVE_FRAME_WIDTH = 384;

interface RunResult {
  name: string;
  requests: number;
  concurrency: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  statuses: Record<string, number>;
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} expects a positive integer, received ${process.argv[index + 1]}`);
  return value;
}

/** Cuts a 384 × 288 JPEG around one face from its photo, framed like the fake webcam video. */
async function webcamFrame(): Promise<Buffer> {
  const { photo, box } = FACES.ada;
  const width = Math.round(box.side * 3.1);
  const height = Math.round((width * 3) / 4);
  const left = Math.round(box.x + box.side / 2 - width / 2);
  const top = Math.round(box.y + box.side / 2 - height / 2);
  return sharp(path.join(PHOTO_DIR, photo)).extract({ left, top, width, height }).resize(LIVE_FRAME_WIDTH).jpeg({ quality: 80 }).toBuffer();
}

async function runBurst(baseUrl: string, name: string, image: Buffer, requests: number, concurrency: number): Promise<RunResult> {
  const body = Uint8Array.from(image);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++;
      const sent = performance.now();
      const response = await fetch(`${baseUrl}/api/recognize`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg' } });
      await response.arrayBuffer();
      latencies.push(performance.now() - sent);
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const percentile = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 10) / 10;
  return {
    name,
    requests,
    concurrency,
    seconds: Math.round(seconds * 100) / 100,
    requestsPerSecond: Math.round((requests / seconds) * 10) / 10,
    latencyMs: { p50: percentile(0.5), p95: percentile(0.95), max: percentile(1) },
    statuses,
  };
}

async function main(): Promise<void> {
  const requests = argument('requests', 200);
  const concurrency = argument('concurrency', 4);
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-measure-'));
  try {
    const dataset = path.join(work, 'dataset');
    await writeFaceDataset(dataset, ['ada', 'grace', 'hedy'], 5);
    await train({ dataset, output: path.join(work, 'models', 'bench'), maxEpochs: 10, augment: 0, cacheDir: false });
    const server = await createServer({ models: path.join(work, 'models'), port: 0 });
    try {
      const loaded = await fetch(`${server.url}/api/models/bench/load`, { method: 'POST' });
      if (!loaded.ok) throw new Error(`loading the model failed: HTTP ${loaded.status} ${await loaded.text()}`);
      const frame = await webcamFrame();
      const photo = await readFile(path.join(PHOTO_DIR, 'sample1.jpg'));
      // Warm-up: the first requests open sessions and fill caches.
      await runBurst(server.url, 'warm-up', frame, 5, 1);

      const runs: RunResult[] = [];
      runs.push(await runBurst(server.url, `${LIVE_FRAME_WIDTH}-px frame`, frame, requests, 1));
      runs.push(await runBurst(server.url, `${LIVE_FRAME_WIDTH}-px frame`, frame, requests, concurrency));
      runs.push(await runBurst(server.url, '1920-px photo', photo, Math.max(1, Math.round(requests / 5)), concurrency));

      const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1m: os.loadavg()[0] };
      for (const run of runs) process.stdout.write(`${JSON.stringify({ ...run, machine })}\n`);
      process.stderr.write(`machine: ${machine.cpus} logical cores (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadAverage1m.toFixed(2)}\n`);
      for (const run of runs) {
        process.stderr.write(
          `${run.name.padEnd(16)} concurrency ${run.concurrency}: ${run.requests} requests in ${run.seconds} s = ${run.requestsPerSecond} req/s, ` +
            `latency p50 ${run.latencyMs.p50} ms, p95 ${run.latencyMs.p95} ms, statuses ${JSON.stringify(run.statuses)}\n`,
        );
      }
    } finally {
      await server.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
