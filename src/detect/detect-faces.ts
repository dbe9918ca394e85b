/** `detectFaces`: one call that opens a detector, finds faces in one or more images and closes it. */
import { invalidArgument } from '../errors.js';
import { decodeImage, imageFromRaw } from '../image/decode.js';
import type { RgbImage } from '../types.js';
import { type DetectedFace, FaceDetector, type FaceDetectorOptions } from './detector.js';
import { loadModel } from '../runtime/load.js';

export interface DetectFacesOptions extends Partial<FaceDetectorOptions> {
  /** ONNX Runtime intra-op threads. Default: the number of logical CPU cores. */
  intraOpThreads?: number;
  /** Pixel limit for images passed as paths or Buffers. Default: the decoder's (100 megapixels). */
  maxPixels?: number;
}

/** Opens a `FaceDetector` whose model sessions run on ONNX Runtime with `intraOpThreads` threads. */
export function openFaceDetector(options: Partial<FaceDetectorOptions> = {}, intraOpThreads?: number): FaceDetector {
  return new FaceDetector(async (modelId) => (await loadModel(modelId, { intraOpThreads })).session, options);
}

/**
 * Detects faces in each image (a path, a Buffer or RGB pixels). Returns one array of faces
 * per image, in that image's pixels. For repeated calls, keep a `FaceDetector` instead.
 */
export async function detectFaces(images: ReadonlyArray<string | Buffer | RgbImage>, options: DetectFacesOptions = {}): Promise<DetectedFace[][]> {
  if (!Array.isArray(images)) throw invalidArgument('images', 'an array of paths, Buffers or RGB images', images);
  const { intraOpThreads, maxPixels, ...detectorOptions } = options;
  const detector = openFaceDetector(detectorOptions, intraOpThreads);
  try {
    const results: DetectedFace[][] = [];
    for (const input of images) {
      const image = typeof input === 'string' || Buffer.isBuffer(input) ? await decodeImage(input, { maxPixels }) : imageFromRaw(input);
      results.push(await detector.detect(image));
    }
    return results;
  } finally {
    await detector.dispose();
  }
}
