/**
 * Trains a model on face crops of the three people in `FACES` (scripts/make-face-crops.ts),
 * then serves it with `createServer` on 127.0.0.1 with that model active. bench/live-page.ts
 * runs it as a child process, so the server has a process of its own, as it would under
 * `facekit serve`.
 *
 * Usage: `node --import tsx scripts/serve-demo-model.ts [--port 0] [--crops 8]`
 * Once the model is active, prints one JSON line on stdout:
 * `{"url", "model", "classNames", "trainSeconds"}`. Stops, and deletes its temporary
 * folder, when stdin ends (Ctrl-D in a terminal) or on SIGINT or SIGTERM.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createServer } from '../src/server/server.js';
import { train } from '../src/train/train.js';
import { FACES, type FaceId, writeFaceDataset } from './make-face-crops.js';

const MODEL_NAME = 'demo';

function integerArgument(name: string, fallback: number, min: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} expects an integer ≥ ${min}, received ${process.argv[index + 1]}`);
  return value;
}

/** Resolves with the reason once stdin ends or the process receives SIGINT or SIGTERM. */
function stopRequested(): Promise<string> {
  return new Promise((resolve) => {
    process.stdin.once('end', () => resolve('stdin ended'));
    process.stdin.once('error', () => resolve('stdin failed'));
    process.stdin.resume();
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

async function main(): Promise<void> {
  const port = integerArgument('port', 0, 0);
  const cropsPerPerson = integerArgument('crops', 8, 2);
  const stop = stopRequested();
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-demo-model-'));
  try {
    const dataset = path.join(work, 'dataset');
    await writeFaceDataset(dataset, Object.keys(FACES) as FaceId[], cropsPerPerson);
    const trainStarted = performance.now();
    await train({ dataset, output: path.join(work, 'models', MODEL_NAME), maxEpochs: 10, augment: 0, cacheDir: false });
    const trainSeconds = (performance.now() - trainStarted) / 1000;

    const server = await createServer({ models: path.join(work, 'models'), port });
    try {
      const response = await fetch(`${server.url}/api/models/${MODEL_NAME}/load`, { method: 'POST' });
      if (!response.ok) throw new Error(`Loading model ${MODEL_NAME} failed: HTTP ${response.status} ${await response.text()}`);
      const loaded = (await response.json()) as { name: string; classNames: string[] };
      process.stdout.write(`${JSON.stringify({ url: server.url, model: loaded.name, classNames: loaded.classNames, trainSeconds: Math.round(trainSeconds * 10) / 10 })}\n`);
      process.stderr.write(`serving model ${loaded.name} (${loaded.classNames.join(', ')}) at ${server.url}; end stdin or press Ctrl-C to stop\n`);
      process.stderr.write(`stopping: ${await stop}\n`);
    } finally {
      await server.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
// The resumed stdin keeps the event loop alive after SIGINT or SIGTERM.
process.exit(0);
