import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import onnxProto, { type onnx } from 'onnx-proto';
import { MODELS, isModelAvailable, resolveModelFile } from '../src/models/registry.js';
import { alignConvChannels } from '../src/runtime/channel-align.js';
import { convertTfjsGraphToOnnx } from '../src/runtime/convert.js';
import { createOnnxSession } from '../src/runtime/onnx.js';
import { readTfjsGraphModel } from '../src/runtime/tfjs-graph.js';

const proto = onnxProto.onnx;
const FLOAT = 1;
const INT64 = 7;

function floatTensor(name: string, dims: number[], values: (i: number) => number): onnx.ITensorProto {
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => values(i));
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}

function floatsOf(tensor: onnx.ITensorProto): Float32Array {
  const raw = tensor.rawData!;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

function conv(input: string, weight: string, output: string, bias?: string): onnx.INodeProto {
  return { opType: 'Conv', input: bias ? [input, weight, bias] : [input, weight], output: [output], name: output, attribute: [] };
}

describe('alignConvChannels', () => {
  test('pads a chain, not a transposed tensor', () => {
    const initializers = [
      floatTensor('w1', [24, 3, 1, 1], (i) => i + 1),
      floatTensor('b1', [24], (i) => i),
      floatTensor('w2', [8, 24, 1, 1], (i) => i + 1),
      floatTensor('w3', [24, 3, 1, 1], (i) => i + 1),
    ];
    const nodes: onnx.INodeProto[] = [
      conv('x', 'w1', 'c1', 'b1'),
      { opType: 'Relu', input: ['c1'], output: ['r1'], name: 'r1' },
      conv('r1', 'w2', 'c2'),
      conv('x', 'w3', 'c3'),
      { opType: 'Transpose', input: ['c3'], output: ['t3'], name: 't3' },
    ];
    const result = alignConvChannels(nodes, initializers, ['c2', 't3'], 16);
    const byName = new Map(result.initializers.map((t) => [t.name!, t]));
    const [first, , second, third] = result.nodes;

    const w1 = byName.get(first!.input![1]!)!;
    assert.deepEqual(w1.dims, [32, 3, 1, 1]);
    assert.deepEqual([...floatsOf(w1).subarray(0, 72)], Array.from({ length: 72 }, (_, i) => i + 1));
    assert.ok(floatsOf(w1).subarray(72).every((v) => v === 0), 'added filters are zero');
    const b1 = byName.get(first!.input![2]!)!;
    assert.deepEqual([...floatsOf(b1)], [...Array.from({ length: 24 }, (_, i) => i), ...new Array(8).fill(0)]);

    // The consumer keeps its 8 outputs and gets zero weights for the 8 added inputs.
    const w2 = floatsOf(byName.get(second!.input![1]!)!);
    assert.deepEqual(byName.get(second!.input![1]!)!.dims, [8, 32, 1, 1]);
    for (let o = 0; o < 8; o++) {
      assert.deepEqual([...w2.subarray(o * 32, o * 32 + 24)], Array.from({ length: 24 }, (_, i) => o * 24 + i + 1));
      assert.ok(w2.subarray(o * 32 + 24, o * 32 + 32).every((v) => v === 0), `added inputs of filter ${o} are zero`);
    }

    assert.equal(third!.input![1], 'w3', 'a tensor read by a Transpose keeps its channels');
    assert.equal(result.paddedTensors, 2);
    assert.ok(!result.initializers.some((t) => t.name === 'w1' || t.name === 'w2'), 'replaced weights are dropped');
  });

  test('turns a channel Pad into a convolution', () => {
    const pads = BigInt64Array.from([0n, 0n, 0n, 0n, 0n, 8n, 0n, 0n]);
    const initializers = [
      floatTensor('w1', [24, 3, 1, 1], () => 1),
      floatTensor('w2', [32, 24, 1, 1], () => 1),
      { name: 'pads', dims: [8], dataType: INT64, rawData: new Uint8Array(pads.buffer) },
      floatTensor('w3', [4, 32, 1, 1], () => 1),
    ];
    const nodes: onnx.INodeProto[] = [
      conv('x', 'w1', 'c1'),
      { opType: 'Pad', input: ['c1', 'pads'], output: ['p1'], name: 'p1', attribute: [{ name: 'mode', type: 3, s: new TextEncoder().encode('constant') }] },
      conv('c1', 'w2', 'c2'),
      { opType: 'Add', input: ['p1', 'c2'], output: ['a1'], name: 'a1' },
      conv('a1', 'w3', 'y'),
    ];
    const result = alignConvChannels(nodes, initializers, ['y'], 16);
    const identity = result.nodes[1]!;
    assert.equal(identity.opType, 'Conv');
    const weight = result.initializers.find((t) => t.name === identity.input![1])!;
    assert.deepEqual(weight.dims, [32, 32, 1, 1]);
    const values = floatsOf(weight);
    for (let o = 0; o < 32; o++) for (let i = 0; i < 32; i++) assert.equal(values[o * 32 + i], o === i ? 1 : 0, `weight [${o}, ${i}]`);
  });

  const skip = isModelAvailable('blazeface') ? false : `${MODELS.blazeface.packageName} is not installed`;
  test('aligns BlazeFace without changing outputs', { skip }, async () => {
    const graph = await readTfjsGraphModel(resolveModelFile(MODELS.blazeface));
    const plain = convertTfjsGraphToOnnx(graph, 'blazeface', { freeSpatialDims: true });
    const aligned = convertTfjsGraphToOnnx(graph, 'blazeface', { freeSpatialDims: true, channelMultiple: 16 });

    const model = proto.ModelProto.decode(aligned.bytes);
    const weights = new Map(model.graph!.initializer!.map((t) => [t.name!, (t.dims ?? []).map(Number)]));
    const readers = new Map<string, string[]>();
    for (const node of model.graph!.node!) for (const input of node.input ?? []) readers.set(input, [...(readers.get(input) ?? []), node.opType!]);
    assert.ok(!model.graph!.node!.some((node) => node.opType === 'Pad'), 'no channel Pad is left');
    for (const node of model.graph!.node!) {
      if (node.opType !== 'Conv') continue;
      const outChannels = weights.get(node.input![1]!)![0]!;
      // The detection heads are reshaped into anchors, so their channel counts must stay.
      const head = (readers.get(node.output![0]!) ?? []).includes('Transpose');
      if (!head) assert.equal(outChannels % 16, 0, `Conv ${node.name} has ${outChannels} output channels`);
    }

    const height = 192;
    const width = 320;
    const input = Float32Array.from({ length: height * width * 3 }, (_, i) => Math.sin(i * 0.37));
    const feeds = { [MODELS.blazeface.inputName]: { data: input, dims: [1, height, width, 3] } };
    const sessions = [await createOnnxSession(plain.bytes, { intraOpThreads: 1 }), await createOnnxSession(aligned.bytes, { intraOpThreads: 1 })];
    try {
      const [expected, actual] = [await sessions[0]!.run(feeds), await sessions[1]!.run(feeds)];
      for (const name of Object.keys(expected)) {
        assert.deepEqual(actual[name]!.dims, expected[name]!.dims, `dims of ${name}`);
        let worst = 0;
        for (let i = 0; i < expected[name]!.data.length; i++) worst = Math.max(worst, Math.abs(actual[name]!.data[i]! - expected[name]!.data[i]!));
        // Only the summation order differs; the tolerance is that of the TF.js comparison.
        assert.ok(worst <= 2e-3, `${name}: max |aligned − plain| = ${worst}`);
      }
    } finally {
      for (const session of sessions) await session.dispose();
    }
  });
});
