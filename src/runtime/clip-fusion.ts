/**
 * Rewrites a bounded activation spelled out as element-wise operations into one `Clip`.
 *
 * TF.js graphs of MobileNet-style networks (faceres is one) write ReLU6 as `Relu`, then
 * `Minimum` with 6, then `Maximum` with 0. Converted one for one, ONNX Runtime cannot fuse
 * those into the convolution before them. In faceres the `Min` and `Max` nodes then took 38%
 * of a batch's time, with 53 layout conversions around them. ONNX Runtime fuses a convolution
 * followed by `Clip` with constant bounds into one kernel, which also stays in its blocked
 * NCHWc layout.
 *
 * `Max(Min(x, hi), lo)` and `Min(Max(x, lo), hi)` equal `Clip(x, lo, hi)` when `lo <= hi`, and
 * a `Relu` before them changes nothing when `lo >= 0`.
 */
import type { onnx } from 'onnx-proto';

interface ClipChain {
  /** Indices of all the chain's nodes, first to last. */
  members: number[];
  input: string;
  output: string;
  lo: number;
  hi: number;
}

/**
 * Returns the node list with each `[Relu →] Min → Max` or `[Relu →] Max → Min` chain of scalar
 * constant bounds replaced by one `Clip`. Inner results that anything else reads keep their
 * nodes. The input arrays are not modified, and new bound initializers are appended.
 */
export function fuseClipChains(
  nodes: readonly onnx.INodeProto[],
  initializers: readonly onnx.ITensorProto[],
  graphOutputs: readonly string[],
): { nodes: onnx.INodeProto[]; initializers: onnx.ITensorProto[]; fused: number } {
  const scalars = new Map<string, number>();
  for (const tensor of initializers) {
    const value = scalarValue(tensor);
    if (value !== undefined) scalars.set(tensor.name ?? '', value);
  }
  const readers = new Map<string, number>();
  for (const node of nodes) for (const input of node.input ?? []) readers.set(input, (readers.get(input) ?? 0) + 1);
  for (const output of graphOutputs) readers.set(output, (readers.get(output) ?? 0) + 1);
  const producerIndex = new Map<string, number>();
  nodes.forEach((node, index) => {
    for (const output of node.output ?? []) producerIndex.set(output, index);
  });

  /** Returns the tensor and scalar bound of a two-input `op` node with one scalar constant input. */
  const bound = (node: onnx.INodeProto, op: 'Min' | 'Max'): { input: string; value: number } | undefined => {
    if (node.opType !== op || node.input?.length !== 2) return undefined;
    const [a, b] = node.input as [string, string];
    if (scalars.has(b) && !scalars.has(a)) return { input: a, value: scalars.get(b)! };
    if (scalars.has(a) && !scalars.has(b)) return { input: b, value: scalars.get(a)! };
    return undefined;
  };
  /** Tells whether exactly one node reads `tensor`. */
  const readOnce = (tensor: string): boolean => readers.get(tensor) === 1;

  const chains: ClipChain[] = [];
  nodes.forEach((outer, outerIndex) => {
    for (const [outerOp, innerOp] of [['Max', 'Min'], ['Min', 'Max']] as const) {
      const outerBound = bound(outer, outerOp);
      if (!outerBound || !readOnce(outerBound.input)) continue;
      const innerIndex = producerIndex.get(outerBound.input);
      const inner = innerIndex === undefined ? undefined : nodes[innerIndex];
      const innerBound = inner ? bound(inner, innerOp) : undefined;
      if (!innerBound || innerIndex === undefined) continue;
      const lo = outerOp === 'Max' ? outerBound.value : innerBound.value;
      const hi = outerOp === 'Max' ? innerBound.value : outerBound.value;
      if (!(lo <= hi)) continue;

      const members = [innerIndex, outerIndex];
      let input = innerBound.input;
      const reluIndex = producerIndex.get(input);
      const relu = reluIndex === undefined ? undefined : nodes[reluIndex];
      if (relu?.opType === 'Relu' && reluIndex !== undefined && lo >= 0 && readOnce(input)) {
        members.unshift(reluIndex);
        input = relu.input![0]!;
      }
      chains.push({ members, input, output: outer.output![0]!, lo, hi });
    }
  });

  const dropped = new Set<number>();
  const replacement = new Map<number, onnx.INodeProto>();
  const added: onnx.ITensorProto[] = [];
  for (const chain of chains) {
    if (chain.members.some((index) => dropped.has(index))) continue;
    for (const index of chain.members) dropped.add(index);
    const lo = `${chain.output}/clip_min`;
    const hi = `${chain.output}/clip_max`;
    added.push(scalarTensor(lo, chain.lo), scalarTensor(hi, chain.hi));
    replacement.set(chain.members[chain.members.length - 1]!, { opType: 'Clip', name: chain.output, input: [chain.input, lo, hi], output: [chain.output], attribute: [] });
  }

  // The Clip takes the place of the chain's last node, where every reader of its output already follows.
  const rewritten = nodes.flatMap((node, index) => {
    const clip = replacement.get(index);
    if (clip) return [clip];
    return dropped.has(index) ? [] : [node];
  });
  const used = new Set(rewritten.flatMap((node) => node.input ?? []));
  const usedInitializers = [...initializers, ...added].filter((tensor) => used.has(tensor.name ?? ''));
  return { nodes: rewritten, initializers: usedInitializers, fused: replacement.size };
}

/** Returns the value of a float32 initializer with one element, or undefined for any other tensor. */
function scalarValue(tensor: onnx.ITensorProto): number | undefined {
  // TensorProto.DataType.FLOAT is 1 in onnx.proto.
  if (tensor.dataType !== 1) return undefined;
  // Rank 0 or 1 only, because a bound of higher rank broadcasts Min and Max to that rank and Clip does not.
  const dims = tensor.dims ?? [];
  if (dims.length > 1 || dims.reduce<number>((a, b) => a * Number(b), 1) !== 1) return undefined;
  const raw = tensor.rawData;
  if (raw?.length === 4) return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true);
  return tensor.floatData?.length === 1 ? tensor.floatData[0] : undefined;
}

function scalarTensor(name: string, value: number): onnx.ITensorProto {
  return { name, dims: [], dataType: 1, rawData: new Uint8Array(Float32Array.of(value).buffer) };
}
