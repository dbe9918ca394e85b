/**
 * Reads a TF.js graph model (`model.json` plus binary weight shards) from disk without
 * TF.js: the graph topology as JSON and every weight decoded to float32 or int64.
 *
 * Format reference: the TF.js "graph model" JSON written by tensorflowjs_converter
 * (`modelTopology.node[]` in TensorFlow GraphDef JSON form, and `weightsManifest[]` with
 * per-weight dtype, shape and optional quantization).
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { FacekitError } from '../errors.js';

/** One GraphDef node as TF.js stores it. Attribute values keep the GraphDef JSON shape. */
export interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, GraphAttr>;
}

export interface GraphAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: Array<string | number>; f?: number[] };
  shape?: { dim?: Array<{ size?: string }>; unknownRank?: boolean };
  tensor?: unknown;
}

/** A decoded weight: float weights as float32 (dequantised), integer weights as int64. */
export type ConstTensor =
  | { dtype: 'float32'; shape: number[]; data: Float32Array }
  | { dtype: 'int64'; shape: number[]; data: BigInt64Array };

export interface GraphSignatureEntry {
  /** The key in the signature, which the model's users address the tensor by. */
  key: string;
  /** The node name, without the `:0` output index. */
  node: string;
}

export interface TfjsGraphModel {
  nodes: GraphNode[];
  weights: Map<string, ConstTensor>;
  inputs: GraphSignatureEntry[];
  outputs: GraphSignatureEntry[];
  /** SHA-256 over the weight shards in manifest order, hex. */
  weightsSha256: string;
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

interface ModelJson {
  modelTopology?: { node?: GraphNode[] };
  weightsManifest?: Array<{ paths: string[]; weights: ManifestWeight[] }>;
  signature?: Signature;
  userDefinedMetadata?: { signature?: Signature };
}

interface Signature {
  inputs?: Record<string, { name?: string }>;
  outputs?: Record<string, { name?: string }>;
}

/** Reads and decodes a TF.js graph model. `modelJsonPath` is the path of `model.json`. */
export async function readTfjsGraphModel(modelJsonPath: string): Promise<TfjsGraphModel> {
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  } catch (error) {
    throw new FacekitError('ERR_MODEL_INVALID', `Cannot read TF.js graph model ${modelJsonPath}: ${(error as Error).message}`, {
      path: modelJsonPath,
      cause: error,
    });
  }
  const nodes = json.modelTopology?.node;
  if (!Array.isArray(nodes) || !Array.isArray(json.weightsManifest)) {
    throw new FacekitError(
      'ERR_MODEL_INVALID',
      `${modelJsonPath} is not a TF.js graph model: modelTopology.node or weightsManifest is missing`,
      { path: modelJsonPath },
    );
  }

  const folder = path.dirname(modelJsonPath);
  const hash = createHash('sha256');
  const weights = new Map<string, ConstTensor>();
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((shard) => readFile(path.join(folder, shard))));
    for (const shard of shards) hash.update(shard);
    const buffer = Buffer.concat(shards);
    let offset = 0;
    for (const weight of group.weights) {
      const { tensor, byteLength } = decodeWeight(weight, buffer, offset, modelJsonPath);
      weights.set(weight.name, tensor);
      offset += byteLength;
    }
    if (offset !== buffer.length) {
      throw new FacekitError(
        'ERR_MODEL_INVALID',
        `Weight shards of ${modelJsonPath} hold ${buffer.length} bytes but the manifest describes ${offset}`,
        { path: modelJsonPath },
      );
    }
  }

  const signature = json.signature ?? json.userDefinedMetadata?.signature;
  const inputs = signatureEntries(signature?.inputs) ?? nodes.filter((n) => n.op === 'Placeholder').map((n) => ({ key: n.name, node: n.name }));
  const outputs = signatureEntries(signature?.outputs) ?? findTerminalNodes(nodes).map((name) => ({ key: name, node: name }));
  return { nodes, weights, inputs, outputs, weightsSha256: hash.digest('hex') };
}

function signatureEntries(entries: Record<string, { name?: string }> | undefined): GraphSignatureEntry[] | undefined {
  if (!entries || Object.keys(entries).length === 0) return undefined;
  return Object.entries(entries).map(([key, value]) => ({ key, node: stripOutputIndex(value.name ?? key) }));
}

/** Returns `name` without a trailing `:0`; other output indices are kept. */
export function stripOutputIndex(name: string): string {
  return name.endsWith(':0') ? name.slice(0, -2) : name;
}

/** Nodes whose value no other node reads: the graph's outputs when no signature lists them. */
function findTerminalNodes(nodes: GraphNode[]): string[] {
  const consumed = new Set<string>();
  for (const node of nodes) {
    for (const input of node.input ?? []) consumed.add(stripOutputIndex(input.replace(/^\^/, '')));
  }
  return nodes.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !consumed.has(n.name)).map((n) => n.name);
}

function decodeWeight(
  weight: ManifestWeight,
  buffer: Buffer,
  offset: number,
  modelJsonPath: string,
): { tensor: ConstTensor; byteLength: number } {
  const count = weight.shape.reduce((a, b) => a * b, 1);
  const quantization = weight.quantization;
  const storedType = quantization?.dtype ?? weight.dtype;
  const bytesPerValue = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, bool: 1 }[storedType];
  if (bytesPerValue === undefined) {
    throw new FacekitError('ERR_UNSUPPORTED', `Weight ${weight.name} in ${modelJsonPath} is stored as ${storedType}, which facekit cannot decode`, {
      path: modelJsonPath,
    });
  }
  const byteLength = count * bytesPerValue;
  if (offset + byteLength > buffer.length) {
    throw new FacekitError('ERR_MODEL_INVALID', `Weight shards of ${modelJsonPath} end before weight ${weight.name}`, { path: modelJsonPath });
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset + offset, byteLength);

  if (weight.dtype === 'int32' && storedType === 'int32') {
    const data = new BigInt64Array(count);
    for (let i = 0; i < count; i++) data[i] = BigInt(view.getInt32(i * 4, true));
    return { tensor: { dtype: 'int64', shape: weight.shape, data }, byteLength };
  }
  if (weight.dtype !== 'float32') {
    throw new FacekitError('ERR_UNSUPPORTED', `Weight ${weight.name} in ${modelJsonPath} has dtype ${weight.dtype}, which facekit cannot decode`, {
      path: modelJsonPath,
    });
  }

  const data = new Float32Array(count);
  if (storedType === 'float32') {
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  } else if (storedType === 'float16') {
    for (let i = 0; i < count; i++) data[i] = float16ToFloat32(view.getUint16(i * 2, true));
  } else {
    // Affine quantisation as the TF.js converter writes it: value = stored * scale + min.
    const scale = quantization?.scale ?? 1;
    const min = quantization?.min ?? 0;
    const read = storedType === 'uint8' ? (i: number) => view.getUint8(i) : (i: number) => view.getUint16(i * 2, true);
    for (let i = 0; i < count; i++) data[i] = read(i) * scale + min;
  }
  return { tensor: { dtype: 'float32', shape: weight.shape, data }, byteLength };
}

/** Converts an IEEE 754 half-precision bit pattern to a number. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
