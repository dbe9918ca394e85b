/**
 * Backbone feature extraction: aligned face crops in, one feature vector per crop out,
 * batched through ONNX Runtime.
 */
import { FacekitError, invalidArgument } from '../errors.js';
import { type ModelId, type ModelSpec, getModelSpec } from '../models/registry.js';
import { loadModel } from '../runtime/load.js';
import { runBatched } from '../runtime/onnx.js';
import type { ModelSession } from '../runtime/tensor.js';
import type { RgbImage } from '../types.js';

export interface EmbedderOptions {
  /** Backbone model id. Default: `faceres`. */
  backbone?: ModelId;
  /** Crops per ONNX Runtime call. Default: 8. */
  batchSize?: number;
  /** ONNX Runtime intra-op threads. Default: the number of logical CPU cores. */
  intraOpThreads?: number;
}

export const EMBEDDER_DEFAULTS = { backbone: 'faceres' as ModelId, batchSize: 8 };

export class Embedder {
  readonly spec: ModelSpec;
  private session: ModelSession | undefined;
  private readonly batchSize: number;

  private constructor(spec: ModelSpec, session: ModelSession, batchSize: number) {
    this.spec = spec;
    this.session = session;
    this.batchSize = batchSize;
  }

  static async create(options: EmbedderOptions = {}): Promise<Embedder> {
    const backbone = options.backbone ?? EMBEDDER_DEFAULTS.backbone;
    const spec = getModelSpec(backbone);
    if (spec.role !== 'backbone') throw invalidArgument('backbone', 'a backbone model id (faceres or mobilefacenet)', backbone);
    const batchSize = options.batchSize ?? EMBEDDER_DEFAULTS.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 256) throw invalidArgument('batchSize', 'an integer from 1 to 256', batchSize);
    const { session } = await loadModel(backbone, { intraOpThreads: options.intraOpThreads });
    return new Embedder(spec, session, batchSize);
  }

  /** Crop side in pixels that `embed` expects. */
  get inputSize(): number {
    return this.spec.inputSize;
  }

  /** Length of each feature vector. */
  get featureSize(): number {
    return this.spec.id === 'faceres' ? 1024 : 192;
  }

  /** Embeds square crops of `inputSize` pixels; returns one feature vector per crop. */
  async embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    const session = this.session;
    if (!session) throw new FacekitError('ERR_DISPOSED', 'This embedder was disposed; create a new one');
    const size = this.spec.inputSize;
    crops.forEach((crop, i) => {
      if (crop.width !== size || crop.height !== size) {
        throw invalidArgument(`crops[${i}]`, `a ${size}×${size} aligned face crop`, `${crop.width}×${crop.height} image`);
      }
    });
    const { scale, offset } = this.spec;
    return runBatched(
      session,
      this.spec.inputName,
      [size, size, 3],
      crops.length,
      this.batchSize,
      (index, buffer, start) => {
        const pixels = crops[index]!.data;
        for (let k = 0; k < pixels.length; k++) buffer[start + k] = pixels[k]! * scale + offset;
      },
      this.spec.outputs.features!,
    );
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.dispose();
  }
}
