/**
 * facekit against the toolkits users would pick instead, @vladmandic/human and
 * @vladmandic/face-api, in one run on the same machine and images. Every toolkit runs in
 * a child process of its own (bench/peer-worker.ts), so peak RSS figures are separate.
 *
 * - `benchPeers`: detection time, embedding throughput, peak RSS.
 * - `benchPeerAccuracy`: closed-set top-1 and open-set rates on the celebrity dev set.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { FacePipeline } from '../src/embed/face-pipeline.js';
import { decodeImage } from '../src/image/decode.js';
import { SAMPLE_PHOTOS } from './detection.js';
import type { SpeedJob, SpeedResult } from './peer-worker.js';
import type { PeerName } from './peers/adapter.js';
import { PEER_LABELS, formatLoad } from './peers/report.js';
import { runPeerWorker } from './peers/run-worker.js';
import { barChartSvg, writePng } from './plot.js';
import { type BenchContext, type Section, fmt, median, table } from './util.js';

export { benchPeerAccuracy } from './peer-accuracy.js';

/** Faces in the six face-api sample photos by hand count (test/detect-accuracy.test.ts). */
const SAMPLE_FACES = 22;

/** Toolkits timed; the quick run leaves out facekit on one thread. */
function speedPeers(quick: boolean): PeerName[] {
  return quick ? ['facekit', 'human', 'face-api'] : ['facekit', 'facekit-1-thread', 'human', 'face-api'];
}

export async function benchPeers(context: BenchContext): Promise<Section> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-peers-'));
  try {
    const loadBefore = os.loadavg();
    const crops = await writeFaceCrops(path.join(work, 'crops'), 8);
    const job: SpeedJob = {
      photos: SAMPLE_PHOTOS,
      framePhoto: SAMPLE_PHOTOS[0]!,
      crops,
      repeats: context.quick ? { frame: 3, photo: 2, embed1: 3, embed8: 2 } : { frame: 11, photo: 7, embed1: 11, embed8: 5 },
    };
    const results = new Map<PeerName, SpeedResult>();
    const failures: string[] = [];
    // One toolkit at a time: two timed processes on two cores would slow each other.
    for (const peer of speedPeers(context.quick)) {
      context.log(`peers: timing ${peer}`);
      try {
        results.set(peer, await runPeerWorker<SpeedResult>(peer, 'speed', job, work));
      } catch (error) {
        failures.push(`${PEER_LABELS[peer]}: ${(error as Error).message}`);
        context.log(`peers: ${peer} failed: ${(error as Error).message}`);
      }
    }
    const loadAfter = os.loadavg();
    const photoMeta = await sharp(job.photos[0]!).metadata();
    const photoSize = `${photoMeta.width}×${photoMeta.height}`;

    const plotFile = 'peers-throughput.png';
    await writeThroughputPlot(results, path.join(context.pageDir, plotFile));
    const markdown = [
      'Each toolkit runs in a Node process of its own (`bench/peer-worker.ts`) on the same inputs, decoded to RGB before timing:',
      `the first face-api sample photo (${photoSize}) and a 640×480 cover crop of it, and ${crops.length} facekit-aligned 224×224 face crops`,
      "from the sample photos, which each toolkit resizes to its descriptor's input. Times are medians over",
      `${job.repeats.frame} (frame), ${job.repeats.photo} (photo), ${job.repeats.embed1} (batch 1) and ${job.repeats.embed8} (batch 8) timed runs after 2 untimed ones.`,
      'Both peers run on the TF.js WASM backend, the backend they use in Node when `@tensorflow/tfjs-node` cannot be installed.',
      'TF.js WASM runs on one thread in Node, so the `facekit, 1 thread` row compares the runtimes core for core.',
      ...threadNote(results, loadBefore, loadAfter),
      `Load average (1, 5, 15 min) before: ${formatLoad(loadBefore)}, after: ${formatLoad(loadAfter)}, on ${os.availableParallelism()} cores shared with other work.`,
      '',
      '### What ran',
      '',
      table(
        ['toolkit', 'package', 'runtime', 'detector', 'descriptor', 'model files (in node_modules)'],
        [...results].map(([peer, r]) => [PEER_LABELS[peer], r.runtime.package, r.runtime.backend, r.runtime.detector, r.runtime.descriptor, r.runtime.modelFiles.map((f) => `\`${f}\``).join(', ')]),
      ),
      '',
      '### Speed and memory',
      '',
      'Detection returns faces only: human runs its detector without mesh, face-api its SSD without landmarks.',
      "On the photo, facekit runs its default scale pyramid, whole-image detector passes that look for faces down to `minFaceSize` (40 px wide);",
      'the peers make one pass over the whole photo scaled to their input size.',
      'Embedding: human hands its descriptor model one face per call, so its batch of 8 is 8 calls; face-api and facekit run the 8 crops as one batch.',
      'Peak RSS is the largest resident set of the whole process (`process.resourceUsage().maxRSS`), models, inputs and runtime included.',
      '',
      table(
        ['toolkit', '640×480 frame detection ms', `${photoSize} photo detection ms`, `faces found in the 6 photos (${SAMPLE_FACES} by hand count)`, 'embedding faces/s, batch 1', 'embedding faces/s, batch 8', 'peak RSS MiB', 'start-up s'],
        [...results].map(([peer, r]) => [
          PEER_LABELS[peer],
          fmt(median(r.frameMs)),
          fmt(median(r.photoMs)),
          `${sum(r.facesInPhotos)} (${r.facesInPhotos.join(', ')})`,
          fmt(facesPerSecond(r.embed1Ms, 1)),
          fmt(facesPerSecond(r.embed8Ms, 8)),
          fmt(r.peakRssMiB, 0),
          fmt(r.startupSeconds),
        ]),
      ),
      '',
      'Start-up is the time from process start to models loaded, TypeScript compilation by tsx included; facekit converts its TF.js graphs to ONNX then.',
      '',
      '### facekit relative to each peer',
      '',
      'Each cell is facekit throughput ÷ peer throughput (the peer time ÷ the facekit time): above 1, facekit is faster. Peak RSS is facekit ÷ peer.',
      '',
      ratioTable(results),
      '',
      `![Faces embedded per second by each toolkit](${plotFile})`,
      ...(failures.length ? ['', `Failed: ${failures.join('; ')}.`] : []),
    ].join('\n');
    return { title: 'Peer toolkits: speed and memory', markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes the first `count` faces facekit aligns in the sample photos as 224×224 PNG crops. */
async function writeFaceCrops(folder: string, count: number): Promise<string[]> {
  await mkdir(folder, { recursive: true });
  const pipeline = await FacePipeline.create();
  const files: string[] = [];
  try {
    for (const photo of SAMPLE_PHOTOS) {
      const image = await decodeImage(photo);
      for (const { crop } of pipeline.align(image, await pipeline.detect(image))) {
        if (files.length === count) return files;
        const file = path.join(folder, `face-${files.length}.png`);
        await sharp(Buffer.from(crop.data), { raw: { width: crop.width, height: crop.height, channels: 3 } }).png().toFile(file);
        files.push(file);
      }
    }
  } finally {
    await pipeline.dispose();
  }
  if (files.length < count) throw new Error(`Found only ${files.length} faces in the sample photos; the speed job needs ${count}`);
  return files;
}

/**
 * Notes a run in which facekit on one ONNX Runtime thread embedded faster than on every
 * core, with the load average when it exceeded the core count.
 */
function threadNote(results: ReadonlyMap<PeerName, SpeedResult>, loadBefore: readonly number[], loadAfter: readonly number[]): string[] {
  const all = results.get('facekit');
  const one = results.get('facekit-1-thread');
  if (!all || !one || median(one.embed8Ms) >= median(all.embed8Ms)) return [];
  const cores = os.availableParallelism();
  const load = Math.max(loadBefore[0]!, loadAfter[0]!);
  const busy = load > cores ? `, while the 1-minute load average (up to ${fmt(load, 2)}) exceeded the ${cores} cores, so its extra threads competed with other processes` : '';
  return [`In this run facekit embedded faster on one thread than on ${cores}${busy}.`];
}

function facesPerSecond(timesMs: readonly number[], batch: number): number {
  return (1000 * batch) / median(timesMs);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function ratioTable(results: ReadonlyMap<PeerName, SpeedResult>): string {
  const rows: Array<Array<string | number>> = [];
  for (const own of ['facekit', 'facekit-1-thread'] as const) {
    const mine = results.get(own);
    if (!mine) continue;
    for (const peer of ['human', 'face-api'] as const) {
      const theirs = results.get(peer);
      if (!theirs) continue;
      const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;
      rows.push([
        `${PEER_LABELS[own]} vs ${PEER_LABELS[peer]}`,
        ratio(median(theirs.frameMs), median(mine.frameMs)),
        ratio(median(theirs.photoMs), median(mine.photoMs)),
        ratio(facesPerSecond(mine.embed1Ms, 1), facesPerSecond(theirs.embed1Ms, 1)),
        ratio(facesPerSecond(mine.embed8Ms, 8), facesPerSecond(theirs.embed8Ms, 8)),
        ratio(mine.peakRssMiB, theirs.peakRssMiB),
      ]);
    }
  }
  return table(['pair', 'frame detection', 'photo detection', 'embedding, batch 1', 'embedding, batch 8', 'peak RSS'], rows);
}

async function writeThroughputPlot(results: ReadonlyMap<PeerName, SpeedResult>, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const peers = [...results.keys()];
  const svg = barChartSvg({
    title: 'Face embedding throughput (higher is better)',
    unit: 'faces per second',
    categories: peers.map((peer) => PEER_LABELS[peer]),
    series: [
      { name: 'batch 1', values: peers.map((peer) => facesPerSecond(results.get(peer)!.embed1Ms, 1)) },
      { name: 'batch 8', values: peers.map((peer) => facesPerSecond(results.get(peer)!.embed8Ms, 8)) },
    ],
  });
  await writePng(svg, file);
}
