/**
 * Loads a registered pretrained model: reads the TF.js graph from its npm package,
 * checks the weights' SHA-256, converts the graph to ONNX in memory and opens an ONNX
 * Runtime session on it.
 */
import { FacekitError } from '../errors.js';
import { type ModelId, type ModelSpec, getModelSpec, resolveModelFile } from '../models/registry.js';
import { convertTfjsGraphToOnnx } from './convert.js';
import { type SessionOptions, createOnnxSession } from './onnx.js';
import type { ModelSession } from './tensor.js';
import { readTfjsGraphModel } from './tfjs-graph.js';

/**
 * Channel multiple for `convertTfjsGraphToOnnx`: the NCHWc block of ONNX Runtime's CPU kernels is
 * 8 floats with AVX2 and 16 with AVX-512, and 16 suits both.
 */
const CHANNEL_MULTIPLE = 16;

export interface LoadedModel {
  spec: ModelSpec;
  session: ModelSession;
}

/** Reads, verifies and converts a registered model to serialised ONNX bytes. */
export async function convertRegisteredModel(id: ModelId): Promise<{ spec: ModelSpec; bytes: Uint8Array }> {
  const spec = getModelSpec(id);
  const file = resolveModelFile(spec);
  const graph = await readTfjsGraphModel(file);
  if (graph.weightsSha256 !== spec.weightsSha256) {
    throw new FacekitError(
      'ERR_MODEL_INVALID',
      `Weights of model ${id} in ${file} have SHA-256 ${graph.weightsSha256}, expected ${spec.weightsSha256}: ` +
        `the installed ${spec.packageName} is a different version; install the version in package.json (npm ci)`,
      { path: file },
    );
  }
  const converted = convertTfjsGraphToOnnx(graph, id, { freeSpatialDims: spec.anySize === true, channelMultiple: CHANNEL_MULTIPLE });
  return { spec, bytes: converted.bytes };
}

/** Loads a registered model onto ONNX Runtime. The caller owns the session and disposes it. */
export async function loadModel(id: ModelId, options: SessionOptions = {}): Promise<LoadedModel> {
  const { spec, bytes } = await convertRegisteredModel(id);
  return { spec, session: await createOnnxSession(bytes, options) };
}
