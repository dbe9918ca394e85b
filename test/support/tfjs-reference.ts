/**
 * Runs a TF.js graph model on the TF.js WASM backend, the reference that converted ONNX
 * models are compared against. Test-only: facekit itself never runs TF.js graphs.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
let ready: Promise<void> | undefined;

/** Selects the WASM backend once per process; fails if it cannot start (no fallback to CPU). */
export function useWasmBackend(): Promise<void> {
  ready ??= (async () => {
    const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(wasmDir + path.sep);
    const ok = await tf.setBackend('wasm');
    if (!ok || tf.getBackend() !== 'wasm') throw new Error('TF.js WASM backend failed to start');
  })();
  return ready;
}

/** Loads a TF.js graph model from `model.json` on disk. */
export async function loadTfjsGraphModel(modelJsonPath: string): Promise<tf.GraphModel> {
  await useWasmBackend();
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8'));
  const folder = path.dirname(modelJsonPath);
  const weightSpecs = json.weightsManifest.flatMap((group: { weights: unknown[] }) => group.weights);
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    for (const shard of group.paths) shards.push(await readFile(path.join(folder, shard)));
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature, userDefinedMetadata: json.userDefinedMetadata }),
  );
  return model;
}

/** Runs the model on one NHWC input and returns every requested output as plain data. */
export async function runTfjs(
  model: tf.GraphModel,
  inputName: string,
  input: Float32Array,
  dims: number[],
  outputNodes: string[],
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const x = tf.tensor(input, dims, 'float32');
  const outputs = (await model.executeAsync({ [inputName]: x }, outputNodes)) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const result: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (let i = 0; i < list.length; i++) {
    result[outputNodes[i]!] = { data: (await list[i]!.data()) as Float32Array, dims: list[i]!.shape };
    list[i]!.dispose();
  }
  x.dispose();
  return result;
}

export { tf };
