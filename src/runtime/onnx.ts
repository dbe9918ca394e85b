/**
 * The one module that imports ONNX Runtime. It creates sessions, sets thread counts,
 * batches inputs and frees native memory.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { FacekitError, invalidArgument } from '../errors.js';
import type { ModelSession, TensorData } from './tensor.js';

export interface SessionOptions {
  /**
   * Threads ONNX Runtime uses inside one operator. Default: the number of logical CPU
   * cores (`os.availableParallelism()`).
   */
  intraOpThreads?: number;
  /**
   * Whether ONNX Runtime's idle intra-op threads spin, waiting for the next operator, instead
   * of sleeping. Default false. Spinning saved about 0.8 ms of a 5-6 ms detection on an
   * already decoded 640×480 frame. Its threads, though, keep both cores busy while sharp
   * decodes the next image on libuv's thread pool. Recognising 1920-px photos from files ran
   * at 5.7-5.8 photos/s with spinning and 7.4 without, on 2 cores.
   */
  spinWait?: boolean;
}

export function defaultIntraOpThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Creates an ONNX Runtime session on the CPU from a serialised ONNX model. */
export async function createOnnxSession(modelBytes: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  const threads = options.intraOpThreads ?? defaultIntraOpThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw invalidArgument('intraOpThreads', 'an integer from 1 to 256', threads);
  }
  const session = await ort.InferenceSession.create(modelBytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // The Node binding takes session configuration entries as flat string keys.
    extra: { 'session.intra_op.allow_spinning': options.spinWait === true ? '1' : '0' },
  });
  return new OnnxModelSession(session);
}

class OnnxModelSession implements ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private session: ort.InferenceSession | undefined;
  // ONNX Runtime sessions are not re-entrant from JavaScript: calls are queued so
  // concurrent callers never overlap on one session.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(session: ort.InferenceSession) {
    this.session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  run(inputs: Record<string, TensorData>, outputNames?: readonly string[]): Promise<Record<string, TensorData>> {
    const task = this.queue.then(() => this.runNow(inputs, outputNames));
    this.queue = task.catch(() => undefined);
    return task;
  }

  private async runNow(inputs: Record<string, TensorData>, outputNames?: readonly string[]): Promise<Record<string, TensorData>> {
    const session = this.session;
    if (!session) throw new FacekitError('ERR_DISPOSED', 'This model session was disposed; create a new one');
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(inputs)) {
      if (!this.inputNames.includes(name)) {
        throw invalidArgument('input name', `one of ${this.inputNames.join(', ')}`, name);
      }
      const expected = tensor.dims.reduce((a, b) => a * b, 1);
      if (expected !== tensor.data.length) {
        throw invalidArgument(`input ${name}`, `${expected} values for dims [${tensor.dims.join(', ')}]`, tensor.data);
      }
      feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
    }
    const fetches = outputNames ? [...outputNames] : undefined;
    const results = fetches ? await session.run(feeds, fetches) : await session.run(feeds);
    const out: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(results)) {
      const data = tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data as ArrayLike<number>);
      out[name] = { data, dims: [...tensor.dims] };
      tensor.dispose();
    }
    return out;
  }

  async dispose(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    await this.queue;
    await session.release();
  }
}

/**
 * Runs a model on `count` items in batches of at most `batchSize`. `fill` writes item `i`
 * into the batch buffer at `offset`; `take` receives each output row. The model's first
 * input must have a free batch dimension.
 */
export async function runBatched(
  session: ModelSession,
  inputName: string,
  itemDims: readonly number[],
  count: number,
  batchSize: number,
  fill: (index: number, buffer: Float32Array, offset: number) => void,
  outputName: string,
): Promise<Float32Array[]> {
  const itemSize = itemDims.reduce((a, b) => a * b, 1);
  const rows: Float32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const buffer = new Float32Array(n * itemSize);
    for (let k = 0; k < n; k++) fill(start + k, buffer, k * itemSize);
    const result = await session.run({ [inputName]: { data: buffer, dims: [n, ...itemDims] } }, [outputName]);
    const output = result[outputName]!;
    const rowSize = output.data.length / n;
    for (let k = 0; k < n; k++) rows.push(output.data.slice(k * rowSize, (k + 1) * rowSize));
  }
  return rows;
}
