/** A float32 tensor as plain data: values in row-major order and the dimensions. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * A loaded model that runs on ONNX Runtime. Inputs and outputs are addressed by their
 * graph names (for example `input:0` or `global_pooling/Mean`), never by shape or position.
 */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model. Only the requested outputs are computed; all outputs when omitted. */
  run(inputs: Record<string, TensorData>, outputNames?: readonly string[]): Promise<Record<string, TensorData>>;
  /** Frees the native session. Safe to call twice; `run` after it throws `ERR_DISPOSED`. */
  dispose(): Promise<void>;
}
