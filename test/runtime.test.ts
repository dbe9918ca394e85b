import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FacekitError } from '../src/errors.js';
import { type ModelId, MODELS, isModelAvailable, resolveModelFile } from '../src/models/registry.js';
import { convertTfjsGraphToOnnx } from '../src/runtime/convert.js';
import { loadModel } from '../src/runtime/load.js';
import { createOnnxSession, runBatched } from '../src/runtime/onnx.js';
import type { ModelSession } from '../src/runtime/tensor.js';
import { type TfjsGraphModel, float16ToFloat32, readTfjsGraphModel } from '../src/runtime/tfjs-graph.js';
import { loadTfjsGraphModel, runTfjs } from './support/tfjs-reference.js';

/**
 * Largest allowed |ONNX − TF.js| per output, in the output's own unit. Feature vectors are
 * unit-scale; detector outputs are logits and offsets in pixels of the 192–256 px input,
 * where float32 summation order alone moves values by about 1e-4.
 */
const TOLERANCE: Record<ModelId, number> = {
  blazeface: 2e-3,
  'facemesh-detection-full': 2e-3,
  faceres: 1e-4,
  mobilefacenet: 1e-4,
};

/** Returns a fixed pseudo-random 8-bit image, scaled as the model expects. */
function fixedInput(id: ModelId, batch = 1, seed = 7919): Float32Array {
  const spec = MODELS[id];
  const size = spec.inputSize;
  const data = new Float32Array(batch * size * size * 3);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = (state >>> 24) * spec.scale + spec.offset;
  }
  return data;
}

describe('ONNX conversion matches TF.js WASM', () => {
  for (const id of Object.keys(MODELS) as ModelId[]) {
    const skip = isModelAvailable(id) ? false : `${MODELS[id].packageName} is not installed`;
    test(`${id} outputs agree`, { skip }, async () => {
      const spec = MODELS[id];
      const { session } = await loadModel(id, { intraOpThreads: 1 });
      const input = fixedInput(id);
      const dims = [1, spec.inputSize, spec.inputSize, 3];
      const onnxOut = await session.run({ [spec.inputName]: { data: input, dims } });
      await session.dispose();

      const reference = await loadTfjsGraphModel(resolveModelFile(spec));
      const outputNames = Object.values(spec.outputs);
      const tfjsOut = await runTfjs(reference, reference.inputs[0]!.name, input, dims, outputNames.map((n) => n.replace(/:0$/, '')));
      reference.dispose();

      for (const name of outputNames) {
        const actual = onnxOut[name];
        const expected = tfjsOut[name.replace(/:0$/, '')]!;
        assert.ok(actual, `ONNX output ${name} is missing`);
        assert.deepEqual(actual.dims, expected.dims, `dims of ${name}`);
        let worst = 0;
        let worstIndex = 0;
        for (let i = 0; i < expected.data.length; i++) {
          const diff = Math.abs(actual.data[i]! - expected.data[i]!);
          if (diff > worst) [worst, worstIndex] = [diff, i];
        }
        assert.ok(
          worst <= TOLERANCE[id],
          `${id} ${name}: max |ONNX − TF.js| = ${worst} at index ${worstIndex} (ONNX ${actual.data[worstIndex]}, TF.js ${expected.data[worstIndex]}), tolerance ${TOLERANCE[id]}`,
        );
      }
    });
  }
});

describe('model session', () => {
  let session: ModelSession;
  before(async () => {
    session = (await loadModel('faceres', { intraOpThreads: 2 })).session;
  });
  after(async () => {
    await session.dispose();
  });

  test('batched rows equal single runs', async () => {
    const spec = MODELS.faceres;
    const itemDims = [spec.inputSize, spec.inputSize, 3];
    const items = [fixedInput('faceres', 1, 1), fixedInput('faceres', 1, 2), fixedInput('faceres', 1, 3)];
    const batched = await runBatched(session, spec.inputName, itemDims, 3, 2, (i, buf, off) => buf.set(items[i]!, off), 'global_pooling/Mean');
    assert.equal(batched.length, 3);
    for (let i = 0; i < 3; i++) {
      const single = await session.run({ [spec.inputName]: { data: items[i]!, dims: [1, ...itemDims] } }, ['global_pooling/Mean']);
      const row = single['global_pooling/Mean']!.data;
      assert.equal(batched[i]!.length, 1024);
      for (let k = 0; k < row.length; k++) assert.ok(Math.abs(row[k]! - batched[i]![k]!) < 1e-5, `item ${i} feature ${k} differs`);
    }
  });

  test('wrong input size is rejected', async () => {
    await assert.rejects(
      session.run({ input_1: { data: new Float32Array(10), dims: [1, 224, 224, 3] } }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_INVALID_ARGUMENT' && /input input_1/.test(error.message),
    );
  });

  test('unknown input name is rejected', async () => {
    await assert.rejects(
      session.run({ nope: { data: new Float32Array(3), dims: [1, 1, 1, 3] } }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_INVALID_ARGUMENT',
    );
  });
});

describe('session lifecycle', () => {
  test('dispose twice, then run fails', async () => {
    const { session, spec } = await loadModel('blazeface', { intraOpThreads: 1 });
    await session.dispose();
    await session.dispose();
    const dims = [1, spec.inputSize, spec.inputSize, 3];
    await assert.rejects(
      session.run({ [spec.inputName]: { data: fixedInput('blazeface'), dims } }),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_DISPOSED',
    );
  });

  test('invalid thread count is rejected', async () => {
    await assert.rejects(createOnnxSession(new Uint8Array(), { intraOpThreads: 0 }), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_INVALID_ARGUMENT');
  });
});

describe('converter', () => {
  let graph: TfjsGraphModel;
  before(async () => {
    graph = await readTfjsGraphModel(resolveModelFile(MODELS.blazeface));
  });

  test('unknown op names the op and node', () => {
    const nodes = graph.nodes.map((n) => (n.op === 'MaxPool' ? { ...n, op: 'FancyPool3000' } : n));
    assert.throws(
      () => convertTfjsGraphToOnnx({ ...graph, nodes }, 'blazeface'),
      (error: unknown) => error instanceof FacekitError && error.code === 'ERR_UNSUPPORTED_OP' && /FancyPool3000/.test(error.message),
    );
  });

  test('outputs keep graph names', () => {
    const converted = convertTfjsGraphToOnnx(graph, 'blazeface');
    assert.deepEqual([...converted.outputNames].sort(), Object.values(MODELS.blazeface.outputs).sort());
    assert.deepEqual(converted.inputNames, [MODELS.blazeface.inputName]);
  });

  test('weights hash matches registry', () => {
    assert.equal(graph.weightsSha256, MODELS.blazeface.weightsSha256);
  });

  test('missing optional package names it', () => {
    const spec = { ...MODELS.mobilefacenet, packageName: '@facekit-test/not-installed' };
    assert.throws(
      () => resolveModelFile(spec),
      (error: unknown) =>
        error instanceof FacekitError && error.code === 'ERR_MODEL_PACKAGE_MISSING' && /npm install @facekit-test\/not-installed/.test(error.message),
    );
  });
});

describe('weight decoding', () => {
  test('float16 bit patterns', () => {
    assert.equal(float16ToFloat32(0x3c00), 1);
    assert.equal(float16ToFloat32(0xc000), -2);
    assert.equal(float16ToFloat32(0x3555), 0.333251953125);
    assert.equal(float16ToFloat32(0x0001), 2 ** -24);
    assert.equal(float16ToFloat32(0x7c00), Infinity);
    assert.ok(Number.isNaN(float16ToFloat32(0x7e00)));
  });
});

describe('tiny hand-written graphs', () => {
  async function writeModel(dir: string, weights: Buffer, manifestWeights: object[], nodes: object[]): Promise<string> {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${dir}/w.bin`, weights);
    const json = { format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['w.bin'], weights: manifestWeights }] };
    await writeFile(`${dir}/model.json`, JSON.stringify(json));
    return `${dir}/model.json`;
  }
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '2' }, { size: '2' }, { size: '3' }] } } } },
    { name: 'k', op: 'Const' },
    { name: 'y', op: 'Mul', input: ['x', 'k'] },
    { name: 'out', op: 'Identity', input: ['y'] },
  ];

  test('uint8-quantised weights are dequantised', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(`${tmpdir()}/facekit-graph-`);
    // Stored bytes 0, 10, 20 with scale 0.5 and min -1 decode to -1, 4, 9 (one per channel).
    const file = await writeModel(dir, Buffer.from([0, 10, 20]), [{ name: 'k', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } }], nodes);
    const graph = await readTfjsGraphModel(file);
    assert.deepEqual(Array.from((graph.weights.get('k')!.data as Float32Array)), [-1, 4, 9]);
    const session = await createOnnxSession(convertTfjsGraphToOnnx(graph, 'tiny').bytes, { intraOpThreads: 1 });
    const input = Float32Array.from({ length: 12 }, () => 2);
    const out = await session.run({ x: { data: input, dims: [1, 2, 2, 3] } });
    await session.dispose();
    assert.deepEqual(Array.from(out.out!.data), [-2, 8, 18, -2, 8, 18, -2, 8, 18, -2, 8, 18]);
  });

  test('short weight file is reported', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(`${tmpdir()}/facekit-graph-`);
    const file = await writeModel(dir, Buffer.from([1, 2]), [{ name: 'k', shape: [3], dtype: 'float32' }], nodes);
    await assert.rejects(readTfjsGraphModel(file), (error: unknown) => error instanceof FacekitError && error.code === 'ERR_MODEL_INVALID' && error.message.includes(file));
  });
});
