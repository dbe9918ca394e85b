/** facekit behind the benchmark's peer interface: BlazeFace and a backbone on ONNX Runtime. */
import { createRequire } from 'node:module';
import { FaceDetector } from '../../src/detect/detector.js';
import { Embedder } from '../../src/embed/embedder.js';
import { FacePipeline, largestFace } from '../../src/embed/face-pipeline.js';
import { MODELS, resolveModelFile } from '../../src/models/registry.js';
import { loadModel } from '../../src/runtime/load.js';
import { defaultIntraOpThreads } from '../../src/runtime/onnx.js';
import { cosineSimilarity, l2Normalize } from '../../src/train/linalg.js';
import type { MatchResult, PeerAdapter, PeerTask } from './adapter.js';
import { relativeToNodeModules } from './report.js';

const require = createRequire(import.meta.url);

export interface FacekitPeerOptions {
  backbone: 'faceres' | 'mobilefacenet';
  /** ONNX Runtime intra-op threads per session. */
  intraOpThreads: number;
  task: PeerTask;
}

export async function createFacekitPeer(options: FacekitPeerOptions): Promise<PeerAdapter> {
  const threads = options.intraOpThreads;
  const spec = MODELS[options.backbone];
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  const facekitVersion = (require('../../package.json') as { version: string }).version;
  const runtime = {
    package: `facekit ${facekitVersion}`,
    backend: `ONNX Runtime ${ortVersion} CPU, ${threads} of ${defaultIntraOpThreads()} cores`,
    detector: 'BlazeFace back model, 256 px input; one pass on frames, the default scale pyramid (two whole-image passes) on photos',
    descriptor: `${options.backbone}, ${spec.inputSize} px, ${options.backbone === 'faceres' ? '1,024' : '192'}-d, on keypoint-aligned crops`,
    modelFiles: [MODELS.blazeface, spec].map((model) => relativeToNodeModules(resolveModelFile(model))),
  };
  const unavailable = (method: string) => () => Promise.reject(new Error(`${method}() is not loaded for task ${options.task}`));

  if (options.task === 'speed') {
    const openSession = async (id: Parameters<typeof loadModel>[0]) => (await loadModel(id, { intraOpThreads: threads })).session;
    // Frames get one whole-image pass and photos the default scale pyramid, as in the
    // detection section of this benchmark.
    const frameDetector = new FaceDetector(openSession, { tiling: false });
    const photoDetector = new FaceDetector(openSession, {});
    const embedder = await Embedder.create({ backbone: options.backbone, intraOpThreads: threads });
    return {
      runtime,
      async detect(image, kind) {
        return (await (kind === 'frame' ? frameDetector : photoDetector).detect(image)).length;
      },
      async embed(crops) {
        return (await embedder.embed(crops)).length;
      },
      describe: unavailable('describe'),
      match: matchNearestCentroid,
      async dispose() {
        await Promise.all([frameDetector.dispose(), photoDetector.dispose(), embedder.dispose()]);
      },
    };
  }

  const pipeline = await FacePipeline.create({ backbone: options.backbone, intraOpThreads: threads });
  return {
    runtime,
    detect: unavailable('detect'),
    embed: unavailable('embed'),
    async describe(image) {
      const faces = await pipeline.detect(image);
      const face = largestFace(faces);
      if (!face) return { faceCount: 0, descriptor: null };
      const [aligned] = pipeline.align(image, [face]);
      const [feature] = await pipeline.embed([aligned!.crop]);
      return { faceCount: faces.length, descriptor: feature! };
    },
    match: matchNearestCentroid,
    dispose: () => pipeline.dispose(),
  };
}

/**
 * Nearest class centroid by cosine similarity; a centroid is the normalised mean of the
 * class's L2-normalised features. facekit documents no threshold for raw backbone
 * features (its open-set rule is calibrated for each trained model), so `accepted` is null.
 */
export function matchNearestCentroid(gallery: ReadonlyArray<{ label: string; descriptor: Float32Array }>, queries: readonly Float32Array[]): MatchResult[] {
  const sums = new Map<string, Float64Array>();
  for (const { label, descriptor } of gallery) {
    const sum = sums.get(label) ?? new Float64Array(descriptor.length);
    const unit = l2Normalize(descriptor);
    for (let i = 0; i < unit.length; i++) sum[i]! += unit[i]!;
    sums.set(label, sum);
  }
  const centroids = [...sums].map(([label, sum]) => ({ label, centroid: l2Normalize(Float32Array.from(sum)) }));
  return queries.map((query) => {
    let best: MatchResult = { label: '', accepted: null, score: -Infinity };
    for (const { label, centroid } of centroids) {
      const score = cosineSimilarity(query, centroid);
      if (score > best.score) best = { label, accepted: null, score };
    }
    return best;
  });
}
