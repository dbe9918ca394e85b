import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { onnx } from 'onnx-proto';
import { fuseClipChains } from '../src/runtime/clip-fusion.js';

function scalar(name: string, value: number): onnx.ITensorProto {
  return { name, dims: [], dataType: 1, rawData: new Uint8Array(Float32Array.of(value).buffer) };
}

function node(opType: string, input: string[], output: string): onnx.INodeProto {
  return { opType, input, output: [output], name: output, attribute: [] };
}

function boundsOf(clip: onnx.INodeProto, initializers: readonly onnx.ITensorProto[]): number[] {
  return clip.input!.slice(1).map((name) => {
    const raw = initializers.find((t) => t.name === name)!.rawData!;
    return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true);
  });
}

describe('fuseClipChains', () => {
  test('turns Relu, Min, Max into one Clip', () => {
    const initializers = [scalar('six', 6), scalar('zero', 0)];
    const nodes = [node('Conv', ['x', 'w'], 'c'), node('Relu', ['c'], 'r'), node('Min', ['r', 'six'], 'lo'), node('Max', ['lo', 'zero'], 'y')];
    const result = fuseClipChains(nodes, initializers, ['y']);

    assert.deepEqual(
      result.nodes.map((n) => n.opType),
      ['Conv', 'Clip'],
    );
    const clip = result.nodes[1]!;
    assert.deepEqual(clip.input![0], 'c');
    assert.deepEqual(clip.output, ['y']);
    assert.deepEqual(boundsOf(clip, result.initializers), [0, 6]);
    assert.ok(!result.initializers.some((t) => t.name === 'six'), 'unused bounds are dropped');
  });

  test('keeps the Relu under a negative bound', () => {
    const initializers = [scalar('one', 1), scalar('minus', -1)];
    const nodes = [node('Relu', ['x'], 'r'), node('Max', ['r', 'minus'], 'm'), node('Min', ['m', 'one'], 'y')];
    const result = fuseClipChains(nodes, initializers, ['y']);

    assert.deepEqual(
      result.nodes.map((n) => n.opType),
      ['Relu', 'Clip'],
    );
    assert.deepEqual(boundsOf(result.nodes[1]!, result.initializers), [-1, 1]);
  });

  test('leaves a shared inner result alone', () => {
    const initializers = [scalar('six', 6), scalar('zero', 0)];
    const nodes = [node('Min', ['x', 'six'], 'm'), node('Max', ['m', 'zero'], 'y'), node('Add', ['m', 'y'], 'z')];
    const result = fuseClipChains(nodes, initializers, ['z']);

    assert.equal(result.fused, 0);
    assert.deepEqual(
      result.nodes.map((n) => n.opType),
      ['Min', 'Max', 'Add'],
    );
  });

  test('leaves bounds of higher rank alone', () => {
    // Min with a [1, 1, 1] bound broadcasts x to rank 3, which Clip would not.
    const initializers = [
      { name: 'six', dims: [1, 1, 1], dataType: 1, rawData: new Uint8Array(Float32Array.of(6).buffer) },
      scalar('zero', 0),
    ];
    const nodes = [node('Min', ['x', 'six'], 'm'), node('Max', ['m', 'zero'], 'y')];
    const result = fuseClipChains(nodes, initializers, ['y']);

    assert.equal(result.fused, 0);
  });

  test('leaves crossed bounds alone', () => {
    const initializers = [scalar('low', 1), scalar('high', 5)];
    // Max(Min(x, 1), 5) is 5 everywhere, not a clip to [5, 1].
    const nodes = [node('Min', ['x', 'low'], 'm'), node('Max', ['m', 'high'], 'y')];
    const result = fuseClipChains(nodes, initializers, ['y']);

    assert.equal(result.fused, 0);
  });
});
