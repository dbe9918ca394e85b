/**
 * Pads the channel counts of convolution activations up to a multiple of a block size, with
 * zero channels, so that ONNX Runtime's CPU provider keeps the whole network in its blocked
 * NCHWc layout.
 *
 * ONNX Runtime runs a convolution in NCHWc by padding its output channels to the block size
 * (8 with AVX2, 16 with AVX-512) internally. A pooling, addition or activation, though, goes
 * back to plain NCHW when its tensor's channel count is not a multiple of the block. In the
 * BlazeFace detector, whose first stage has 24 channels, that left 30 layout conversions and 24
 * unfused additions and activations in each pass. With explicit zero channels every tensor is
 * aligned, each residual addition and activation fuses into the convolution before it, and the
 * channel-padding `Pad` of a residual shortcut becomes an identity 1×1 convolution, which NCHWc
 * also runs.
 *
 * The rewrite is exact. The convolution that makes the added channels gives them zero filters
 * and zero bias, so they are zero. Every operation they pass through keeps zeros zero: ReLU,
 * the sum of two such tensors, max pooling, and depthwise convolution with zero filters. The
 * convolutions that read them have zero weights for them. A tensor is padded only when every
 * operation that reads or writes it is one of those. A tensor that anything else reads (a
 * reshape, a transpose, a graph output) keeps its channel count.
 */
import type { onnx } from 'onnx-proto';

/** The part an operation plays for padded channels: see `channelRole`. */
type ChannelRole = 'source' | 'elementwise' | 'channel-pad';

interface FloatInitializer {
  dims: number[];
  data: Float32Array;
}

interface Rewrite {
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  /** Number of tensors whose channels were padded. */
  paddedTensors: number;
}

/**
 * Returns the graph with the channels of eligible 4-D convolution activations padded up to a
 * multiple of `multiple`, and channel `Pad` operations between eligible tensors replaced by
 * identity 1×1 convolutions. The input arrays are not modified.
 */
export function alignConvChannels(
  nodes: readonly onnx.INodeProto[],
  initializers: readonly onnx.ITensorProto[],
  graphOutputs: readonly string[],
  multiple: number,
): Rewrite {
  const floats = new Map<string, FloatInitializer>();
  const ints = new Map<string, bigint[]>();
  for (const tensor of initializers) readInitializer(tensor, floats, ints);

  const producer = new Map<string, onnx.INodeProto>();
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const node of nodes) {
    for (const output of node.output ?? []) producer.set(output, node);
    for (const input of node.input ?? []) {
      if (!input || floats.has(input) || ints.has(input)) continue;
      const list = consumers.get(input) ?? [];
      list.push(node);
      consumers.set(input, list);
    }
  }

  const roleOf = (node: onnx.INodeProto): ChannelRole | undefined => channelRole(node, floats, ints);
  const classes = new UnionFind();
  const channels = new Map<string, number>();
  const unsafe = new Set<string>();
  const pads: Array<{ node: onnx.INodeProto; input: string; output: string }> = [];

  // Group tensors that must have the same channel count, and note each group's channel count.
  for (const node of nodes) {
    const role = roleOf(node);
    const output = node.output?.[0];
    if (!role || !output) continue;
    const data = dataInputs(node, floats, ints);
    if (role === 'source') {
      channels.set(output, floats.get(node.input![1]!)!.dims[0]!);
      classes.add(output);
    } else if (role === 'elementwise') {
      classes.add(output);
      for (const input of data) classes.union(input, output);
      if (isDepthwise(node, floats)) channels.set(output, floats.get(node.input![1]!)!.dims[0]!);
    } else {
      classes.add(output);
      classes.add(data[0]!);
      pads.push({ node, input: data[0]!, output });
    }
  }

  // A group is unsafe when anything other than a supported operation writes or reads one of its
  // tensors, or when it is a graph output.
  for (const tensor of classes.members()) {
    const writer = producer.get(tensor);
    if (!writer || !roleOf(writer)) unsafe.add(classes.find(tensor));
    for (const reader of consumers.get(tensor) ?? []) {
      const role = roleOf(reader);
      const readsAsData = role !== undefined || isPlainConv(reader, floats);
      if (!readsAsData) unsafe.add(classes.find(tensor));
    }
    if (graphOutputs.includes(tensor)) unsafe.add(classes.find(tensor));
  }
  const classChannels = new Map<string, number>();
  for (const [tensor, count] of channels) {
    const root = classes.find(tensor);
    const known = classChannels.get(root);
    if (known !== undefined && known !== count) unsafe.add(root);
    classChannels.set(root, count);
  }
  for (const tensor of classes.members()) if (!classChannels.has(classes.find(tensor))) unsafe.add(classes.find(tensor));
  for (const pad of pads) {
    const added = Number(ints.get(pad.node.input![1]!)![5]);
    const before = classChannels.get(classes.find(pad.input));
    if (before === undefined || before + added !== classChannels.get(classes.find(pad.output))) {
      unsafe.add(classes.find(pad.input));
      unsafe.add(classes.find(pad.output));
    }
  }
  // A channel Pad is rewritten only with both sides padded, so one unsafe side spoils the other.
  for (let changed = true; changed; ) {
    changed = false;
    for (const pad of pads) {
      const a = classes.find(pad.input);
      const b = classes.find(pad.output);
      if (unsafe.has(a) !== unsafe.has(b)) {
        unsafe.add(a);
        unsafe.add(b);
        changed = true;
      }
    }
  }

  const target = (tensor: string): number | undefined => {
    const root = classes.find(tensor);
    const count = classChannels.get(root);
    if (unsafe.has(root) || count === undefined) return undefined;
    return Math.ceil(count / multiple) * multiple;
  };

  const added: onnx.ITensorProto[] = [];
  let counter = 0;
  const addFloat = (base: string, dims: number[], data: Float32Array): string => {
    const name = `${base}/aligned${++counter}`;
    added.push(floatTensor(name, dims, data));
    return name;
  };

  const rewritten = nodes.map((node): onnx.INodeProto => {
    const role = roleOf(node);
    const output = node.output?.[0];
    const isConv = node.opType === 'Conv';
    if (!isConv && role !== 'channel-pad') return node;

    if (role === 'channel-pad') {
      const from = target(node.input![0]!);
      const to = target(output!);
      if (from === undefined || to === undefined) return node;
      const weights = new Float32Array(to * from);
      for (let c = 0; c < from; c++) weights[c * from + c] = 1;
      return {
        opType: 'Conv',
        name: node.name,
        input: [node.input![0]!, addFloat(`${node.name}/identity`, [to, from, 1, 1], weights)],
        output: [output!],
        attribute: [intsAttribute('kernel_shape', [1, 1])],
      };
    }

    const weightName = node.input![1]!;
    const weight = floats.get(weightName);
    if (!weight) return node;
    const [outChannels, inPerGroup, kh, kw] = weight.dims as [number, number, number, number];
    const depthwise = isDepthwise(node, floats);
    const outTarget = role !== undefined ? target(output!) : undefined;
    const inTarget = !depthwise ? target(node.input![0]!) : undefined;
    const newOut = outTarget ?? outChannels;
    const newIn = inTarget ?? inPerGroup;
    if (newOut === outChannels && newIn === inPerGroup) return node;

    const padded = new Float32Array(newOut * newIn * kh * kw);
    const spatial = kh * kw;
    for (let o = 0; o < outChannels; o++) {
      padded.set(weight.data.subarray(o * inPerGroup * spatial, (o + 1) * inPerGroup * spatial), o * newIn * spatial);
    }
    const inputs = [node.input![0]!, addFloat(weightName, [newOut, newIn, kh, kw], padded)];
    const biasName = node.input![2];
    if (biasName) {
      const bias = floats.get(biasName)!;
      const paddedBias = new Float32Array(newOut);
      paddedBias.set(bias.data);
      inputs.push(newOut === outChannels ? biasName : addFloat(biasName, [newOut], paddedBias));
    }
    const attribute = (node.attribute ?? []).map((a) => (depthwise && a.name === 'group' ? { ...a, i: newOut } : a));
    return { ...node, input: inputs, attribute };
  });

  let paddedTensors = 0;
  for (const tensor of classes.members()) {
    const aligned = target(tensor);
    if (aligned !== undefined && aligned !== classChannels.get(classes.find(tensor))) paddedTensors += 1;
  }
  // Weights that a padded copy replaced are dropped, because ONNX Runtime warns about unused initializers.
  const used = new Set(rewritten.flatMap((node) => node.input ?? []));
  const usedInitializers = [...initializers, ...added].filter((tensor) => used.has(tensor.name ?? ''));
  return { nodes: rewritten, initializers: usedInitializers, paddedTensors };
}

/**
 * Returns how `node` relates channels, if it is an operation that keeps zero channels zero.
 * A plain convolution makes a new group of channels (`source`). ReLU, max pooling, the sum of
 * two activations and a depthwise convolution keep the group (`elementwise`). A constant zero
 * `Pad` that adds channels at the end and nothing else starts a larger group (`channel-pad`).
 */
function channelRole(node: onnx.INodeProto, floats: Map<string, FloatInitializer>, ints: Map<string, bigint[]>): ChannelRole | undefined {
  if ((node.output ?? []).length !== 1) return undefined;
  switch (node.opType) {
    case 'Conv':
      if (isDepthwise(node, floats)) return 'elementwise';
      return isPlainConv(node, floats) ? 'source' : undefined;
    case 'Relu':
      return 'elementwise';
    case 'MaxPool':
      return 'elementwise';
    case 'Add':
      return dataInputs(node, floats, ints).length === 2 ? 'elementwise' : undefined;
    case 'Pad':
      return isChannelPad(node, floats, ints) ? 'channel-pad' : undefined;
    default:
      return undefined;
  }
}

/** Tells whether `node` is a 2-D convolution without groups and with constant float weights. */
function isPlainConv(node: onnx.INodeProto, floats: Map<string, FloatInitializer>): boolean {
  if (node.opType !== 'Conv') return false;
  const weight = floats.get(node.input?.[1] ?? '');
  const bias = node.input?.[2];
  const group = intAttribute(node, 'group') ?? 1;
  return weight?.dims.length === 4 && group === 1 && (!bias || floats.has(bias));
}

/** Tells whether `node` is a 2-D convolution with one filter per input channel and constant float weights. */
function isDepthwise(node: onnx.INodeProto, floats: Map<string, FloatInitializer>): boolean {
  if (node.opType !== 'Conv') return false;
  const weight = floats.get(node.input?.[1] ?? '');
  const bias = node.input?.[2];
  const group = intAttribute(node, 'group') ?? 1;
  return weight?.dims.length === 4 && group > 1 && weight.dims[0] === group && weight.dims[1] === 1 && (!bias || floats.has(bias));
}

/** Tells whether `node` is a constant-mode `Pad` with value zero whose only padding is at the end of axis 1. */
function isChannelPad(node: onnx.INodeProto, floats: Map<string, FloatInitializer>, ints: Map<string, bigint[]>): boolean {
  const mode = node.attribute?.find((a) => a.name === 'mode');
  if (mode?.s && new TextDecoder().decode(mode.s) !== 'constant') return false;
  const pads = ints.get(node.input?.[1] ?? '');
  if (pads?.length !== 8) return false;
  const value = node.input?.[2];
  if (value && !(floats.get(value)?.data.every((v) => v === 0) ?? false)) return false;
  return pads.every((p, i) => (i === 5 ? p > 0n : p === 0n));
}

function dataInputs(node: onnx.INodeProto, floats: Map<string, FloatInitializer>, ints: Map<string, bigint[]>): string[] {
  return (node.input ?? []).filter((name) => name && !floats.has(name) && !ints.has(name));
}

function intAttribute(node: onnx.INodeProto, name: string): number | undefined {
  const attribute = node.attribute?.find((a) => a.name === name);
  return attribute?.i === undefined || attribute.i === null ? undefined : Number(attribute.i);
}

function intsAttribute(name: string, values: number[]): onnx.IAttributeProto {
  // AttributeType.INTS is 7 in onnx.proto.
  return { name, type: 7, ints: values };
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  // TensorProto.DataType.FLOAT is 1 in onnx.proto.
  return { name, dims, dataType: 1, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Reads the float and int64 initializers that the rewrite inspects, and skips the others. */
function readInitializer(tensor: onnx.ITensorProto, floats: Map<string, FloatInitializer>, ints: Map<string, bigint[]>): void {
  const name = tensor.name ?? '';
  const dims = (tensor.dims ?? []).map(Number);
  const raw = tensor.rawData;
  if (tensor.dataType === 1) {
    const data = raw?.length
      ? new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
      : Float32Array.from(tensor.floatData ?? []);
    floats.set(name, { dims, data });
  } else if (tensor.dataType === 7) {
    const data = raw?.length
      ? Array.from(new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)))
      : (tensor.int64Data ?? []).map((v) => BigInt(v.toString()));
    ints.set(name, data);
  }
}

/** Disjoint sets of tensor names. */
class UnionFind {
  readonly #parent = new Map<string, string>();

  add(name: string): void {
    if (!this.#parent.has(name)) this.#parent.set(name, name);
  }

  find(name: string): string {
    this.add(name);
    let root = name;
    while (this.#parent.get(root) !== root) root = this.#parent.get(root)!;
    this.#parent.set(name, root);
    return root;
  }

  union(a: string, b: string): void {
    const rootA = this.find(a);
    const rootB = this.find(b);
    if (rootA !== rootB) this.#parent.set(rootA, rootB);
  }

  members(): string[] {
    return [...this.#parent.keys()];
  }
}
