/**
 * Converts a TF.js graph model, in memory, to an ONNX model (opset 13) that ONNX Runtime
 * runs.
 *
 * TF.js graphs are NHWC; ONNX convolutions are NCHW. The converter transposes a 4-D input
 * to NCHW once and keeps every 4-D activation in NCHW while it flows through layout-aware
 * operations (convolutions, pooling, element-wise maths, padding, resizing). Operations
 * whose meaning depends on the axis order (reshape, softmax, most reductions) get their
 * input transposed back to NHWC first, so the results equal the TF.js graph's. Graph
 * outputs are always in the TF.js layout and keep their TF.js names.
 */
import onnxProto, { type onnx } from 'onnx-proto';
import { FacekitError } from '../errors.js';
import { alignConvChannels } from './channel-align.js';
import { fuseClipChains } from './clip-fusion.js';
import { type ConstTensor, type GraphAttr, type GraphNode, type TfjsGraphModel, stripOutputIndex } from './tfjs-graph.js';

// onnx-proto is CommonJS: its namespace object arrives as the default export.
const proto = onnxProto.onnx;

/** ONNX opset this converter emits. 13 takes Squeeze/Unsqueeze/Slice axes as inputs and ReduceMean axes as an attribute. */
export const ONNX_OPSET = 13;

/** NHWC axis → NCHW axis, for tensors held in NCHW. */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];
const INT64_MAX = 9223372036854775807n;

type Layout = 'nchw' | 'plain';

interface Value {
  /** ONNX tensor name, or undefined for a constant not yet written as an initializer. */
  name?: string;
  layout: Layout;
  dtype: 'float32' | 'int64';
  /** Rank in the TF.js layout, when known. */
  rank?: number;
  constant?: ConstTensor;
}

export interface ConvertedModel {
  /** The serialised ONNX ModelProto. */
  bytes: Uint8Array;
  inputNames: string[];
  outputNames: string[];
}

export interface ConvertOptions {
  /**
   * Frees the height and width of 4-D inputs and writes -1 at axis 1 of every constant
   * Reshape shape, so a fully convolutional detector whose head flattens its feature map
   * into `[batch, anchors, values]` runs on inputs of any size. Default false.
   */
  freeSpatialDims?: boolean;
  /**
   * Pads convolution activations with zero channels up to a multiple of this many, where the
   * rewrite is exact, so ONNX Runtime keeps them in its blocked layout (see
   * `src/runtime/channel-align.ts`). Default 1: no padding.
   */
  channelMultiple?: number;
}

/** Converts a decoded TF.js graph model to ONNX. Throws ERR_UNSUPPORTED_OP for an op it does not know. */
export function convertTfjsGraphToOnnx(model: TfjsGraphModel, modelName = 'model', options: ConvertOptions = {}): ConvertedModel {
  const converter = new GraphConverter(options.freeSpatialDims ? freeSpatialDims(model) : model, modelName, options.channelMultiple ?? 1);
  return converter.convert();
}

/** Copies `model` so that its inputs take any height and width (see `ConvertOptions`). */
function freeSpatialDims(model: TfjsGraphModel): TfjsGraphModel {
  const weights = new Map(model.weights);
  const nodes = model.nodes.map((node) => {
    if (node.op === 'Placeholder') {
      const dims = node.attr?.shape?.shape?.dim;
      if (dims?.length !== 4) return node;
      const free = dims.map((dim, axis) => (axis === 1 || axis === 2 ? { size: '-1' } : dim));
      return { ...node, attr: { ...node.attr, shape: { shape: { dim: free } } } };
    }
    if (node.op === 'Reshape') {
      const shapeName = stripOutputIndex(node.input?.[1] ?? '');
      const shape = weights.get(shapeName);
      if (shape?.dtype === 'int64' && shape.data.length >= 2) {
        const data = BigInt64Array.from(shape.data);
        data[1] = -1n;
        weights.set(shapeName, { ...shape, data });
      }
    }
    return node;
  });
  return { ...model, nodes, weights };
}

class GraphConverter {
  private readonly nodesByName = new Map<string, GraphNode>();
  private readonly values = new Map<string, Value>();
  private readonly onnxNodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly layoutCache = new Map<string, string>();
  private counter = 0;

  constructor(
    private readonly model: TfjsGraphModel,
    private readonly modelName: string,
    private readonly channelMultiple: number,
  ) {
    for (const node of model.nodes) this.nodesByName.set(node.name, node);
  }

  convert(): ConvertedModel {
    const graphInputs: onnx.IValueInfoProto[] = [];
    for (const entry of this.model.inputs) {
      const node = this.nodesByName.get(entry.node);
      if (!node || node.op !== 'Placeholder') {
        throw new FacekitError('ERR_MODEL_INVALID', `Model ${this.modelName}: input ${entry.key} is not a Placeholder node`);
      }
      const dims = (node.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
      graphInputs.push(valueInfo(entry.key, proto.TensorProto.DataType.FLOAT, dims));
      this.values.set(node.name, { name: entry.key, layout: 'plain', dtype: 'float32', rank: dims.length });
    }

    const graphOutputs: onnx.IValueInfoProto[] = [];
    for (const entry of this.model.outputs) {
      const value = this.plain(this.valueOf(entry.node));
      this.emit('Identity', [this.nameOf(value)], [entry.key]);
      const type = value.dtype === 'int64' ? proto.TensorProto.DataType.INT64 : proto.TensorProto.DataType.FLOAT;
      graphOutputs.push(valueInfo(entry.key, type, undefined));
    }

    const outputNames = graphOutputs.map((output) => output.name!);
    const clipped = fuseClipChains(this.onnxNodes, this.initializers, outputNames);
    const aligned =
      this.channelMultiple > 1 ? alignConvChannels(clipped.nodes, clipped.initializers, outputNames, this.channelMultiple) : clipped;
    const modelProto = proto.ModelProto.create({
      irVersion: 7,
      producerName: 'facekit',
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      graph: {
        name: this.modelName,
        node: aligned.nodes,
        initializer: aligned.initializers,
        input: graphInputs,
        output: graphOutputs,
      },
    });
    return {
      bytes: proto.ModelProto.encode(modelProto).finish(),
      inputNames: this.model.inputs.map((e) => e.key),
      outputNames: this.model.outputs.map((e) => e.key),
    };
  }

  // ---- values --------------------------------------------------------------------------

  /** Returns the converted value of a TF.js tensor reference such as `conv1/Relu` or `^dep`. */
  private valueOf(reference: string): Value {
    const nodeName = stripOutputIndex(reference);
    if (/:\d+$/.test(nodeName)) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: ${reference} reads a second output of a node, which facekit cannot convert`);
    }
    const known = this.values.get(nodeName);
    if (known) return known;
    const node = this.nodesByName.get(nodeName);
    if (!node) throw new FacekitError('ERR_MODEL_INVALID', `Model ${this.modelName}: node ${nodeName} is referenced but not defined`);
    const value = this.convertNode(node);
    this.values.set(nodeName, value);
    return value;
  }

  private inputsOf(node: GraphNode): Value[] {
    return (node.input ?? []).filter((name) => !name.startsWith('^')).map((name) => this.valueOf(name));
  }

  /** Returns the ONNX name of a value, writing a constant as an initializer on first use. */
  private nameOf(value: Value): string {
    if (value.name !== undefined) return value.name;
    const constant = value.constant!;
    value.name = this.addInitializer(constant);
    return value.name;
  }

  private addInitializer(constant: ConstTensor, hint = 'const'): string {
    const name = this.freshName(hint);
    const bytes = new Uint8Array(constant.data.buffer, constant.data.byteOffset, constant.data.byteLength);
    this.initializers.push({
      name,
      dims: constant.shape,
      dataType: constant.dtype === 'int64' ? proto.TensorProto.DataType.INT64 : proto.TensorProto.DataType.FLOAT,
      rawData: bytes.slice(),
    });
    return name;
  }

  private int64Initializer(values: Array<number | bigint>, hint = 'ints'): string {
    return this.addInitializer({ dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) }, hint);
  }

  private floatScalarInitializer(value: number): string {
    return this.addInitializer({ dtype: 'float32', shape: [], data: Float32Array.of(value) }, 'scalar');
  }

  private freshName(hint: string): string {
    this.counter += 1;
    return `${hint}#${this.counter}`;
  }

  private emit(opType: string, inputs: string[], outputs?: string[], attributes: onnx.IAttributeProto[] = []): string {
    const outs = outputs ?? [this.freshName(opType)];
    this.onnxNodes.push({ opType, input: inputs, output: outs, name: outs[0], attribute: attributes });
    return outs[0]!;
  }

  /** Returns the value in the TF.js (NHWC) layout, transposing an NCHW value. */
  private plain(value: Value): Value {
    if (value.layout === 'plain') return value;
    const name = this.transposeCached(this.nameOf(value), [0, 2, 3, 1]);
    return { name, layout: 'plain', dtype: value.dtype, rank: 4 };
  }

  /** Returns a 4-D value in NCHW, transposing an NHWC value. */
  private nchw(value: Value, node: GraphNode): Value {
    if (value.layout === 'nchw') return value;
    if (value.constant) {
      return { name: this.addInitializer(toNchwConstant(value.constant)), layout: 'nchw', dtype: value.dtype, rank: 4 };
    }
    if (value.rank !== 4) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: ${node.op} node ${node.name} needs a 4-D input`);
    }
    const name = this.transposeCached(this.nameOf(value), [0, 3, 1, 2]);
    return { name, layout: 'nchw', dtype: value.dtype, rank: 4 };
  }

  private transposeCached(input: string, perm: number[]): string {
    const key = `${input}|${perm.join(',')}`;
    let name = this.layoutCache.get(key);
    if (name === undefined) {
      name = this.emit('Transpose', [input], undefined, [intsAttr('perm', perm)]);
      this.layoutCache.set(key, name);
    }
    return name;
  }

  // ---- ops -----------------------------------------------------------------------------

  private convertNode(node: GraphNode): Value {
    switch (node.op) {
      case 'Const':
        return this.convertConst(node);
      case 'Identity':
      case 'StopGradient':
        return this.inputsOf(node)[0]!;
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.convertConv(node);
      case '_FusedMatMul':
      case 'MatMul':
        return this.convertMatMul(node);
      case 'Add':
      case 'AddV2':
      case 'BiasAdd':
        return this.convertBinary(node, 'Add');
      case 'Sub':
        return this.convertBinary(node, 'Sub');
      case 'Mul':
        return this.convertBinary(node, 'Mul');
      case 'RealDiv':
      case 'Div':
        return this.convertBinary(node, 'Div');
      case 'Minimum':
        return this.convertBinary(node, 'Min');
      case 'Maximum':
        return this.convertBinary(node, 'Max');
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Abs':
      case 'Neg':
      case 'Exp':
      case 'Sqrt':
      case 'Elu':
        return this.convertUnary(node, node.op);
      case 'Relu6':
      case 'Rsqrt':
      case 'Square':
        return this.activation(this.inputsOf(node)[0]!, node.op);
      case 'Softmax':
        return this.convertSoftmax(node);
      case 'Mean':
      case 'Sum':
      case 'Max':
        return this.convertReduce(node);
      case 'Pad':
      case 'PadV2':
      case 'MirrorPad':
        return this.convertPad(node);
      case 'MaxPool':
      case 'AvgPool':
        return this.convertPool(node);
      case 'Reshape':
        return this.convertReshape(node);
      case 'Squeeze':
        return this.convertSqueeze(node);
      case 'ConcatV2':
        return this.convertConcat(node);
      case 'Shape':
        return this.convertShape(node);
      case 'StridedSlice':
        return this.convertStridedSlice(node);
      case 'Pack':
        return this.convertPack(node);
      case 'ResizeBilinear':
        return this.convertResize(node);
      case 'DepthToSpace':
        return this.convertDepthToSpace(node);
      default:
        throw new FacekitError(
          'ERR_UNSUPPORTED_OP',
          `Model ${this.modelName}: operation ${node.op} (node ${node.name}) is not supported by the TF.js-to-ONNX converter`,
        );
    }
  }

  private convertConst(node: GraphNode): Value {
    const constant = this.model.weights.get(node.name);
    if (!constant) {
      throw new FacekitError('ERR_MODEL_INVALID', `Model ${this.modelName}: constant ${node.name} has no weights in the manifest`);
    }
    return { layout: 'plain', dtype: constant.dtype, rank: constant.shape.length, constant };
  }

  private convertConv(node: GraphNode): Value {
    const [input, filter, ...args] = this.inputsOf(node);
    if (!filter?.constant || filter.constant.dtype !== 'float32') {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: ${node.op} node ${node.name} has a non-constant filter`);
    }
    requireNhwc(node, this.modelName);
    const depthwise = node.op.includes('Depthwise');
    const [kh, kw, inChannels] = filter.constant.shape as [number, number, number, number];
    const weights = depthwise ? depthwiseFilterToOnnx(filter.constant) : conv2dFilterToOnnx(filter.constant);
    const strides = listInts(node.attr?.strides);
    const dilations = listInts(node.attr?.dilations);
    const attributes = [
      intsAttr('kernel_shape', [kh, kw]),
      intsAttr('strides', strides.length === 4 ? [strides[1]!, strides[2]!] : [1, 1]),
      intsAttr('dilations', dilations.length === 4 ? [dilations[1]!, dilations[2]!] : [1, 1]),
      ...paddingAttrs(node, this.modelName),
    ];
    if (depthwise) attributes.push(intAttr('group', inChannels));

    const fusedOps = listStrings(node.attr?.fused_ops);
    const convInputs = [this.nameOf(this.nchw(input!, node)), this.addInitializer(weights, 'filter')];
    if (fusedOps[0] === 'BiasAdd') convInputs.push(this.nameOf(args[0]!));
    else if (fusedOps.length > 0) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: fused operation ${fusedOps.join('+')} in ${node.name} is not supported`);
    }
    const conv: Value = { name: this.emit('Conv', convInputs, undefined, attributes), layout: 'nchw', dtype: 'float32', rank: 4 };
    return this.fusedActivation(node, conv, fusedOps.slice(1), args.slice(1));
  }

  private convertMatMul(node: GraphNode): Value {
    const [a, b, ...args] = this.inputsOf(node).map((v) => this.plain(v));
    const fusedOps = listStrings(node.attr?.fused_ops);
    const inputs = [this.nameOf(a!), this.nameOf(b!)];
    if (fusedOps[0] === 'BiasAdd') inputs.push(this.nameOf(args[0]!));
    else if (fusedOps.length > 0) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: fused operation ${fusedOps.join('+')} in ${node.name} is not supported`);
    }
    const attributes = [
      intAttr('transA', node.attr?.transpose_a?.b ? 1 : 0),
      intAttr('transB', node.attr?.transpose_b?.b ? 1 : 0),
    ];
    const gemm: Value = { name: this.emit('Gemm', inputs, undefined, attributes), layout: 'plain', dtype: 'float32', rank: 2 };
    return this.fusedActivation(node, gemm, fusedOps.slice(1), args.slice(1));
  }

  private fusedActivation(node: GraphNode, value: Value, ops: string[], args: Value[]): Value {
    if (ops.length === 0) return value;
    if (ops.length > 1) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: fused operations ${ops.join('+')} in ${node.name} are not supported`);
    }
    const op = ops[0]!;
    if (op === 'Prelu') {
      const alpha = value.layout === 'nchw' ? this.nchw(args[0]!, node) : args[0]!;
      return { ...value, name: this.emit('PRelu', [this.nameOf(value), this.nameOf(alpha)]) };
    }
    if (op === 'LeakyRelu') {
      const alpha = node.attr?.leakyrelu_alpha?.f ?? 0.2;
      return { ...value, name: this.emit('LeakyRelu', [this.nameOf(value)], undefined, [floatAttr('alpha', alpha)]) };
    }
    if (!['Relu', 'Relu6', 'Elu', 'Sigmoid', 'Tanh'].includes(op)) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: fused activation ${op} in ${node.name} is not supported`);
    }
    return this.activation(value, op);
  }

  /** Applies a unary activation, keeping the layout. */
  private activation(value: Value, op: string): Value {
    const input = this.nameOf(value);
    let name: string;
    if (op === 'Relu6') name = this.emit('Clip', [input, this.floatScalarInitializer(0), this.floatScalarInitializer(6)]);
    else if (op === 'Rsqrt') name = this.emit('Reciprocal', [this.emit('Sqrt', [input])]);
    else if (op === 'Square') name = this.emit('Mul', [input, input]);
    else name = this.emit(op, [input]);
    return { ...value, name, constant: undefined };
  }

  private convertUnary(node: GraphNode, op: string): Value {
    return this.activation(this.inputsOf(node)[0]!, op);
  }

  private convertBinary(node: GraphNode, op: string): Value {
    let [a, b] = this.inputsOf(node) as [Value, Value];
    if (a.layout === 'nchw' || b.layout === 'nchw') {
      const other = a.layout === 'nchw' ? b : a;
      const canMove = other.layout === 'nchw' || other.constant !== undefined || other.rank === 4;
      if (canMove) {
        a = this.nchw(a, node);
        b = this.nchw(b, node);
      } else {
        a = this.plain(a);
        b = this.plain(b);
      }
    }
    const layout: Layout = a.layout === 'nchw' ? 'nchw' : 'plain';
    const rank = Math.max(a.rank ?? 0, b.rank ?? 0);
    return { name: this.emit(op, [this.nameOf(a), this.nameOf(b)]), layout, dtype: a.dtype, rank };
  }

  private convertSoftmax(node: GraphNode): Value {
    const input = this.plain(this.inputsOf(node)[0]!);
    return { ...input, name: this.emit('Softmax', [this.nameOf(input)], undefined, [intAttr('axis', -1)]), constant: undefined };
  }

  private convertReduce(node: GraphNode): Value {
    const [rawInput, axesValue] = this.inputsOf(node) as [Value, Value];
    const keepDims = Boolean(node.attr?.keep_dims?.b);
    const rank = rawInput.rank ?? 4;
    const axes = constInts(axesValue, node, this.modelName).map((a) => (a < 0 ? a + rank : a));
    // Spatial reductions (global pooling) can run on NCHW directly: the surviving axes
    // keep the same order in both layouts. Other reductions run on NHWC.
    const spatial = axes.length === 2 && axes.includes(1) && axes.includes(2);
    const input = rawInput.layout === 'nchw' && (keepDims || spatial) ? rawInput : this.plain(rawInput);
    const onnxAxes = input.layout === 'nchw' ? axes.map((a) => NHWC_TO_NCHW_AXIS[a]!) : axes;
    const op = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax' }[node.op]!;
    // ReduceSum takes axes as an input from opset 13; ReduceMean and ReduceMax keep the attribute until opset 18.
    const name =
      op === 'ReduceSum'
        ? this.emit(op, [this.nameOf(input), this.int64Initializer(onnxAxes, 'axes')], undefined, [intAttr('keepdims', keepDims ? 1 : 0)])
        : this.emit(op, [this.nameOf(input)], undefined, [intsAttr('axes', onnxAxes), intAttr('keepdims', keepDims ? 1 : 0)]);
    const layout: Layout = input.layout === 'nchw' && keepDims ? 'nchw' : 'plain';
    return { name, layout, dtype: input.dtype, rank: keepDims ? rank : rank - axes.length };
  }

  private convertPad(node: GraphNode): Value {
    const [input, paddingsValue, constantValue] = this.inputsOf(node) as [Value, Value, Value | undefined];
    const paddings = constInts(paddingsValue, node, this.modelName);
    const rank = paddings.length / 2;
    let order = Array.from({ length: rank }, (_, i) => i);
    if (input.layout === 'nchw') order = [0, 3, 1, 2];
    const begins = order.map((axis) => paddings[axis * 2]!);
    const ends = order.map((axis) => paddings[axis * 2 + 1]!);
    const inputs = [this.nameOf(input), this.int64Initializer([...begins, ...ends], 'pads')];
    if (constantValue) inputs.push(this.nameOf(constantValue));
    let mode = 'constant';
    if (node.op === 'MirrorPad') {
      const tfMode = attrString(node.attr?.mode);
      if (tfMode !== 'REFLECT') {
        throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: MirrorPad mode ${tfMode} in ${node.name} is not supported`);
      }
      mode = 'reflect';
    }
    return { ...input, name: this.emit('Pad', inputs, undefined, [stringAttr('mode', mode)]), constant: undefined };
  }

  private convertPool(node: GraphNode): Value {
    requireNhwc(node, this.modelName);
    const input = this.nchw(this.inputsOf(node)[0]!, node);
    const ksize = listInts(node.attr?.ksize);
    const strides = listInts(node.attr?.strides);
    const attributes = [
      intsAttr('kernel_shape', [ksize[1]!, ksize[2]!]),
      intsAttr('strides', [strides[1]!, strides[2]!]),
      ...paddingAttrs(node, this.modelName),
    ];
    const op = node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool';
    return { ...input, name: this.emit(op, [this.nameOf(input)], undefined, attributes) };
  }

  private convertReshape(node: GraphNode): Value {
    const [rawInput, shape] = this.inputsOf(node) as [Value, Value];
    const input = this.plain(rawInput);
    // The output rank is the length of the shape vector: known for a constant shape or a
    // shape packed from scalars (the dynamic-batch pattern Shape → StridedSlice → Pack).
    const shapeNode = this.nodesByName.get(stripOutputIndex(node.input?.[1] ?? ''));
    let rank: number | undefined;
    if (shape.constant) rank = shape.constant.data.length;
    else if (shapeNode?.op === 'Pack') rank = (shapeNode.input ?? []).length;
    return { name: this.emit('Reshape', [this.nameOf(input), this.nameOf(shape)]), layout: 'plain', dtype: input.dtype, rank };
  }

  private convertSqueeze(node: GraphNode): Value {
    const input = this.plain(this.inputsOf(node)[0]!);
    const axes = listInts(node.attr?.squeeze_dims);
    if (axes.length === 0) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: Squeeze without squeeze_dims in ${node.name} is not supported`);
    }
    const name = this.emit('Squeeze', [this.nameOf(input), this.int64Initializer(axes, 'axes')]);
    return { name, layout: 'plain', dtype: input.dtype, rank: input.rank === undefined ? undefined : input.rank - axes.length };
  }

  private convertConcat(node: GraphNode): Value {
    const inputs = this.inputsOf(node);
    const axisValue = inputs.pop()!;
    const rank = inputs.find((v) => v.rank !== undefined)?.rank ?? 1;
    let axis = constInts(axisValue, node, this.modelName)[0]!;
    if (axis < 0) axis += rank;
    const allNchw = inputs.every((v) => v.layout === 'nchw');
    const parts = allNchw ? inputs : inputs.map((v) => this.plain(v));
    const onnxAxis = allNchw ? NHWC_TO_NCHW_AXIS[axis]! : axis;
    const name = this.emit('Concat', parts.map((v) => this.nameOf(v)), undefined, [intAttr('axis', onnxAxis)]);
    return { name, layout: allNchw ? 'nchw' : 'plain', dtype: parts[0]!.dtype, rank };
  }

  private convertShape(node: GraphNode): Value {
    const input = this.inputsOf(node)[0]!;
    let name = this.emit('Shape', [this.nameOf(input)]);
    if (input.layout === 'nchw') {
      // The graph expects the NHWC shape: reorder the NCHW shape's entries.
      name = this.emit('Gather', [name, this.int64Initializer([0, 2, 3, 1], 'perm')], undefined, [intAttr('axis', 0)]);
    }
    return { name, layout: 'plain', dtype: 'int64', rank: 1 };
  }

  private convertStridedSlice(node: GraphNode): Value {
    const [rawInput, beginValue, endValue, stridesValue] = this.inputsOf(node) as [Value, Value, Value, Value];
    const input = this.plain(rawInput);
    const begin = constInts(beginValue, node, this.modelName);
    const end = constInts(endValue, node, this.modelName);
    const strides = constInts(stridesValue, node, this.modelName);
    const mask = (key: string): number => Number(node.attr?.[key]?.i ?? 0);
    if (mask('ellipsis_mask') !== 0 || mask('new_axis_mask') !== 0) {
      throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${this.modelName}: StridedSlice with ellipsis or new-axis masks in ${node.name} is not supported`);
    }
    const starts: bigint[] = [];
    const ends: bigint[] = [];
    const squeezeAxes: number[] = [];
    for (let axis = 0; axis < begin.length; axis++) {
      const bit = 1 << axis;
      const step = strides[axis]!;
      let start = BigInt(begin[axis]!);
      let stop = BigInt(end[axis]!);
      if (mask('begin_mask') & bit) start = step > 0 ? 0n : INT64_MAX;
      if (mask('end_mask') & bit) stop = step > 0 ? INT64_MAX : -INT64_MAX;
      if (mask('shrink_axis_mask') & bit) {
        stop = start === -1n ? INT64_MAX : start + 1n;
        squeezeAxes.push(axis);
      }
      starts.push(start);
      ends.push(stop);
    }
    const axes = begin.map((_, i) => i);
    let name = this.emit('Slice', [
      this.nameOf(input),
      this.int64Initializer(starts, 'starts'),
      this.int64Initializer(ends, 'ends'),
      this.int64Initializer(axes, 'axes'),
      this.int64Initializer(strides, 'steps'),
    ]);
    if (squeezeAxes.length > 0) name = this.emit('Squeeze', [name, this.int64Initializer(squeezeAxes, 'axes')]);
    const rank = input.rank === undefined ? undefined : input.rank - squeezeAxes.length;
    return { name, layout: 'plain', dtype: input.dtype, rank };
  }

  private convertPack(node: GraphNode): Value {
    const inputs = this.inputsOf(node).map((v) => this.plain(v));
    const axis = Number(node.attr?.axis?.i ?? 0);
    const axes = this.int64Initializer([axis], 'axes');
    const parts = inputs.map((v) => this.emit('Unsqueeze', [this.nameOf(v), axes]));
    const name = this.emit('Concat', parts, undefined, [intAttr('axis', axis)]);
    return { name, layout: 'plain', dtype: inputs[0]!.dtype, rank: (inputs[0]!.rank ?? 0) + 1 };
  }

  private convertResize(node: GraphNode): Value {
    const [rawInput, sizeValue] = this.inputsOf(node) as [Value, Value];
    const input = this.nchw(rawInput, node);
    const size = constInts(sizeValue, node, this.modelName);
    const batchAndChannels = this.emit('Slice', [
      this.emit('Shape', [this.nameOf(input)]),
      this.int64Initializer([0], 'starts'),
      this.int64Initializer([2], 'ends'),
    ]);
    const sizes = this.emit('Concat', [batchAndChannels, this.int64Initializer(size, 'sizes')], undefined, [intAttr('axis', 0)]);
    // TF's align_corners and half_pixel_centers flags map onto ONNX coordinate modes;
    // with neither, TF samples at out * in / out ("asymmetric").
    let mode = 'asymmetric';
    if (node.attr?.align_corners?.b) mode = 'align_corners';
    else if (node.attr?.half_pixel_centers?.b) mode = 'half_pixel';
    const name = this.emit('Resize', [this.nameOf(input), '', '', sizes], undefined, [
      stringAttr('mode', 'linear'),
      stringAttr('coordinate_transformation_mode', mode),
    ]);
    return { name, layout: 'nchw', dtype: 'float32', rank: 4 };
  }

  private convertDepthToSpace(node: GraphNode): Value {
    requireNhwc(node, this.modelName);
    const input = this.nchw(this.inputsOf(node)[0]!, node);
    const blockSize = Number(node.attr?.block_size?.i ?? 0);
    // TF's NHWC DepthToSpace orders the block as (row, column, channel), which is ONNX's DCR mode.
    const name = this.emit('DepthToSpace', [this.nameOf(input)], undefined, [intAttr('blocksize', blockSize), stringAttr('mode', 'DCR')]);
    return { name, layout: 'nchw', dtype: 'float32', rank: 4 };
  }
}

// ---- weight layout ---------------------------------------------------------------------

/** TF conv filter [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function conv2dFilterToOnnx(filter: ConstTensor & { dtype: 'float32' }): ConstTensor {
  const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
  const out = new Float32Array(filter.data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + h) * kw + w] = filter.data[((h * kw + w) * cin + i) * cout + o]!;
  return { dtype: 'float32', shape: [cout, cin, kh, kw], data: out };
}

/** TF depthwise filter [kh, kw, in, multiplier] → ONNX grouped conv [in * multiplier, 1, kh, kw]. */
function depthwiseFilterToOnnx(filter: ConstTensor & { dtype: 'float32' }): ConstTensor {
  const [kh, kw, cin, multiplier] = filter.shape as [number, number, number, number];
  const out = new Float32Array(filter.data.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < multiplier; m++) out[((i * multiplier + m) * kh + h) * kw + w] = filter.data[((h * kw + w) * cin + i) * multiplier + m]!;
  return { dtype: 'float32', shape: [cin * multiplier, 1, kh, kw], data: out };
}

/** Rewrites a constant that broadcasts against an NHWC tensor so it broadcasts against NCHW. */
function toNchwConstant(constant: ConstTensor): ConstTensor {
  if (constant.shape.length === 0) return constant;
  const shape = [...Array(4 - constant.shape.length).fill(1), ...constant.shape] as [number, number, number, number];
  const [n, h, w, c] = shape;
  const source = constant.data as ArrayLike<number | bigint>;
  const order = new Int32Array(source.length);
  for (let a = 0; a < n; a++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) order[((a * c + ch) * h + y) * w + x] = ((a * h + y) * w + x) * c + ch;
  const nchwShape = [n, c, h, w];
  if (constant.dtype === 'int64') {
    return { dtype: 'int64', shape: nchwShape, data: BigInt64Array.from(order, (i) => constant.data[i]!) };
  }
  return { dtype: 'float32', shape: nchwShape, data: Float32Array.from(order, (i) => constant.data[i]!) };
}

// ---- attributes ------------------------------------------------------------------------

function requireNhwc(node: GraphNode, modelName: string): void {
  const format = attrString(node.attr?.data_format);
  if (format !== undefined && format !== 'NHWC') {
    throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${modelName}: ${node.op} node ${node.name} uses data format ${format}; only NHWC is supported`);
  }
}

function paddingAttrs(node: GraphNode, modelName: string): onnx.IAttributeProto[] {
  const padding = attrString(node.attr?.padding);
  // TF "SAME" puts the extra pixel of odd padding at the bottom/right, which is ONNX SAME_UPPER.
  if (padding === 'SAME') return [stringAttr('auto_pad', 'SAME_UPPER')];
  if (padding === 'VALID') return [stringAttr('auto_pad', 'VALID')];
  if (padding === 'EXPLICIT') {
    const p = listInts(node.attr?.explicit_paddings);
    return [intsAttr('pads', [p[2]!, p[4]!, p[3]!, p[5]!])];
  }
  throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${modelName}: padding ${padding} in ${node.name} is not supported`);
}

function attrString(attr: GraphAttr | undefined): string | undefined {
  return attr?.s === undefined ? undefined : Buffer.from(attr.s, 'base64').toString('utf8');
}

function listInts(attr: GraphAttr | undefined): number[] {
  return (attr?.list?.i ?? []).map(Number);
}

function listStrings(attr: GraphAttr | undefined): string[] {
  return (attr?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

function constInts(value: Value, node: GraphNode, modelName: string): number[] {
  if (!value.constant) {
    throw new FacekitError('ERR_UNSUPPORTED_OP', `Model ${modelName}: ${node.op} node ${node.name} needs a constant operand`);
  }
  return Array.from(value.constant.data as ArrayLike<number | bigint>, Number);
}

function intAttr(name: string, value: number): onnx.IAttributeProto {
  return { name, type: proto.AttributeProto.AttributeType.INT, i: value };
}

function intsAttr(name: string, values: number[]): onnx.IAttributeProto {
  return { name, type: proto.AttributeProto.AttributeType.INTS, ints: values };
}

function floatAttr(name: string, value: number): onnx.IAttributeProto {
  return { name, type: proto.AttributeProto.AttributeType.FLOAT, f: value };
}

function stringAttr(name: string, value: string): onnx.IAttributeProto {
  return { name, type: proto.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
}

function valueInfo(name: string, elemType: number, dims: number[] | undefined): onnx.IValueInfoProto {
  const shape = dims === undefined ? undefined : { dim: dims.map((d, i) => (d < 0 ? { dimParam: i === 0 ? 'batch' : `d${i}` } : { dimValue: d })) };
  return { name, type: { tensorType: { elemType, shape } } };
}
