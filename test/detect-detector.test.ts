import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { letterboxMatrix } from '../src/align/warp.js';
import { isFacekitError } from '../src/errors.js';
import {
  DEFAULT_DETECTOR_OPTIONS,
  DETECTOR_MODELS,
  FaceDetector,
  resolveDetectorOptions,
  type DetectorModelId,
} from '../src/detect/detector.js';
import { getModelSpec } from '../src/models/registry.js';
import type { ModelSession, TensorData } from '../src/runtime/tensor.js';
import type { RgbImage } from '../src/types.js';

/** Largest allowed error of a mapped coordinate, in image pixels (float32 regressors). */
const PX_TOLERANCE = 1e-3;

/** Logit of a confident "no face". */
const BACKGROUND_LOGIT = -10;

/** Where one fake anchor fires: batch item, anchor index and its 16 regressors. */
interface Firing {
  call: number;
  item: number;
  anchor: number;
  logit: number;
  regressors: number[];
}

/** A ModelSession with the detector's input and output names that records its calls. */
class FakeSession implements ModelSession {
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly calls: Array<{ inputs: Record<string, TensorData>; outputNames: readonly string[] | undefined }> = [];
  disposeCount = 0;

  constructor(
    readonly modelId: DetectorModelId,
    readonly firings: Firing[] = [],
    names?: { inputs?: string[]; outputs?: string[] },
    readonly fixedBackInput = false,
  ) {
    const spec = getModelSpec(modelId);
    this.inputNames = names?.inputs ?? [spec.inputName];
    this.outputNames = names?.outputs ?? (modelId === 'blazeface' ? ['Identity:0', 'Identity_1:0', 'Identity_2:0', 'Identity_3:0'] : ['Identity:0', 'Identity_1:0']);
  }

  async run(inputs: Record<string, TensorData>, outputNames?: readonly string[]): Promise<Record<string, TensorData>> {
    const call = this.calls.length;
    this.calls.push({ inputs, outputNames });
    const [batch, height, width] = Object.values(inputs)[0].dims;
    const fired = this.firings.filter((firing) => firing.call === call);
    // Like the converted graph, the back model's outputs grow with the input; a fixed-size session stays at 256.
    const backSize = this.fixedBackInput ? { width: 256, height: 256 } : { width, height };
    return this.modelId === 'blazeface' ? backOutputs(batch, backSize, fired) : fullRangeOutputs(batch, fired);
  }

  async dispose(): Promise<void> {
    this.disposeCount++;
  }
}

/** Anchors per image of the back model's stride-16 and stride-32 maps for an input size. */
function backAnchorCounts(width: number, height: number): { stride16: number; stride32: number } {
  return { stride16: (width / 16) * (height / 16) * 2, stride32: (width / 32) * (height / 32) * 6 };
}

function backOutputs(batch: number, size: { width: number; height: number }, fired: Firing[]): Record<string, TensorData> {
  const { stride16: n16, stride32: n32 } = backAnchorCounts(size.width, size.height);
  const scores16 = new Float32Array(batch * n16).fill(BACKGROUND_LOGIT);
  const scores32 = new Float32Array(batch * n32).fill(BACKGROUND_LOGIT);
  const boxes16 = new Float32Array(batch * n16 * 16);
  const boxes32 = new Float32Array(batch * n32 * 16);
  for (const firing of fired) {
    if (firing.anchor < n16) {
      scores16[firing.item * n16 + firing.anchor] = firing.logit;
      boxes16.set(firing.regressors, (firing.item * n16 + firing.anchor) * 16);
    } else {
      const anchor = firing.anchor - n16;
      scores32[firing.item * n32 + anchor] = firing.logit;
      boxes32.set(firing.regressors, (firing.item * n32 + anchor) * 16);
    }
  }
  return {
    'Identity:0': { data: scores16, dims: [batch, n16, 1] },
    'Identity_1:0': { data: scores32, dims: [batch, n32, 1] },
    'Identity_2:0': { data: boxes16, dims: [batch, n16, 16] },
    'Identity_3:0': { data: boxes32, dims: [batch, n32, 16] },
  };
}

function fullRangeOutputs(batch: number, fired: Firing[]): Record<string, TensorData> {
  const face = new Float32Array(batch * 2304 * 17);
  for (let i = 0; i < batch * 2304; i++) face[i * 17] = BACKGROUND_LOGIT;
  for (const firing of fired) {
    const base = (firing.item * 2304 + firing.anchor) * 17;
    face[base] = firing.logit;
    face.set(firing.regressors, base + 1);
  }
  return {
    'Identity:0': { data: face, dims: [batch, 2304, 17] },
    'Identity_1:0': { data: new Float32Array(batch * 2304 * 17), dims: [batch, 2304, 17] },
  };
}

function grayImage(width: number, height: number): RgbImage {
  return { data: new Uint8Array(width * height * 3).fill(128), width, height };
}

function assertClose(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= PX_TOLERANCE, `${label}: ${actual} != ${expected}`);
}

// Anchor 272 is cell (row 8, column 8) of the stride-16 map of a 256×256 input: centre (136, 136) px.
// Box centre (140, 128), size 32 × 40 px; keypoint k at (136 + k, 136 - k).
const BACK_ANCHOR = 272;
const BACK_REGRESSORS = [4, -8, 32, 40, 0, 0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5];

describe('FaceDetector.detect', () => {
  test('maps a detection back to image pixels', async () => {
    // 512×256 at scale 0.5 is a 256×128 input with no padding. Its stride-16 map has 16 columns,
    // so anchor (4 × 16 + 8) × 2 = 144 is cell (row 4, column 8): centre (136, 72) px.
    const session = new FakeSession('blazeface', [{ call: 0, item: 0, anchor: 144, logit: 3, regressors: BACK_REGRESSORS }]);
    const detector = new FaceDetector(async () => session, { tiling: false });
    const faces = await detector.detect(grayImage(512, 256));

    assert.deepEqual(session.calls[0].inputs['input:0'].dims, [1, 128, 256, 3]);
    // Input box (124, 44, 32, 40).
    assert.equal(faces.length, 1);
    const [face] = faces;
    assertClose(face.boxPx.x, 124 / 0.5, 'box x');
    assertClose(face.boxPx.y, 44 / 0.5, 'box y');
    assertClose(face.boxPx.width, 64, 'box width');
    assertClose(face.boxPx.height, 80, 'box height');
    assert.equal(face.keypointsPx.length, 6);
    for (let k = 0; k < 6; k++) {
      assertClose(face.keypointsPx[k][0], (136 + k) / 0.5, `keypoint ${k} x`);
      assertClose(face.keypointsPx[k][1], (72 - k) / 0.5, `keypoint ${k} y`);
    }
    assertClose(face.score, 1 / (1 + Math.exp(-3)), 'score');
  });

  test('decodes a stride-32 anchor of a wide input', async () => {
    // 1024×256 at scale 0.25 is a 256×64 input: 16 × 4 × 2 = 128 stride-16 anchors, then the
    // 8 × 2 stride-32 map with 6 anchors per cell. Anchor 128 + (1 × 8 + 5) × 6 + 3 = 209 is in
    // cell (row 1, column 5): centre (176, 48) px.
    const regressors = [0, 0, 20, 20, ...Array(12).fill(0)];
    const session = new FakeSession('blazeface', [{ call: 0, item: 0, anchor: 209, logit: 3, regressors }]);
    const faces = await new FaceDetector(async () => session, { tiling: false }).detect(grayImage(1024, 256));

    assert.deepEqual(session.calls[0].inputs['input:0'].dims, [1, 64, 256, 3]);
    assert.equal(faces.length, 1);
    assertClose(faces[0].boxPx.x, (176 - 10) / 0.25, 'box x');
    assertClose(faces[0].boxPx.y, (48 - 10) / 0.25, 'box y');
    assertClose(faces[0].boxPx.width, 20 / 0.25, 'box width');
  });

  test('maps a finer pyramid level by its own scale', async () => {
    // Level 1 of a 1920×1280 photo is the photo at scale 0.5, a 960×640 input. Its stride-16 map
    // has 60 columns, so anchor (10 × 60 + 20) × 2 = 1240 is cell (row 10, column 20): centre (328, 168) px.
    const regressors = [0, 0, 24, 24, ...Array(12).fill(0)];
    const session = new FakeSession('blazeface', [{ call: 1, item: 0, anchor: 1240, logit: 3, regressors }]);
    const faces = await new FaceDetector(async () => session).detect(grayImage(1920, 1280));

    assert.deepEqual(session.calls[1].inputs['input:0'].dims, [1, 640, 960, 3]);
    assert.equal(faces.length, 1);
    assertClose(faces[0].boxPx.x, (328 - 12) / 0.5, 'box x');
    assertClose(faces[0].boxPx.y, (168 - 12) / 0.5, 'box y');
    assertClose(faces[0].boxPx.width, 48, 'box width');
  });

  test('feeds the scaled image by input name', async () => {
    const session = new FakeSession('blazeface');
    const detector = new FaceDetector(async () => session, { tiling: false });
    const image = grayImage(256, 256);
    image.data.fill(255);
    assert.deepEqual(await detector.detect(image), []);

    assert.equal(session.calls.length, 1);
    const { inputs, outputNames } = session.calls[0];
    assert.deepEqual(Object.keys(inputs), ['input:0']);
    assert.deepEqual(inputs['input:0'].dims, [1, 256, 256, 3]);
    // White is 255 / 127.5 - 1 = 1 everywhere: the square image needs no padding.
    assert.ok(inputs['input:0'].data.every((value) => Math.abs(value - 1) < 1e-6), 'white pixels should scale to 1');
    assert.deepEqual(outputNames, ['Identity:0', 'Identity_2:0', 'Identity_1:0', 'Identity_3:0']);
  });

  test('pads the input with black below the image', async () => {
    const session = new FakeSession('blazeface');
    const image = grayImage(256, 100);
    image.data.fill(255);
    await new FaceDetector(async () => session, { tiling: false }).detect(image);
    const { data, dims } = session.calls[0].inputs['input:0'];
    // 100 rows round up to 128, the next multiple of the largest stride; rows 100-127 are padding.
    assert.deepEqual(dims, [1, 128, 256, 3]);
    assert.ok(Math.abs(data[0] - 1) < 1e-6, `image row 0 reads ${data[0]}`);
    assert.equal(data[99 * 256 * 3 + 255 * 3], 1, 'the last image pixel should be white');
    assert.equal(data[100 * 256 * 3], -1, 'row 100 should be black padding');
    assert.equal(data[data.length - 1], -1, 'the last row should be black padding');
  });

  test('runs the back model one pyramid level per call', async () => {
    const session = new FakeSession('blazeface');
    const detector = new FaceDetector(async () => session);
    await detector.detect(grayImage(1920, 1280));
    const passes = detector.planPasses(1920, 1280);
    assert.equal(passes.length, 2);
    assert.equal(session.calls.length, passes.length);
    assert.deepEqual(
      session.calls.map((call) => call.inputs['input:0'].dims),
      [
        [1, 192, 256, 3],
        [1, 640, 960, 3],
      ],
    );
  });

  test('without tiling runs the whole image once', async () => {
    const session = new FakeSession('blazeface');
    await new FaceDetector(async () => session, { tiling: false }).detect(grayImage(640, 480));
    assert.equal(session.calls.length, 1);
    assert.deepEqual(session.calls[0].inputs['input:0'].dims, [1, 192, 256, 3]);
  });

  test('decodes correctly after many input sizes', async () => {
    // 1024 × 64k photos for k = 1..14 need 21 input sizes besides 256×256, more than the anchor
    // cache keeps, so the grid of the first size is generated again at the end.
    const session = new FakeSession('blazeface');
    const detector = new FaceDetector(async () => session);
    await detector.detect(grayImage(256, 256));
    for (let k = 1; k <= 14; k++) await detector.detect(grayImage(1024, 64 * k));
    assert.ok(new Set(session.calls.map((call) => call.inputs['input:0'].dims.join('x'))).size > 17, 'too few input sizes');

    session.firings.push({ call: session.calls.length, item: 0, anchor: BACK_ANCHOR, logit: 3, regressors: BACK_REGRESSORS });
    const faces = await detector.detect(grayImage(256, 256));
    assert.equal(faces.length, 1);
    assertClose(faces[0].boxPx.x, 124, 'box x');
    assertClose(faces[0].boxPx.y, 108, 'box y');
  });

  test('batches full-range tiles up to 8', async () => {
    const session = new FakeSession('facemesh-detection-full');
    const detector = new FaceDetector(async () => session, { model: 'facemesh-detection-full' });
    await detector.detect(grayImage(1920, 1280));
    const tileCount = detector.planPasses(1920, 1280).length;
    const batches = session.calls.map((call) => call.inputs.input.dims[0]);
    assert.equal(batches.reduce((a, b) => a + b, 0), tileCount);
    assert.deepEqual(batches.slice(0, -1), Array(batches.length - 1).fill(8));
    assert.deepEqual(session.calls[0].outputNames, ['Identity:0']);
  });

  test('decodes each image of a batch with its own tile', async () => {
    // Anchor 1175 is cell (row 24, column 23) of the 48×48 map: centre (94, 98) px of 192.
    const regressors = [0, 0, 20, 20, ...Array(12).fill(0)];
    const session = new FakeSession('facemesh-detection-full', [{ call: 0, item: 3, anchor: 1175, logit: 4, regressors }]);
    const detector = new FaceDetector(async () => session, { model: 'facemesh-detection-full' });
    const faces = await detector.detect(grayImage(1920, 1280));
    const pass = detector.planPasses(1920, 1280)[3];

    const { toSource } = letterboxMatrix(pass.tile.regionPx, 192);
    const [x, y] = toSource([94 - 10, 98 - 10]);
    assert.equal(faces.length, 1);
    assertClose(faces[0].boxPx.x, x, 'box x');
    assertClose(faces[0].boxPx.y, y, 'box y');
  });

  test('returns faces best first, capped at maxFaces', async () => {
    const firings: Firing[] = [
      { call: 0, item: 0, anchor: 0, logit: 1, regressors: [8, 8, 16, 16] },
      { call: 0, item: 0, anchor: BACK_ANCHOR, logit: 3, regressors: BACK_REGRESSORS },
      { call: 0, item: 0, anchor: 510, logit: 2, regressors: [0, 0, 16, 16] },
    ];
    const detector = new FaceDetector(async () => new FakeSession('blazeface', firings), { tiling: false, maxFaces: 2 });
    const faces = await detector.detect(grayImage(256, 256));
    assert.equal(faces.length, 2);
    assert.ok(faces[0].score > faces[1].score, `scores ${faces.map((f) => f.score).join(', ')} are not descending`);
  });
});

describe('FaceDetector session handling', () => {
  test('opens one session and disposes it once', async () => {
    const session = new FakeSession('blazeface');
    let opened = 0;
    const detector = new FaceDetector(async (id) => {
      opened++;
      assert.equal(id, 'blazeface');
      return session;
    }, { tiling: false });
    await detector.detect(grayImage(64, 64));
    await detector.detect(grayImage(64, 64));
    assert.equal(opened, 1);

    await detector.dispose();
    await detector.dispose();
    assert.equal(session.disposeCount, 1);
    await assert.rejects(detector.detect(grayImage(64, 64)), (error: unknown) => isFacekitError(error, 'ERR_DISPOSED'));
  });

  test('rejects a session without the expected outputs', async () => {
    const session = new FakeSession('blazeface', [], { outputs: ['Identity:0'] });
    const detector = new FaceDetector(async () => session);
    await assert.rejects(
      detector.detect(grayImage(64, 64)),
      (error: unknown) => isFacekitError(error, 'ERR_MODEL_INVALID') && error.message.includes('Identity_3:0'),
    );
    assert.equal(session.disposeCount, 1, 'the rejected session should be disposed');
  });

  test('retries after a failed open', async () => {
    let attempts = 0;
    const detector = new FaceDetector(async () => {
      attempts++;
      if (attempts === 1) throw new Error('disk not ready');
      return new FakeSession('blazeface');
    }, { tiling: false });
    await assert.rejects(detector.detect(grayImage(64, 64)), /disk not ready/);
    assert.deepEqual(await detector.detect(grayImage(64, 64)), []);
    assert.equal(attempts, 2);
  });

  test('rejects a fixed-size session for other input sizes', async () => {
    const session = new FakeSession('blazeface', [], undefined, true);
    const detector = new FaceDetector(async () => session, { tiling: false });
    assert.deepEqual(await detector.detect(grayImage(256, 256)), []);
    await assert.rejects(
      detector.detect(grayImage(256, 192)),
      (error: unknown) => isFacekitError(error, 'ERR_MODEL_INVALID') && error.message.includes('256×192'),
    );
  });

  test('rejects outputs of the wrong size', async () => {
    const session = new FakeSession('facemesh-detection-full');
    session.run = async () => ({ 'Identity:0': { data: new Float32Array(10), dims: [1, 10] } });
    const detector = new FaceDetector(async () => session, { model: 'facemesh-detection-full', tiling: false });
    await assert.rejects(detector.detect(grayImage(64, 64)), (error: unknown) => isFacekitError(error, 'ERR_MODEL_INVALID'));
  });

  test('rejects invalid images', async () => {
    const detector = new FaceDetector(async () => new FakeSession('blazeface'));
    const cases: Array<[string, unknown]> = [
      ['image', null],
      ['image.width', { data: new Uint8Array(3), width: 0, height: 1 }],
      ['image.data', { data: new Uint8Array(5), width: 1, height: 1 }],
      ['image.data', { data: [0, 0, 0], width: 1, height: 1 }],
    ];
    for (const [name, image] of cases) {
      await assert.rejects(
        detector.detect(image as RgbImage),
        (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name),
        `expected ERR_INVALID_ARGUMENT naming ${name}`,
      );
    }
  });
});

describe('detector options', () => {
  test('defaults', () => {
    assert.deepEqual(resolveDetectorOptions(), { ...DEFAULT_DETECTOR_OPTIONS });
    assert.equal(DEFAULT_DETECTOR_OPTIONS.model, 'blazeface');
    assert.equal(DEFAULT_DETECTOR_OPTIONS.minFaceSize, 40);
    assert.equal(DEFAULT_DETECTOR_OPTIONS.scoreThreshold, 0.6);
    assert.equal(DEFAULT_DETECTOR_OPTIONS.nms, 'weighted');
  });

  test('copies instead of changing the caller object', () => {
    const options = { minFaceSize: 60 };
    const resolved = resolveDetectorOptions(options);
    assert.equal(resolved.minFaceSize, 60);
    assert.deepEqual(options, { minFaceSize: 60 });
    assert.notEqual(resolved, DEFAULT_DETECTOR_OPTIONS);
  });

  test('undefined values keep the default', () => {
    assert.equal(resolveDetectorOptions({ maxFaces: undefined }).maxFaces, DEFAULT_DETECTOR_OPTIONS.maxFaces);
  });

  test('rejects invalid options', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['model', { model: 'blazeface-front' }],
      ['minFaceSize', { minFaceSize: 0 }],
      ['minFaceSize', { minFaceSize: Infinity }],
      ['scoreThreshold', { scoreThreshold: 1.2 }],
      ['maxFaces', { maxFaces: 1.5 }],
      ['tiling', { tiling: 'yes' }],
      ['iouThreshold', { iouThreshold: -0.1 }],
      ['nms', { nms: 'soft' }],
      ['options', { minSize: 40 }],
    ];
    for (const [name, options] of cases) {
      assert.throws(
        () => resolveDetectorOptions(options),
        (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT') && error.message.includes(name),
        `expected ERR_INVALID_ARGUMENT naming ${name}`,
      );
    }
  });

  test('constructor rejects a missing session factory', () => {
    assert.throws(() => new FaceDetector(undefined as never), (error: unknown) => isFacekitError(error, 'ERR_INVALID_ARGUMENT'));
  });

  test('every detector model agrees with the registry', () => {
    for (const id of Object.keys(DETECTOR_MODELS) as DetectorModelId[]) {
      const detector = new FaceDetector(async () => new FakeSession(id), { model: id });
      assert.equal(getModelSpec(id).inputSize, detector.model.anchors.inputWidth, id);
      assert.equal(getModelSpec(id).inputSize, detector.model.decode.inputWidth, id);
    }
  });
});
