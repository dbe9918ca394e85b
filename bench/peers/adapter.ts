/**
 * The one interface the benchmark drives facekit and each peer toolkit through, so that
 * every toolkit gets the same inputs and the same timing code.
 */
import type { RgbImage } from '../../src/types.js';

/**
 * Toolkits compared. `facekit-1-thread` is facekit with ONNX Runtime limited to one
 * thread, the peers' WASM backend's thread count in Node; `facekit-mobilefacenet` is
 * facekit with its optional backbone.
 */
export const PEER_NAMES = ['facekit', 'facekit-1-thread', 'facekit-mobilefacenet', 'human', 'face-api'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/**
 * Work a worker process does, which decides the models it loads: `speed` times detection
 * and embedding, `describe` computes descriptors of the labelled photos.
 */
export const PEER_TASKS = ['speed', 'describe'] as const;
export type PeerTask = (typeof PEER_TASKS)[number];

/** Description of a toolkit's runtime and models, as the benchmark page reports it. */
export interface PeerRuntime {
  /** npm package and version. */
  package: string;
  /** Inference runtime and backend, for example "TF.js 4.22 WASM (SIMD, single thread)". */
  backend: string;
  detector: string;
  descriptor: string;
  /** Model files read, relative to node_modules. */
  modelFiles: string[];
}

/** A descriptor's nearest match in a gallery, decided by the toolkit's own matching rule. */
export interface MatchResult {
  /** Closed-set result: the label of the nearest gallery entry or class. */
  label: string;
  /**
   * Open-set decision under the toolkit's documented threshold: whether the face is taken
   * to be `label`. Null for toolkits without a documented threshold on raw descriptors.
   */
  accepted: boolean | null;
  /** The toolkit's distance or similarity of that match, in its own units. */
  score: number;
}

export interface DescribedImage {
  /** Faces the toolkit found. */
  faceCount: number;
  /** Descriptor of the largest face, or null when none was found. */
  descriptor: Float32Array | null;
}

export interface PeerAdapter {
  readonly runtime: PeerRuntime;
  /** Finds faces in a 640×480 video frame (`frame`) or a large photo (`photo`); returns the count. Task `speed`. */
  detect(image: RgbImage, kind: 'frame' | 'photo'): Promise<number>;
  /** Embeds 224×224 face crops in as few calls as the toolkit allows; returns the descriptor count. Task `speed`. */
  embed(crops: readonly RgbImage[]): Promise<number>;
  /** Runs the toolkit's whole recognition path on a photo: detect, align and describe the largest face. Task `describe`. */
  describe(image: RgbImage): Promise<DescribedImage>;
  /** Matches each query against labelled gallery descriptors with the toolkit's own rule. */
  match(gallery: ReadonlyArray<{ label: string; descriptor: Float32Array }>, queries: readonly Float32Array[]): MatchResult[];
  dispose(): Promise<void>;
}
