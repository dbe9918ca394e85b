/**
 * Real-model detection on a demo photo: the ONNX Runtime path (facekit's TF.js-to-ONNX
 * conversion) against hand-checked face positions and against the same detector running the
 * original TF.js graph on the TF.js WASM backend.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, test } from 'node:test';
import sharp, { type CreateRaw } from 'sharp';
import { FaceDetector, type DetectedFace, type DetectorModelId } from '../src/detect/detector.js';
import { intersectionOverUnion } from '../src/detect/nms.js';
import { getModelSpec, isModelAvailable, resolveModelFile } from '../src/models/registry.js';
import { loadModel } from '../src/runtime/load.js';
import type { ModelSession, TensorData } from '../src/runtime/tensor.js';
import type { RgbImage } from '../src/types.js';
import { loadTfjsGraphModel, runTfjs } from './support/tfjs-reference.js';

const require = createRequire(import.meta.url);

/** sample1.jpg of @vladmandic/face-api 1.7 (1920×1280, three women, faces about 150-190 px wide). */
const SAMPLE_PATH = require.resolve('@vladmandic/face-api/demo/sample1.jpg');

/**
 * Approximate face centres in sample1.jpg, left to right, checked by eye on the image. Detected
 * box centres must lie within CENTER_TOLERANCE_PX (a quarter of a face width) of them: on the
 * turned left face, the two models' boxes are centred 34 px apart.
 */
const SAMPLE_FACE_CENTERS: Array<[number, number]> = [
  [514, 502],
  [938, 554],
  [1565, 343],
];
const CENTER_TOLERANCE_PX = 45;

/** A 1280×1280 region of sample1.jpg that contains the three faces. */
const SAMPLE_SQUARE_CROP = { left: 400, top: 0, width: 1280, height: 1280 };

/**
 * Largest allowed difference between the ONNX and TF.js paths, in image pixels. Raw outputs differ
 * by up to 2e-3 input pixels (see runtime.test.ts); the letterbox scales that by up to 7.5.
 */
const PATH_TOLERANCE_PX = 0.5;
/** Largest allowed score difference between the two paths. */
const SCORE_TOLERANCE = 1e-3;

async function loadRgb(input: string | Buffer, raw?: CreateRaw): Promise<RgbImage> {
  const { data, info } = await sharp(input, raw ? { raw } : undefined).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** Builds a 1920×1280 mosaic of the sample tiled 4×4 at a quarter of its size: 48 faces of about 38-47 px. */
async function sampleMosaic(): Promise<RgbImage> {
  const cell = await sharp(SAMPLE_PATH).resize(480, 320).removeAlpha().toBuffer();
  const composites = [];
  for (let row = 0; row < 4; row++) {
    for (let col = 0; col < 4; col++) composites.push({ input: cell, left: col * 480, top: row * 320 });
  }
  const mosaic = await sharp({ create: { width: 1920, height: 1280, channels: 3, background: '#000' } })
    .composite(composites)
    .png()
    .toBuffer();
  return loadRgb(mosaic);
}

/** Opens a ModelSession over the original TF.js graph, the reference for the ONNX path. */
async function tfjsSession(id: DetectorModelId): Promise<ModelSession> {
  const spec = getModelSpec(id);
  const model = await loadTfjsGraphModel(resolveModelFile(spec));
  const outputNames = Object.values(spec.outputs);
  return {
    inputNames: [spec.inputName],
    outputNames,
    async run(inputs: Record<string, TensorData>, names?: readonly string[]) {
      const input = inputs[spec.inputName];
      // TF.js addresses the input by node name, without the output index.
      return runTfjs(model, spec.inputName.replace(/:0$/, ''), input.data, [...input.dims], [...(names ?? outputNames)]);
    },
    async dispose() {
      model.dispose();
    },
  };
}

async function onnxSession(id: DetectorModelId): Promise<ModelSession> {
  return (await loadModel(id)).session;
}

function center(face: DetectedFace): [number, number] {
  return [face.boxPx.x + face.boxPx.width / 2, face.boxPx.y + face.boxPx.height / 2];
}

function assertFacesAtSampleCenters(faces: DetectedFace[]): void {
  assert.equal(faces.length, SAMPLE_FACE_CENTERS.length, `found ${faces.length} faces: ${JSON.stringify(faces.map(center))}`);
  const byX = [...faces].sort((a, b) => center(a)[0] - center(b)[0]);
  byX.forEach((face, i) => {
    const [x, y] = center(face);
    const [ex, ey] = SAMPLE_FACE_CENTERS[i];
    assert.ok(Math.hypot(x - ex, y - ey) <= CENTER_TOLERANCE_PX, `face ${i} centre (${x.toFixed(0)}, ${y.toFixed(0)}) is not near (${ex}, ${ey})`);
    // The six keypoints lie in or near the box, the right eye left of the left eye (upright faces).
    const [rightEye, leftEye] = face.keypointsPx;
    assert.ok(rightEye[0] < leftEye[0], `face ${i}: right eye x ${rightEye[0]} is not left of left eye x ${leftEye[0]}`);
    for (const [k, [kx, ky]] of face.keypointsPx.entries()) {
      const margin = face.boxPx.width * 0.25;
      const inside =
        kx >= face.boxPx.x - margin && kx <= face.boxPx.x + face.boxPx.width + margin && ky >= face.boxPx.y - margin && ky <= face.boxPx.y + face.boxPx.height + margin;
      assert.ok(inside, `face ${i} keypoint ${k} (${kx.toFixed(0)}, ${ky.toFixed(0)}) is far outside its box`);
    }
  });
}

function assertSameFaces(actual: DetectedFace[], expected: DetectedFace[]): void {
  assert.equal(actual.length, expected.length, `ONNX found ${actual.length} faces, TF.js ${expected.length}`);
  actual.forEach((face, i) => {
    const reference = expected[i];
    assert.ok(Math.abs(face.score - reference.score) <= SCORE_TOLERANCE, `face ${i} score ${face.score} vs TF.js ${reference.score}`);
    for (const key of ['x', 'y', 'width', 'height'] as const) {
      const difference = Math.abs(face.boxPx[key] - reference.boxPx[key]);
      assert.ok(difference <= PATH_TOLERANCE_PX, `face ${i} box ${key} differs from TF.js by ${difference.toFixed(3)} px`);
    }
    face.keypointsPx.forEach(([x, y], k) => {
      const difference = Math.hypot(x - reference.keypointsPx[k][0], y - reference.keypointsPx[k][1]);
      assert.ok(difference <= PATH_TOLERANCE_PX, `face ${i} keypoint ${k} differs from TF.js by ${difference.toFixed(3)} px`);
    });
  });
}

for (const id of ['blazeface', 'facemesh-detection-full'] as const) {
  const skip = isModelAvailable(id) ? false : `${getModelSpec(id).packageName} is not installed`;

  describe(`${id} on sample1.jpg`, { skip }, () => {
    const detectors: FaceDetector[] = [];
    const detector = (factory: (id: DetectorModelId) => Promise<ModelSession>, tiling = true) => {
      const created = new FaceDetector(factory, { model: id, tiling });
      detectors.push(created);
      return created;
    };
    after(async () => {
      for (const created of detectors) await created.dispose();
    });

    test('finds the three faces', async () => {
      const image = await loadRgb(SAMPLE_PATH);
      assertFacesAtSampleCenters(await detector(onnxSession).detect(image));
    });

    test('ONNX agrees with TF.js', async () => {
      // The TF.js graph takes only the size it was trained at. `blazeface` runs other sizes on
      // ONNX, so it is compared on a square crop without tiling: one 256×256 pass.
      const sameSizeOnly = getModelSpec(id).anySize === true;
      const image = sameSizeOnly ? await loadRgb(await sharp(SAMPLE_PATH).extract(SAMPLE_SQUARE_CROP).toBuffer()) : await loadRgb(SAMPLE_PATH);
      const onnxFaces = await detector(onnxSession, !sameSizeOnly).detect(image);
      const tfjsFaces = await detector(tfjsSession, !sameSizeOnly).detect(image);
      assert.equal(onnxFaces.length, SAMPLE_FACE_CENTERS.length, `ONNX found ${onnxFaces.length} faces`);
      assertSameFaces(onnxFaces, tfjsFaces);
    });

    test('tiling finds 40-px faces', async () => {
      const mosaic = await sampleMosaic();
      const tiled = await detector(onnxSession).detect(mosaic);
      const whole = await detector(onnxSession, false).detect(mosaic);

      // Expected: every face of every cell, each at the sample's face centre scaled by 1/4.
      const expected = [];
      for (let row = 0; row < 4; row++) {
        for (let col = 0; col < 4; col++) {
          for (const [x, y] of SAMPLE_FACE_CENTERS) expected.push([col * 480 + x / 4, row * 320 + y / 4]);
        }
      }
      const found = expected.filter(([x, y]) => tiled.some((face) => Math.hypot(center(face)[0] - x, center(face)[1] - y) <= CENTER_TOLERANCE_PX / 4));
      assert.equal(found.length, expected.length, `tiling found ${found.length} of ${expected.length} faces`);
      assert.equal(tiled.length, expected.length, `tiling returned ${tiled.length} faces for ${expected.length}`);
      for (const face of tiled) {
        const overlapping = tiled.filter((other) => other !== face && intersectionOverUnion(other.boxPx, face.boxPx) > 0.1);
        assert.equal(overlapping.length, 0, `face at ${center(face).map((v) => v.toFixed(0))} has a duplicate`);
      }
      // Without tiling, the 1920-px image shrinks 7.5× (10× for full range) and these faces are 5 px wide.
      assert.ok(whole.length < expected.length / 4, `the whole-image pass alone found ${whole.length} faces`);
    });
  });
}
