/**
 * Accuracy of facekit and the peer toolkits on the celebrity dev set, with 1, 3, 5 and
 * all training photos per person on one seeded split:
 *
 * - descriptors only: each toolkit matches its own descriptors with its own rule. facekit
 *   takes the nearest class centroid by cosine similarity, human's `match.find` the
 *   nearest neighbour, and face-api's `FaceMatcher` the person at the smallest mean
 *   Euclidean distance.
 * - facekit `train()` with its default head and augmentation, on the same photos.
 *
 * Open-set rates on `_unknown/` use each peer's documented threshold and, for `train()`,
 * the rule it calibrates without seeing those strangers.
 */
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareImages } from '../src/dataset/prepare.js';
import { scanDataset } from '../src/dataset/scan.js';
import { FacePipeline } from '../src/embed/face-pipeline.js';
import { MODELS, isModelAvailable, resolveModelFile } from '../src/models/registry.js';
import { argMax } from '../src/train/linalg.js';
import { createOpenSetDecider } from '../src/train/openset.js';
import { HeadModel } from '../src/train/predict.js';
import { createRandom, shuffleInPlace } from '../src/train/random.js';
import { train } from '../src/train/train.js';
import type { DescribeJob, DescribeResult } from './peer-worker.js';
import type { MatchResult, PeerName } from './peers/adapter.js';
import { FACE_API_MATCH_DISTANCE } from './peers/face-api.js';
import { matchNearestCentroid } from './peers/facekit.js';
import { HUMAN_MATCH_MIN_SIMILARITY } from './peers/human.js';
import { PEER_LABELS, formatLoad, relativeToNodeModules } from './peers/report.js';
import { runLimited, runPeerWorker } from './peers/run-worker.js';
import { lineChartSvg, writePng } from './plot.js';
import { type BenchContext, type Section, fmt, table } from './util.js';

/** Seed of the order in which each person's training photos join the gallery. */
const GALLERY_SEED = 7;

interface Plan {
  /** Training photos per person, in the seeded order; a gallery of k takes the first k. */
  pool: Map<string, string[]>;
  /** Held-out photos of known people, with their names. */
  known: Array<{ path: string; person: string }>;
  strangers: string[];
  /** Gallery sizes per person; Infinity means every training photo. */
  shots: number[];
}

/** Outcome of one method at one gallery size. */
interface Score {
  /** Held-out known photos named correctly, closed-set (a photo without a face counts as wrong). */
  correct: number;
  knownPhotos: number;
  open: OpenSetCounts | null;
}

interface OpenSetCounts {
  /** Known faces (face found) rejected as unknown. */
  rejected: number;
  /** Known faces accepted under another person's name. */
  misnamed: number;
  knownFaces: number;
  /** Stranger faces accepted as someone. */
  acceptedStrangers: number;
  strangerFaces: number;
}

interface Method {
  label: string;
  /** Open-set decision rule, or the reason there is none. */
  rule: string;
  scores: Array<Score | null>;
}

export async function benchPeerAccuracy(context: BenchContext): Promise<Section> {
  const title = 'Peer toolkits: accuracy';
  if (!context.datasetDir) return { title, markdown: 'Skipped: the celebrity dev dataset is not present.' };
  const work = await mkdtemp(path.join(os.tmpdir(), 'facekit-bench-peer-accuracy-'));
  try {
    const loadBefore = os.loadavg();
    const plan = await planSplit(context.datasetDir, context.quick);
    const photoCount = allPhotos(plan).length;

    // The peers describe the photos in child processes while this process trains facekit
    // models: the WASM peers use one thread each, so the cores would otherwise sit idle.
    const peers: PeerName[] = ['human', 'face-api'];
    const describing = describeWithPeers(peers, plan, work, context);
    const facekitRuns: FacekitRun[] = [];
    const backbones = (['faceres', 'mobilefacenet'] as const).filter((id) => isModelAvailable(id) && (id === 'faceres' || !context.quick));
    for (const backbone of backbones) facekitRuns.push(await runFacekit(backbone, plan, work, context));
    const described = await describing;
    const loadAfter = os.loadavg();

    const methods: Method[] = [];
    const failures: string[] = [];
    const facesFound: Array<Array<string | number>> = [];
    for (const run of facekitRuns) {
      methods.push(run.centroid, run.trained);
      const models = [MODELS.blazeface, MODELS[run.backbone]].map((spec) => `\`${relativeToNodeModules(resolveModelFile(spec))}\``).join(', ');
      facesFound.push([`facekit (${run.backbone})`, `${run.photosWithFace} of ${photoCount}`, '-', '-', models]);
    }
    for (const [i, outcome] of described.entries()) {
      if (outcome.status === 'rejected') {
        failures.push(`${peers[i]}: ${(outcome.reason as Error).message}`);
        continue;
      }
      const result = outcome.value;
      methods.push(descriptorMethod(result, plan));
      const found = result.faceCounts.filter((count) => count > 0).length;
      const models = result.runtime.modelFiles.map((file) => `\`${file}\``).join(', ');
      facesFound.push([PEER_LABELS[result.peer], `${found} of ${result.faceCounts.length}`, fmt(result.describeSeconds), fmt(result.peakRssMiB, 0), models]);
    }

    const shotLabels = plan.shots.map(shotLabel);
    const plotFile = 'peers-accuracy.png';
    await writePng(
      lineChartSvg({
        title: 'Closed-set top-1 on held-out photos (celebrity-faces-dev)',
        xLabel: 'training photos per person',
        yLabel: 'top-1 accuracy, %',
        xValues: shotLabels,
        yMaximum: 100,
        series: methods.map((m) => ({ name: m.label, values: m.scores.map((s) => (s ? (100 * s.correct) / s.knownPhotos : null)) })),
      }),
      path.join(context.pageDir, plotFile),
    );

    const largest = plan.shots.length - 1;
    const known = plan.known.length;
    const markdown = [
      `Dataset: celebrity-faces-dev, ${plan.pool.size} people, split by facekit's seeded stratified split (\`scanDataset\`: seed 42, 20% of each person held out, at least one):`,
      `${known} held-out photos of known people and ${plan.strangers.length} photos of strangers from \`_unknown/\`${context.quick ? ' (quick run: 1 held-out and 1 training photo per person, 8 strangers)' : ''}.`,
      `A gallery of k takes each person's first k training photos in a seeded order (seed ${GALLERY_SEED}); people with fewer photos use all they have${context.quick ? '' : ', so "5" includes people with 4'}.`,
      'Each toolkit describes the largest face in each photo with its own detector, alignment and descriptor, and matches it with its own rule.',
      '`train()` gets the gallery photos as its training folder, the held-out photos as its validation folder and no `_unknown/`,',
      'so its open-set rule never sees the strangers. The validation folder also picks its early-stopping epoch, so its top-1 is slightly optimistic.',
      "facekit's descriptors are the aligned-face features that `train()` cached (the same as `FacePipeline.analyze`).",
      `Load average (1, 5, 15 min) before: ${formatLoad(loadBefore)}, after: ${formatLoad(loadAfter)}.`,
      '',
      '### Closed-set top-1',
      '',
      `Share of the ${known} held-out photos named correctly; a photo in which the toolkit finds no face counts as wrong.`,
      '',
      table(['method', ...shotLabels.map((k) => `${k} per person`)], methods.map((m) => [m.label, ...m.scores.map((s) => (s ? `${fmt((100 * s.correct) / s.knownPhotos)}%` : '-'))])),
      '',
      `![Top-1 accuracy against training photos per person](${plotFile})`,
      '',
      `### Open set, ${shotLabels[largest]} training photos per person`,
      '',
      'Rates over the photos in which the toolkit found a face. Strangers are people in none of the classes, so every acceptance is false.',
      `With ${plan.strangers.length} strangers, one face is ${fmt(100 / Math.max(1, plan.strangers.length), 2)} percentage points.`,
      '',
      table(
        ['method', 'rule', 'strangers accepted (false accept)', 'known faces rejected (false reject)', 'known faces given a wrong name'],
        methods.map((m) => {
          const open = m.scores[largest]?.open;
          if (!open) return [m.label, m.rule, '-', '-', '-'];
          return [
            m.label,
            m.rule,
            `${fmt((100 * open.acceptedStrangers) / open.strangerFaces)}% (${open.acceptedStrangers} of ${open.strangerFaces})`,
            `${fmt((100 * open.rejected) / open.knownFaces)}% (${open.rejected} of ${open.knownFaces})`,
            `${fmt((100 * open.misnamed) / open.knownFaces)}% (${open.misnamed} of ${open.knownFaces})`,
          ];
        }),
      ),
      '',
      '### Faces found and cost',
      '',
      'The peers describe the photos in child processes, two at a time, while facekit trains, so their seconds show relative cost only.',
      'human runs BlazeFace, then FaceMesh with rotation correction, then faceres; face-api runs SSD MobileNet v1, its 68-point landmark net and its recognition net.',
      '',
      table(['toolkit', 'photos with a face', 'seconds to describe every photo', 'peak RSS MiB', 'model files (in node_modules)'], facesFound),
      ...(failures.length ? ['', `Failed: ${failures.join('; ')}.`] : []),
    ].join('\n');
    return { title, markdown };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function shotLabel(shots: number): string {
  return Number.isFinite(shots) ? String(shots) : 'all';
}

async function planSplit(datasetDir: string, quick: boolean): Promise<Plan> {
  const dataset = await scanDataset(datasetDir);
  const random = createRandom(GALLERY_SEED);
  const pool = new Map<string, string[]>();
  const known: Plan['known'] = [];
  for (const [label, person] of dataset.classNames.entries()) {
    const mine = dataset.images.filter((image) => image.label === label);
    const training = shuffleInPlace(mine.filter((image) => image.split === 'train').map((image) => image.path), random);
    pool.set(person, quick ? training.slice(0, 1) : training);
    const heldOut = mine.filter((image) => image.split === 'val');
    for (const image of quick ? heldOut.slice(0, 1) : heldOut) known.push({ path: image.path, person });
  }
  const strangers = quick ? dataset.impostors.slice(0, 8) : dataset.impostors;
  return { pool, known, strangers, shots: quick ? [1] : [1, 3, 5, Infinity] };
}

/** Lists every photo of the plan once: training photos, then held-out ones, then strangers. */
function allPhotos(plan: Plan): string[] {
  return [...[...plan.pool.values()].flat(), ...plan.known.map((k) => k.path), ...plan.strangers];
}

/** Returns the gallery of one size: each person's first `shots` training photos. */
function galleryOf(plan: Plan, shots: number): Array<{ path: string; person: string }> {
  return [...plan.pool].flatMap(([person, files]) => files.slice(0, shots).map((file) => ({ path: file, person })));
}

/** Runs the `describe` task of each peer in a child process, two at a time. */
function describeWithPeers(peers: readonly PeerName[], plan: Plan, work: string, context: BenchContext) {
  const images = allPhotos(plan);
  const index = new Map(images.map((file, i) => [file, i]));
  const queries = [...plan.known.map((k) => index.get(k.path)!), ...plan.strangers.map((s) => index.get(s)!)];
  const job: DescribeJob = {
    images,
    trials: plan.shots.map((shots) => ({
      name: shotLabel(shots),
      gallery: galleryOf(plan, shots).map(({ path: file, person }) => ({ image: index.get(file)!, label: person })),
      queries,
    })),
  };
  const tasks = peers.map((peer) => async () => {
    context.log(`peer accuracy: ${peer} is describing ${images.length} photos`);
    const result = await runPeerWorker<DescribeResult>(peer, 'describe', job, work);
    context.log(`peer accuracy: ${peer} described them in ${fmt(result.describeSeconds)} s`);
    return result;
  });
  return runLimited(tasks, 2);
}

const PEER_METHODS: Partial<Record<PeerName, { label: string; rule: string }>> = {
  human: { label: 'human faceres, match.find', rule: `similarity > ${HUMAN_MATCH_MIN_SIMILARITY} (human wiki)` },
  'face-api': { label: 'face-api, FaceMatcher', rule: `mean Euclidean distance < ${FACE_API_MATCH_DISTANCE} (FaceMatcher default)` },
};

/** Scores a peer's matches: the first queries are the known photos, the rest strangers. */
function descriptorMethod(result: DescribeResult, plan: Plan): Method {
  const knownCount = plan.known.length;
  const scores = result.trials.map((trial) => scoreMatches(trial.matches.slice(0, knownCount), trial.matches.slice(knownCount), plan));
  return { ...(PEER_METHODS[result.peer] ?? { label: result.peer, rule: '-' }), scores };
}

function scoreMatches(knownMatches: ReadonlyArray<MatchResult | null>, strangerMatches: ReadonlyArray<MatchResult | null>, plan: Plan): Score {
  const correct = knownMatches.filter((match, i) => match?.label === plan.known[i]!.person).length;
  const hasRule = [...knownMatches, ...strangerMatches].some((match) => match && match.accepted !== null);
  if (!hasRule) return { correct, knownPhotos: plan.known.length, open: null };
  const knownFaces = knownMatches.filter((match) => match !== null);
  const strangerFaces = strangerMatches.filter((match) => match !== null);
  return {
    correct,
    knownPhotos: plan.known.length,
    open: {
      rejected: knownFaces.filter((match) => !match!.accepted).length,
      misnamed: knownMatches.filter((match, i) => match?.accepted && match.label !== plan.known[i]!.person).length,
      knownFaces: knownFaces.length,
      acceptedStrangers: strangerFaces.filter((match) => match!.accepted).length,
      strangerFaces: strangerFaces.length,
    },
  };
}

interface FacekitRun {
  backbone: 'faceres' | 'mobilefacenet';
  /** Nearest centroid on the cached aligned-face features. */
  centroid: Method;
  /** `train()` with its defaults. */
  trained: Method;
  photosWithFace: number;
}

/**
 * Trains a facekit model per gallery size with `train()` defaults and scores it, then
 * scores the nearest class centroid on the same features. One pipeline and one feature
 * cache serve every run, so each photo is detected and embedded once per backbone.
 */
async function runFacekit(backbone: 'faceres' | 'mobilefacenet', plan: Plan, work: string, context: BenchContext): Promise<FacekitRun> {
  const pipeline = await FacePipeline.create({ backbone });
  const cacheDir = path.join(work, 'feature-cache');
  const trainedScores: Array<Score | null> = new Array(plan.shots.length).fill(null);
  let rule = 'calibrated by train() without strangers';
  try {
    // The largest gallery first, so that its run fills the cache for the smaller ones.
    for (const s of [...plan.shots.keys()].reverse()) {
      const shots = plan.shots[s]!;
      const dataset = path.join(work, `dataset-${backbone}-${shotLabel(shots)}`);
      for (const { path: file, person } of galleryOf(plan, shots)) await linkPhoto(file, path.join(dataset, 'train', person));
      for (const { path: file, person } of plan.known) await linkPhoto(file, path.join(dataset, 'val', person));
      const start = performance.now();
      try {
        const result = await train({ dataset, output: path.join(work, `model-${backbone}-${shotLabel(shots)}`), pipeline, cacheDir });
        context.log(`peer accuracy: train() ${backbone} with ${shotLabel(shots)} per person took ${fmt((performance.now() - start) / 1000)} s`);
        const openSet = result.model.openSet;
        rule = `calibrated by train() (${openSet.calibration.method}, target false accept ${fmt(openSet.maxFalseAccept * 100)}%)`;
        trainedScores[s] = await scoreModel(result.model, pipeline, cacheDir, plan);
      } catch (error) {
        context.log(`peer accuracy: train() ${backbone} with ${shotLabel(shots)} per person failed: ${(error as Error).message}`);
      }
    }

    const features = new Map<string, Float32Array | null>();
    const photos = allPhotos(plan);
    const prepared = await prepareImages(pipeline, photos, { cacheDir });
    prepared.forEach((image, i) => features.set(photos[i]!, image.status === 'ok' ? image.features[0]! : null));
    const centroidScores = plan.shots.map((shots) => {
      const gallery = galleryOf(plan, shots).flatMap(({ path: file, person }) => {
        const descriptor = features.get(file);
        return descriptor ? [{ label: person, descriptor }] : [];
      });
      const answer = (file: string): MatchResult | null => {
        const descriptor = features.get(file);
        return descriptor ? matchNearestCentroid(gallery, [descriptor])[0]! : null;
      };
      return scoreMatches(plan.known.map((k) => answer(k.path)), plan.strangers.map(answer), plan);
    });
    return {
      backbone,
      centroid: { label: `facekit ${backbone}, nearest centroid`, rule: 'none documented for raw features', scores: centroidScores },
      trained: { label: `facekit ${backbone}, train() defaults`, rule, scores: trainedScores },
      photosWithFace: [...features.values()].filter((feature) => feature !== null).length,
    };
  } finally {
    await pipeline.dispose();
  }
}

async function linkPhoto(file: string, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await symlink(file, path.join(folder, path.basename(file)));
}

/** Scores a trained model on the held-out photos (closed and open set) and the strangers. */
async function scoreModel(model: Awaited<ReturnType<typeof train>>['model'], pipeline: FacePipeline, cacheDir: string, plan: Plan): Promise<Score> {
  const head = new HeadModel(model.head);
  const decide = createOpenSetDecider(model.openSet, model.centroids);
  const known = await prepareImages(pipeline, plan.known.map((k) => k.path), { cacheDir });
  const strangers = await prepareImages(pipeline, plan.strangers, { cacheDir });
  let correct = 0;
  const open: OpenSetCounts = { rejected: 0, misnamed: 0, knownFaces: 0, acceptedStrangers: 0, strangerFaces: 0 };
  known.forEach((image, i) => {
    const feature = image.features[0];
    if (image.status !== 'ok' || !feature) return;
    const truth = model.classNames.indexOf(plan.known[i]!.person);
    const [probabilities] = head.predict([feature]);
    if (argMax(probabilities!) === truth) correct += 1;
    const decision = decide(probabilities!, feature);
    open.knownFaces += 1;
    if (decision.label === -1) open.rejected += 1;
    else if (decision.label !== truth) open.misnamed += 1;
  });
  for (const image of strangers) {
    const feature = image.features[0];
    if (image.status !== 'ok' || !feature) continue;
    const [probabilities] = head.predict([feature]);
    open.strangerFaces += 1;
    if (decide(probabilities!, feature).label !== -1) open.acceptedStrangers += 1;
  }
  return { correct, knownPhotos: plan.known.length, open };
}
