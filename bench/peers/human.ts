/**
 * @vladmandic/human behind the benchmark's peer interface, through its Node WASM build
 * (`dist/human.node-wasm.js`) on @tensorflow/tfjs-backend-wasm, with every model read
 * from `@vladmandic/human/models/` on disk.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as HumanModule from '@vladmandic/human';
import type { RgbImage } from '../../src/types.js';
import type { MatchResult, PeerAdapter, PeerTask } from './adapter.js';
import { relativeToNodeModules } from './report.js';
import { registerFileModelLoader, wasmBinaryFolder } from './tfjs-wasm.js';

const require = createRequire(import.meta.url);

/**
 * Similarity above which `human.match` results count as the same person: "Similarity
 * match above 50% can be considered a match" (human wiki, page Embedding, 2023), and
 * the `multiplier` comment in src/face/match.ts of 3.3.6 states the same of 0.5.
 */
export const HUMAN_MATCH_MIN_SIMILARITY = 0.5;

/** Faces per image human returns. Its default, 1, would hide every face but one in group photos. */
const MAX_FACES = 20;

export async function createHumanPeer(task: PeerTask): Promise<PeerAdapter> {
  // The package's "exports" map lists its subpaths without the leading "./", so Node
  // rejects `@vladmandic/human/dist/human.node-wasm.js`; the file is found next to the
  // main entry instead.
  const distFolder = path.dirname(require.resolve('@vladmandic/human'));
  const { Human } = require(path.join(distFolder, 'human.node-wasm.js')) as typeof HumanModule;
  const modelFolder = path.join(distFolder, '..', 'models');
  const human = new Human({
    backend: 'wasm',
    wasmPath: wasmBinaryFolder(),
    wasmPlatformFetch: false,
    modelBasePath: `file://${modelFolder}/`,
    debug: false,
    warmup: 'none',
    // 0 turns off the frame cache, which would otherwise return the previous result for
    // a repeated input and make repeated timings meaningless.
    cacheSensitivity: 0,
    async: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      // human's wiki (page Embedding) recommends mesh and rotation for descriptors; the
      // speed task times the detector alone, so it runs without both.
      detector: { rotation: task === 'describe', maxDetected: MAX_FACES },
      mesh: { enabled: task === 'describe' },
      iris: { enabled: false },
      emotion: { enabled: false },
      description: { enabled: true },
      antispoof: { enabled: false },
      liveness: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  });
  registerFileModelLoader(human.tf.io);
  await human.load();
  const tf = human.tf;
  if (tf.getBackend() !== 'wasm') throw new Error(`human runs on TF.js backend ${tf.getBackend()}, expected wasm`);
  const faceres = human.models.models.faceres;
  if (!faceres) throw new Error(`human did not load faceres.json from ${modelFolder}`);

  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const loaded = human.models.loaded();
  const runtime = {
    package: `@vladmandic/human ${human.version}`,
    backend: `TF.js ${tf.version_core} WASM (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : 'single thread'})`,
    detector: `BlazeFace back model, 256 px input, whole image${task === 'describe' ? ', then FaceMesh with rotation correction' : ''}`,
    descriptor: 'faceres, 224 px, 1,024-d, on its mesh-based crops',
    modelFiles: loaded.map((name) => relativeToNodeModules(path.join(modelFolder, `${name}.json`))),
  };

  const toTensor = (image: RgbImage) => tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  // faceres is loaded for `embed`, but `detect` must time the detector alone. human
  // merges a per-call configuration into its own, so this override is passed on every call.
  const detectOnly = { face: { description: { enabled: false } } };

  return {
    runtime,
    async detect(image) {
      const input = toTensor(image);
      try {
        return (await human.detect(input, detectOnly)).face.length;
      } finally {
        tf.dispose(input);
      }
    },
    async embed(crops) {
      // human's detect() hands faceres one face at a time, so a batch is one call per
      // crop. Each call prepares the crop as src/face/faceres.ts (3.3.6) does with the
      // 0–1 face tensor from its detector: bilinear resize to the model input, then × 255.
      let count = 0;
      for (const crop of crops) {
        const outputs = tf.tidy(() => {
          const face = tf.div(tf.expandDims(toTensor(crop), 0), 255);
          const resized = tf.image.resizeBilinear(face as HumanModule.Tensor4D, [224, 224], false);
          return faceres.execute(tf.mul(resized, 255)) as HumanModule.Tensor[];
        });
        for (const output of outputs) await output.data();
        tf.dispose(outputs);
        count += 1;
      }
      return count;
    },
    async describe(image) {
      const input = toTensor(image);
      try {
        const faces = (await human.detect(input)).face;
        let largest: (typeof faces)[number] | undefined;
        for (const face of faces) {
          if (!largest || face.box[2] * face.box[3] > largest.box[2] * largest.box[3]) largest = face;
        }
        const embedding = largest?.embedding;
        return { faceCount: faces.length, descriptor: embedding && embedding.length > 0 ? Float32Array.from(embedding) : null };
      } finally {
        tf.dispose(input);
      }
    },
    match(gallery, queries): MatchResult[] {
      const descriptors = gallery.map((entry) => Array.from(entry.descriptor));
      return queries.map((query) => {
        // `find` returns the nearest gallery descriptor (nearest neighbour) under human's
        // default distance options, with that distance turned into a 0–1 similarity.
        const best = human.match.find(Array.from(query), descriptors);
        return { label: gallery[best.index]?.label ?? '', accepted: best.similarity > HUMAN_MATCH_MIN_SIMILARITY, score: best.similarity };
      });
    },
    async dispose() {
      human.models.reset();
    },
  };
}
