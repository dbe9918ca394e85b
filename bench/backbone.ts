/** Backbone forward pass: facekit on ONNX Runtime against the same graph on TF.js WASM. */
import { MODELS, resolveModelFile } from '../src/models/registry.js';
import { loadModel } from '../src/runtime/load.js';
import { loadTfjsGraphModel, tf } from '../test/support/tfjs-reference.js';
import { type BenchContext, type Section, fmt, median, table, timeRuns } from './util.js';

export async function benchBackbone(context: BenchContext): Promise<Section> {
  const spec = MODELS.faceres;
  const size = spec.inputSize;
  const repeats = context.quick ? 5 : 15;
  const rows: Array<Array<string | number>> = [];
  const { session } = await loadModel('faceres');
  const reference = await loadTfjsGraphModel(resolveModelFile(spec));
  const results: Record<string, number> = {};

  for (const batch of [1, 8]) {
    const data = new Float32Array(batch * size * size * 3).map((_, i) => (i * 31) % 255);
    const dims = [batch, size, size, 3];
    const onnxTimes = await timeRuns(() => session.run({ [spec.inputName]: { data, dims } }, [spec.outputs.features!]), repeats);
    const onnxPerImage = median(onnxTimes) / batch;
    context.log(`backbone ONNX batch ${batch}: ${fmt(onnxPerImage)} ms/image`);

    const x = tf.tensor(data, dims);
    const tfjsTimes = await timeRuns(async () => {
      const y = reference.execute({ [reference.inputs[0]!.name]: x }, 'global_pooling/Mean') as tf.Tensor;
      await y.data();
      y.dispose();
    }, Math.max(3, Math.round(repeats / 3)), 1);
    x.dispose();
    const tfjsPerImage = median(tfjsTimes) / batch;
    context.log(`backbone TF.js WASM batch ${batch}: ${fmt(tfjsPerImage)} ms/image`);
    results[`onnx${batch}`] = onnxPerImage;
    rows.push([batch, fmt(onnxPerImage), fmt(1000 / onnxPerImage, 0), fmt(tfjsPerImage), fmt(1000 / tfjsPerImage, 0), `${fmt(tfjsPerImage / onnxPerImage)}×`]);
  }
  await session.dispose();
  reference.dispose();

  const markdown = [
    'faceres (MobileNet v1, 224×224, 1,024-d output) forward pass, median over repeated runs, input already in memory.',
    'ONNX Runtime uses all logical cores; TF.js WASM is single-threaded in Node.',
    '',
    table(['batch', 'ONNX Runtime ms/image', 'ONNX images/s', 'TF.js WASM ms/image', 'TF.js images/s', 'speed-up'], rows),
    '',
    `Target: ONNX Runtime ≤ 12 ms per image at batch 8 (measured ${fmt(results.onnx8!)} ms) and ≥ 7× faster than TF.js WASM in the same run.`,
  ].join('\n');
  return { title: 'Backbone forward pass', markdown };
}
