/**
 * @vladmandic/face-api behind the benchmark's peer interface, through its Node WASM build
 * (`dist/face-api.node-wasm.js`) on @tensorflow/tfjs-backend-wasm, with the weights read
 * from `@vladmandic/face-api/model/` by its own `loadFromDisk`.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApiModule from '@vladmandic/face-api';
import type { RgbImage } from '../../src/types.js';
import type { MatchResult, PeerAdapter, PeerTask } from './adapter.js';
import { relativeToNodeModules } from './report.js';
import { wasmBinaryFolder } from './tfjs-wasm.js';

const require = createRequire(import.meta.url);

/**
 * Euclidean distance on the 128-d descriptor below which face-api's `FaceMatcher` names a
 * person: its constructor's default `distanceThreshold` (src/globalApi/FaceMatcher.ts, 1.7.15).
 */
export const FACE_API_MATCH_DISTANCE = 0.6;

export async function createFaceApiPeer(task: PeerTask): Promise<PeerAdapter> {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as typeof FaceApiModule;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  // The WASM build requires the installed @tensorflow/tfjs, the module loaded here. Its
  // typings bundle their own copy of the TF.js types, so the tensors passed to face-api
  // are made with `faceapi.tf`, the same module typed as face-api expects.
  const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
  wasm.setWasmPaths(wasmBinaryFolder());
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') throw new Error('face-api: the TF.js WASM backend failed to start');

  const modelFolder = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const nets: Array<{ loadFromDisk(folder: string): Promise<void>; dispose(): void }> = [faceapi.nets.ssdMobilenetv1, faceapi.nets.faceRecognitionNet];
  if (task === 'describe') nets.push(faceapi.nets.faceLandmark68Net);
  for (const net of nets) await net.loadFromDisk(modelFolder);

  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const manifests: Record<string, string> = {
    ssdMobilenetv1: 'ssd_mobilenetv1_model',
    faceRecognitionNet: 'face_recognition_model',
    faceLandmark68Net: 'face_landmark_68_model',
  };
  const runtime = {
    package: `@vladmandic/face-api ${faceapi.version}`,
    backend: `TF.js ${tf.version_core} WASM (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : 'single thread'})`,
    detector: `SSD MobileNet v1, default options (512 px input, score ≥ 0.5)${task === 'describe' ? ', then the 68-point landmark net' : ''}`,
    descriptor: 'ResNet-34-like recognition net, 150 px, 128-d, on landmark-aligned crops',
    modelFiles: Object.entries(manifests)
      .filter(([net]) => task === 'describe' || net !== 'faceLandmark68Net')
      .map(([, file]) => relativeToNodeModules(path.join(modelFolder, `${file}.bin`))),
  };

  const toTensor = (image: RgbImage) => faceapi.tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  const detectorOptions = new faceapi.SsdMobilenetv1Options();

  return {
    runtime,
    async detect(image) {
      const input = toTensor(image);
      try {
        return (await faceapi.detectAllFaces(input, detectorOptions)).length;
      } finally {
        input.dispose();
      }
    },
    async embed(crops) {
      // computeFaceDescriptor takes an array of face images and runs them as one batch.
      const inputs = crops.map(toTensor);
      try {
        const output = await faceapi.computeFaceDescriptor(inputs.length === 1 ? inputs[0]! : inputs);
        return Array.isArray(output) ? output.length : 1;
      } finally {
        for (const input of inputs) input.dispose();
      }
    },
    async describe(image) {
      const input = toTensor(image);
      try {
        const faces = await faceapi.detectAllFaces(input, detectorOptions).withFaceLandmarks().withFaceDescriptors();
        let largest: (typeof faces)[number] | undefined;
        for (const face of faces) {
          if (!largest || face.detection.box.area > largest.detection.box.area) largest = face;
        }
        return { faceCount: faces.length, descriptor: largest ? largest.descriptor : null };
      } finally {
        input.dispose();
      }
    },
    match(gallery, queries): MatchResult[] {
      const byLabel = new Map<string, Float32Array[]>();
      for (const { label, descriptor } of gallery) byLabel.set(label, [...(byLabel.get(label) ?? []), descriptor]);
      const labelled = [...byLabel].map(([label, descriptors]) => new faceapi.LabeledFaceDescriptors(label, descriptors));
      const matcher = new faceapi.FaceMatcher(labelled, FACE_API_MATCH_DISTANCE);
      return queries.map((query) => {
        // matchDescriptor: the person with the smallest mean Euclidean distance to the
        // query; findBestMatch: the same, or "unknown" at distance ≥ the threshold.
        const nearest = matcher.matchDescriptor(query);
        const decided = matcher.findBestMatch(query);
        return { label: nearest.label, accepted: decided.label === nearest.label, score: nearest.distance };
      });
    },
    async dispose() {
      for (const net of nets) net.dispose();
    },
  };
}
