/**
 * One toolkit, one task, in a process of its own, so that its peak RSS is its own:
 *
 *   node --import tsx bench/peer-worker.ts PEER TASK JOB.json RESULT.json
 *
 * PEER is one of `PEER_NAMES`; TASK is `speed` (JOB is a `SpeedJob`) or `describe`
 * (JOB is a `DescribeJob`). The result is written to RESULT.json rather than stdout
 * because the peer libraries print to stdout themselves.
 */
import { readFile, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeImage } from '../src/image/decode.js';
import type { RgbImage } from '../src/types.js';
import { type MatchResult, PEER_NAMES, PEER_TASKS, type PeerAdapter, type PeerName, type PeerRuntime, type PeerTask } from './peers/adapter.js';
import { median, timeRuns } from './util.js';

export interface SpeedJob {
  /** 1920-px group photos: the first is timed, every one is searched once to count faces. */
  photos: string[];
  /** Photo cut down to the 640×480 frame (cover crop, as the detection section does). */
  framePhoto: string;
  /** At least 8 aligned 224×224 face crops (PNG). */
  crops: string[];
  /** Timed runs per measurement, after 2 untimed ones. */
  repeats: { frame: number; photo: number; embed1: number; embed8: number };
}

export interface SpeedResult {
  peer: PeerName;
  runtime: PeerRuntime;
  /** Seconds from process start to models loaded. */
  startupSeconds: number;
  /** Milliseconds of each timed run. */
  frameMs: number[];
  photoMs: number[];
  embed1Ms: number[];
  embed8Ms: number[];
  facesInFrame: number;
  /** Faces found in each of `photos`. */
  facesInPhotos: number[];
  /** Peak resident set size of the process, MiB. */
  peakRssMiB: number;
  loadAverage: number[];
}

export interface DescribeJob {
  images: string[];
  /** Each trial matches `queries` against a labelled gallery; both refer to `images` by index. */
  trials: Array<{ name: string; gallery: Array<{ image: number; label: string }>; queries: number[] }>;
}

export interface DescribeResult {
  peer: PeerName;
  runtime: PeerRuntime;
  startupSeconds: number;
  /** Faces found in each image of the job. */
  faceCounts: number[];
  /** Per trial, the match of each query, or null when the query has no face. */
  trials: Array<{ name: string; galleryFaces: number; matches: Array<MatchResult | null> }>;
  /** Seconds spent describing every image, decoding included. */
  describeSeconds: number;
  peakRssMiB: number;
}

async function createPeer(peer: PeerName, task: PeerTask): Promise<PeerAdapter> {
  switch (peer) {
    case 'facekit':
    case 'facekit-1-thread':
    case 'facekit-mobilefacenet': {
      const { createFacekitPeer } = await import('./peers/facekit.js');
      const { defaultIntraOpThreads } = await import('../src/runtime/onnx.js');
      return createFacekitPeer({
        backbone: peer === 'facekit-mobilefacenet' ? 'mobilefacenet' : 'faceres',
        intraOpThreads: peer === 'facekit-1-thread' ? 1 : defaultIntraOpThreads(),
        task,
      });
    }
    case 'human':
      return (await import('./peers/human.js')).createHumanPeer(task);
    case 'face-api':
      return (await import('./peers/face-api.js')).createFaceApiPeer(task);
  }
}

function peakRssMiB(): number {
  // maxRSS is in kibibytes.
  return process.resourceUsage().maxRSS / 1024;
}

async function runSpeed(peer: PeerName, adapter: PeerAdapter, job: SpeedJob, startupSeconds: number): Promise<SpeedResult> {
  const photos: RgbImage[] = [];
  for (const file of job.photos) photos.push(await decodeImage(file));
  const { data, info } = await sharp(job.framePhoto).rotate().resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const frame: RgbImage = { data: new Uint8Array(data), width: info.width, height: info.height };
  const crops: RgbImage[] = [];
  for (const file of job.crops) crops.push(await decodeImage(file));
  if (crops.length < 8) throw new Error(`The speed job needs at least 8 face crops, got ${crops.length}`);

  const frameMs = await timeRuns(() => adapter.detect(frame, 'frame'), job.repeats.frame);
  const photoMs = await timeRuns(() => adapter.detect(photos[0]!, 'photo'), job.repeats.photo);
  const facesInFrame = await adapter.detect(frame, 'frame');
  const facesInPhotos: number[] = [];
  for (const photo of photos) facesInPhotos.push(await adapter.detect(photo, 'photo'));
  const embed1Ms = await timeRuns(() => adapter.embed(crops.slice(0, 1)), job.repeats.embed1);
  const embed8Ms = await timeRuns(() => adapter.embed(crops.slice(0, 8)), job.repeats.embed8);
  process.stderr.write(
    `${peer}: frame ${median(frameMs).toFixed(1)} ms, photo ${median(photoMs).toFixed(1)} ms, ` +
      `embed ${median(embed1Ms).toFixed(1)} ms (batch 1), ${median(embed8Ms).toFixed(1)} ms (batch 8)\n`,
  );
  return {
    peer,
    runtime: adapter.runtime,
    startupSeconds,
    frameMs,
    photoMs,
    embed1Ms,
    embed8Ms,
    facesInFrame,
    facesInPhotos,
    peakRssMiB: peakRssMiB(),
    loadAverage: (await import('node:os')).loadavg(),
  };
}

async function runDescribe(peer: PeerName, adapter: PeerAdapter, job: DescribeJob, startupSeconds: number): Promise<DescribeResult> {
  const start = performance.now();
  const descriptors: Array<Float32Array | null> = [];
  const faceCounts: number[] = [];
  for (const [index, file] of job.images.entries()) {
    const described = await adapter.describe(await decodeImage(file));
    descriptors.push(described.descriptor);
    faceCounts.push(described.faceCount);
    if ((index + 1) % 50 === 0) process.stderr.write(`${peer}: described ${index + 1} of ${job.images.length} photos\n`);
  }
  const describeSeconds = (performance.now() - start) / 1000;

  const trials = job.trials.map((trial) => {
    const gallery = trial.gallery.flatMap(({ image, label }) => {
      const descriptor = descriptors[image];
      return descriptor ? [{ label, descriptor }] : [];
    });
    const withFace = trial.queries.filter((image) => descriptors[image] !== null);
    const answers = gallery.length > 0 ? adapter.match(gallery, withFace.map((image) => descriptors[image]!)) : [];
    const byImage = new Map(withFace.map((image, i) => [image, answers[i] ?? null]));
    return { name: trial.name, galleryFaces: gallery.length, matches: trial.queries.map((image) => byImage.get(image) ?? null) };
  });
  return { peer, runtime: adapter.runtime, startupSeconds, faceCounts, trials, describeSeconds, peakRssMiB: peakRssMiB() };
}

async function main(): Promise<void> {
  const [peer, task, jobFile, resultFile] = process.argv.slice(2);
  if (!PEER_NAMES.includes(peer as PeerName)) throw new Error(`Invalid peer "${peer}": expected one of ${PEER_NAMES.join(', ')}`);
  if (!PEER_TASKS.includes(task as PeerTask)) throw new Error(`Invalid task "${task}": expected one of ${PEER_TASKS.join(', ')}`);
  if (!jobFile || !resultFile) throw new Error('Missing arguments: usage is peer-worker.ts PEER TASK JOB.json RESULT.json');
  const job: unknown = JSON.parse(await readFile(jobFile, 'utf8'));

  const adapter = await createPeer(peer as PeerName, task as PeerTask);
  const startupSeconds = performance.now() / 1000;
  try {
    const result =
      task === 'speed'
        ? await runSpeed(peer as PeerName, adapter, job as SpeedJob, startupSeconds)
        : await runDescribe(peer as PeerName, adapter, job as DescribeJob, startupSeconds);
    await writeFile(resultFile, JSON.stringify(result));
  } finally {
    await adapter.dispose();
  }
}

await main();
