import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isFacekitError } from '../src/errors.js';
import { type AffineMatrix, applyAffine, invertAffine } from '../src/align/similarity.js';
import { faceTemplatePx } from '../src/align/template.js';
import { alignFace, halveImage, letterboxMatrix, sampleToTensor, warpAffine } from '../src/align/warp.js';
import type { PointPx, RgbImage } from '../src/types.js';

/** How far a marker dot may land from its template position, in crop pixels. */
const MARKER_TOLERANCE_PX = 1;
/** Round-trip error allowed for letterbox coordinate mapping, in source pixels. */
const ROUND_TRIP_TOLERANCE_PX = 1e-6;
/** Float32 rounding allowed on tensor values, absolute. */
const FLOAT32_TOLERANCE = 1e-6;

function isInvalidArgument(error: unknown): boolean {
  return isFacekitError(error, 'ERR_INVALID_ARGUMENT');
}

function makeImage(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set(pixel(x, y), (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

function pixelAt(image: RgbImage, x: number, y: number): [number, number, number] {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

/**
 * Straightforward bilinear warp with edge replication, written independently of the
 * optimized kernels: continuous coordinates with pixel centres at i + 0.5.
 */
function referenceWarp(image: RgbImage, matrix: readonly number[], outWidth: number, outHeight: number): Float64Array {
  const out = new Float64Array(outWidth * outHeight * 3);
  const value = (x: number, y: number, ch: number): number => {
    const cx = Math.min(Math.max(x, 0), image.width - 1);
    const cy = Math.min(Math.max(y, 0), image.height - 1);
    return image.data[(cy * image.width + cx) * 3 + ch];
  };
  for (let v = 0; v < outHeight; v++) {
    for (let u = 0; u < outWidth; u++) {
      const [sx, sy] = applyAffine(matrix, [u + 0.5, v + 0.5]);
      const fx = Math.min(Math.max(sx - 0.5, 0), image.width - 1);
      const fy = Math.min(Math.max(sy - 0.5, 0), image.height - 1);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      for (let ch = 0; ch < 3; ch++) {
        const top = value(x0, y0, ch) * (1 - wx) + value(x0 + 1, y0, ch) * wx;
        const bottom = value(x0, y0 + 1, ch) * (1 - wx) + value(x0 + 1, y0 + 1, ch) * wx;
        out[(v * outWidth + u) * 3 + ch] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

/** Builds a textured image with no black pixels: every channel is in 40..250. */
function texturedImage(width: number, height: number): RgbImage {
  return makeImage(width, height, (x, y) => [40 + ((x * 37 + y * 11) % 211), 40 + ((x * 5 + y * 53) % 211), 40 + ((x * y) % 211)]);
}

describe('warpAffine', () => {
  it('identity copies the image', () => {
    const image = texturedImage(31, 17);
    const out = warpAffine(image, [1, 0, 0, 0, 1, 0], 31, 17);
    assert.deepEqual(out.data, image.data);
  });

  it('integer translation shifts pixels', () => {
    const image = texturedImage(20, 10);
    const out = warpAffine(image, [1, 0, 3, 0, 1, 2], 10, 5);
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 10; x++) assert.deepEqual(pixelAt(out, x, y), pixelAt(image, x + 3, y + 2), `pixel (${x}, ${y})`);
    }
  });

  it('half-pixel shift averages neighbours', () => {
    const image = makeImage(2, 1, (x) => (x === 0 ? [0, 100, 200] : [100, 200, 0]));
    const out = warpAffine(image, [1, 0, 0.5, 0, 1, 0], 1, 1);
    assert.deepEqual(pixelAt(out, 0, 0), [50, 150, 100]);
  });

  it('matches a reference bilinear warp', () => {
    const image = texturedImage(53, 41);
    const matrices: AffineMatrix[] = [
      [0.8, -0.3, 10.2, 0.3, 0.8, -4.7],
      [1.3, 0.2, -5, -0.1, 1.1, 3.3],
      [-0.5, 0.9, 40, 0.7, 0.4, -10],
    ];
    for (const matrix of matrices) {
      const out = warpAffine(image, matrix, 45, 38, { antialias: false });
      const expected = referenceWarp(image, matrix, 45, 38);
      let maxError = 0;
      for (let i = 0; i < expected.length; i++) maxError = Math.max(maxError, Math.abs(out.data[i] - expected[i]));
      // Rounding to 8 bits costs at most 0.5, plus float rounding at exact halves.
      assert.ok(maxError <= 0.5 + 1e-6, `matrix ${matrix.join(', ')}: max error ${maxError} levels`);
    }
  });

  it('replicates the border outside the source', () => {
    const image = texturedImage(16, 12);
    // Scale 3 around the centre: most output pixels sample far outside the source.
    const matrix: AffineMatrix = [3, 0, -16, 0, 3, -12];
    const out = warpAffine(image, matrix, 16, 12, { antialias: false });
    for (let i = 0; i < out.data.length; i += 3) {
      const brightness = out.data[i] + out.data[i + 1] + out.data[i + 2];
      assert.ok(brightness > 0, `black pixel at index ${i / 3}`);
    }
    const expected = referenceWarp(image, matrix, 16, 12);
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Math.abs(out.data[i] - expected[i]) <= 0.5 + 1e-6, `value ${i}: ${out.data[i]} vs ${expected[i]}`);
    }
    // The output's top-left corner maps left of and above the source, so it is the corner pixel.
    assert.deepEqual(pixelAt(out, 0, 0), pixelAt(image, 0, 0));
    assert.deepEqual(pixelAt(out, 15, 11), pixelAt(image, 15, 11));
  });

  it('antialiasing removes checkerboard aliasing', () => {
    const checker = makeImage(256, 256, (x, y) => ((x + y) % 2 === 0 ? [255, 255, 255] : [0, 0, 0]));
    // Downscale by 8 with a small rotation so the sample grid is not aligned with the pattern.
    const angle = 0.1;
    const matrix: AffineMatrix = [8 * Math.cos(angle), -8 * Math.sin(angle), 20, 8 * Math.sin(angle), 8 * Math.cos(angle), 10];
    const spread = (image: RgbImage): [number, number] => {
      let min = 255;
      let max = 0;
      for (let i = 0; i < image.data.length; i += 3) {
        min = Math.min(min, image.data[i]);
        max = Math.max(max, image.data[i]);
      }
      return [min, max];
    };
    const [aaMin, aaMax] = spread(warpAffine(checker, matrix, 24, 24));
    const [rawMin, rawMax] = spread(warpAffine(checker, matrix, 24, 24, { antialias: false }));
    assert.ok(aaMin >= 120, `antialiased values span ${aaMin}..${aaMax}, expected about 128`);
    assert.ok(aaMax <= 136, `antialiased values span ${aaMin}..${aaMax}, expected about 128`);
    assert.ok(rawMax - rawMin > 100, `without antialiasing values span ${rawMin}..${rawMax}; the test image no longer aliases`);
  });

  it('antialiasing keeps positions on a ramp', () => {
    // Column x has value x, so the exact sample at continuous x is x - 0.5. A factor-3
    // box average of integers is exact, so any offset in the shrunk grid shows up here.
    const ramp = makeImage(256, 64, (x) => [x, x, x]);
    const matrix: AffineMatrix = [3.2, 0, 7.3, 0, 3.2, 1.1];
    const tensor = sampleToTensor(ramp, matrix, 70, 16, { scale: 1, offset: 0 });
    for (let v = 2; v < 14; v++) {
      for (let u = 2; u < 70 - 4; u++) {
        const [sx] = applyAffine(matrix, [u + 0.5, v + 0.5]);
        const actual = tensor[(v * 70 + u) * 3];
        assert.ok(Math.abs(actual - (sx - 0.5)) <= 0.25, `pixel (${u}, ${v}): ${actual}, expected ${sx - 0.5}`);
      }
    }
  });

  it('rejects invalid input', () => {
    const image = texturedImage(4, 4);
    const identity = [1, 0, 0, 0, 1, 0];
    assert.throws(() => warpAffine({ data: new Uint8Array(47), width: 4, height: 4 }, identity, 4, 4), isInvalidArgument);
    assert.throws(() => warpAffine({ data: image.data, width: 4.5, height: 4 }, identity, 4, 4), isInvalidArgument);
    assert.throws(() => warpAffine(null as unknown as RgbImage, identity, 4, 4), isInvalidArgument);
    assert.throws(() => warpAffine(image, [1, 0, 0, 0, 1], 4, 4), isInvalidArgument);
    assert.throws(() => warpAffine(image, identity, 0, 4), isInvalidArgument);
    assert.throws(() => warpAffine(image, identity, 4, 2.5), isInvalidArgument);
    assert.throws(() => warpAffine(image, identity, 4, 4, { antialias: 'yes' as unknown as boolean }), isInvalidArgument);
  });
});

/** Colours of the eye, eye, nose and mouth marker dots, in BlazeFace keypoint order. */
const MARKER_COLOURS: [number, number, number][] = [
  [255, 0, 0],
  [0, 200, 0],
  [0, 0, 255],
  [255, 255, 0],
];
const BACKGROUND: [number, number, number] = [128, 128, 128];

/**
 * Draws a grey image with a filled disc of each marker colour at each point. Pixels whose
 * centre is within `radius` of a point take its colour.
 */
function drawMarkers(width: number, height: number, points: readonly PointPx[], radius: number): RgbImage {
  return makeImage(width, height, (x, y) => {
    for (let i = 0; i < points.length; i++) {
      const [px, py] = points[i];
      if ((x + 0.5 - px) ** 2 + (y + 0.5 - py) ** 2 <= radius * radius) return MARKER_COLOURS[i];
    }
    return BACKGROUND;
  });
}

/**
 * Finds a marker's centre in continuous coordinates: each pixel is weighted by how far its
 * colour has moved from the background towards the marker colour (0 to 1).
 */
function markerCentroid(image: RgbImage, colour: readonly number[]): PointPx {
  const axis = colour.map((c, ch) => c - BACKGROUND[ch]);
  const axisLength2 = axis.reduce((sum, c) => sum + c * c, 0);
  let weightSum = 0;
  let sumX = 0;
  let sumY = 0;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const pixel = pixelAt(image, x, y);
      const projection = pixel.reduce((sum, value, ch) => sum + (value - BACKGROUND[ch]) * axis[ch], 0) / axisLength2;
      // Only pixels that look like this marker: close to the background-to-marker line.
      const off = pixel.reduce((sum, value, ch) => sum + (value - BACKGROUND[ch] - projection * axis[ch]) ** 2, 0);
      if (projection <= 0.05 || off > 100) continue;
      const weight = Math.min(projection, 1);
      weightSum += weight;
      sumX += weight * (x + 0.5);
      sumY += weight * (y + 0.5);
    }
  }
  assert.ok(weightSum > 0, `marker ${colour.join(',')} not found`);
  return [sumX / weightSum, sumY / weightSum];
}

describe('alignFace', () => {
  const size = 112;
  const template = faceTemplatePx(size);

  /** Places the template in a source image: rotated by `angleDeg`, scaled and centred. */
  function placeFace(angleDeg: number, scale: number, centre: PointPx): PointPx[] {
    const angle = (angleDeg * Math.PI) / 180;
    return template.map(([x, y]): PointPx => {
      const dx = (x - size / 2) * scale;
      const dy = (y - size / 2) * scale;
      return [centre[0] + dx * Math.cos(angle) - dy * Math.sin(angle), centre[1] + dx * Math.sin(angle) + dy * Math.cos(angle)];
    });
  }

  const cases = [
    { name: 'rotated 30 degrees', angleDeg: 30, scale: 1.6, radius: 6 },
    { name: 'rotated -30 degrees and upscaled', angleDeg: -30, scale: 0.7, radius: 3 },
    { name: 'rotated 30 degrees and downscaled 5 times', angleDeg: 30, scale: 5, radius: 18 },
  ];
  for (const { name, angleDeg, scale, radius } of cases) {
    it(`puts markers on the template: ${name}`, () => {
      const keypoints = placeFace(angleDeg, scale, [size * scale * 0.6 + 20, size * scale * 0.55 + 10]);
      const width = Math.ceil(size * scale * 1.3 + 40);
      const image = drawMarkers(width, Math.ceil(size * scale * 1.2 + 30), keypoints.slice(0, 4), radius);

      const aligned = alignFace(image, keypoints, { size });
      assert.equal(aligned.image.width, size);
      assert.equal(aligned.image.height, size);
      for (let i = 0; i < 4; i++) {
        const [x, y] = markerCentroid(aligned.image, MARKER_COLOURS[i]);
        const [tx, ty] = template[i];
        const distance = Math.hypot(x - tx, y - ty);
        assert.ok(distance <= MARKER_TOLERANCE_PX, `marker ${i} at (${x.toFixed(2)}, ${y.toFixed(2)}), template (${tx.toFixed(2)}, ${ty.toFixed(2)}): ${distance.toFixed(2)} px off`);
      }
    });
  }

  it('returns the image-to-crop matrix', () => {
    const keypoints = placeFace(-12, 2.3, [300, 280]);
    const image = texturedImage(600, 560);
    const { matrix } = alignFace(image, keypoints, { size: 224, margin: 0.1 });
    const expected = faceTemplatePx(224, 0.1);
    for (let i = 0; i < 4; i++) {
      // placeFace used the 112 px template, which is similar to the 224 px one.
      const [x, y] = applyAffine(matrix, keypoints[i]);
      assert.ok(Math.abs(x - expected[i][0]) < 1e-9, `keypoint ${i} maps to (${x}, ${y})`);
      assert.ok(Math.abs(y - expected[i][1]) < 1e-9, `keypoint ${i} maps to (${x}, ${y})`);
    }
  });

  it('ignores the ear keypoints', () => {
    const keypoints = placeFace(10, 2, [200, 200]);
    const image = texturedImage(400, 400);
    const withEars = alignFace(image, [...keypoints.slice(0, 4), [0, 0], [399, 5]], { size: 64 });
    const withoutEars = alignFace(image, keypoints.slice(0, 4), { size: 64 });
    assert.deepEqual(withEars.matrix, withoutEars.matrix);
    assert.deepEqual(withEars.image.data, withoutEars.image.data);
  });

  it('rejects invalid input', () => {
    const image = texturedImage(50, 50);
    const keypoints = placeFace(0, 0.3, [25, 25]);
    assert.throws(() => alignFace(image, keypoints.slice(0, 3), { size: 32 }), isInvalidArgument);
    assert.throws(() => alignFace(image, [...keypoints, [1, 1]], { size: 32 }), isInvalidArgument);
    assert.throws(() => alignFace(image, [[1, 1], [1, 1], [1, 1], [1, 1]], { size: 32 }), isInvalidArgument);
    assert.throws(() => alignFace(image, [[1, 1], [2, Number.NaN], [1, 3], [1, 4]], { size: 32 }), isInvalidArgument);
    assert.throws(() => alignFace(image, keypoints, { size: 0 }), isInvalidArgument);
    assert.throws(() => alignFace(image, keypoints, { size: 32.5 }), isInvalidArgument);
    assert.throws(() => alignFace(image, keypoints, { size: 32, margin: -1 }), isInvalidArgument);
    assert.throws(() => alignFace(image, keypoints, undefined as unknown as { size: number }), isInvalidArgument);
  });
});

describe('letterboxMatrix', () => {
  it('round trips points through tensor coordinates', () => {
    const regions = [
      { x: 0, y: 0, width: 1920, height: 1280 },
      { x: 100.5, y: 37.25, width: 300, height: 777 },
      { x: -20, y: 5, width: 64, height: 64 },
    ];
    for (const region of regions) {
      const letterbox = letterboxMatrix(region, 256);
      const points: PointPx[] = [
        [region.x, region.y],
        [region.x + region.width, region.y + region.height],
        [region.x + region.width * 0.3, region.y + region.height * 0.8],
      ];
      for (const point of points) {
        const tensorPoint = applyAffine(letterbox.matrixSrcToDst, point);
        const [x, y] = letterbox.toSource(tensorPoint);
        const message = `region ${JSON.stringify(region)}: ${point} came back as (${x}, ${y})`;
        assert.ok(Math.abs(x - point[0]) <= ROUND_TRIP_TOLERANCE_PX, message);
        assert.ok(Math.abs(y - point[1]) <= ROUND_TRIP_TOLERANCE_PX, message);
      }
      const inverse = invertAffine(letterbox.matrixDstToSrc);
      for (let i = 0; i < 6; i++) assert.ok(Math.abs(inverse[i] - letterbox.matrixSrcToDst[i]) < 1e-9, `entry ${i}`);
    }
  });

  it('centres the region with equal padding', () => {
    const letterbox = letterboxMatrix({ x: 10, y: 20, width: 200, height: 100 }, 64);
    assert.deepEqual(applyAffine(letterbox.matrixSrcToDst, [10, 20]), [0, 16]);
    assert.deepEqual(applyAffine(letterbox.matrixSrcToDst, [210, 120]), [64, 48]);
  });

  it('rejects bad regions and sizes', () => {
    assert.throws(() => letterboxMatrix({ x: 0, y: 0, width: 0, height: 10 }, 64), isInvalidArgument);
    assert.throws(() => letterboxMatrix({ x: Number.NaN, y: 0, width: 10, height: 10 }, 64), isInvalidArgument);
    assert.throws(() => letterboxMatrix({ x: 0, y: 0, width: 10, height: -1 }, 64), isInvalidArgument);
    assert.throws(() => letterboxMatrix({ x: 0, y: 0, width: 10, height: 10 }, 0), isInvalidArgument);
  });
});

describe('sampleToTensor', () => {
  const blackWhite = makeImage(2, 1, (x) => (x === 0 ? [0, 0, 0] : [255, 255, 255]));

  it('maps 0 to -1 and 255 to 1', () => {
    const tensor = sampleToTensor(blackWhite, [1, 0, 0, 0, 1, 0], 2, 1, { scale: 1 / 127.5, offset: -1 });
    assert.equal(tensor.length, 6);
    for (let ch = 0; ch < 3; ch++) {
      assert.ok(Math.abs(tensor[ch] + 1) <= FLOAT32_TOLERANCE, `black channel ${ch} is ${tensor[ch]}`);
      assert.ok(Math.abs(tensor[3 + ch] - 1) <= FLOAT32_TOLERANCE, `white channel ${ch} is ${tensor[3 + ch]}`);
    }
  });

  it('agrees with warpAffine', () => {
    const image = texturedImage(300, 200);
    const matrices: AffineMatrix[] = [
      [0.9, -0.2, 5, 0.2, 0.9, -3],
      [4.1, 0.6, 2, -0.6, 4.1, 30],
    ];
    for (const matrix of matrices) {
      const bytes = warpAffine(image, matrix, 40, 30);
      const tensor = sampleToTensor(image, matrix, 40, 30, { scale: 1, offset: 0 });
      let maxError = 0;
      for (let i = 0; i < tensor.length; i++) maxError = Math.max(maxError, Math.abs(tensor[i] - bytes.data[i]));
      assert.ok(maxError <= 0.5 + 1e-4, `matrix ${matrix.join(', ')}: max difference ${maxError} levels`);
    }
  });

  it('matches the reference without rotation', () => {
    // Axis-aligned matrices take their own loop; a hair of shear sends the same sampling
    // through the general one.
    const image = texturedImage(300, 200);
    const matrix: AffineMatrix = [1.3, 0, 4.2, 0, 1.3, -2.7];
    const sheared: AffineMatrix = [1.3, 1e-12, 4.2, 0, 1.3, -2.7];
    const options = { scale: 1, offset: 0 };
    const axisAligned = sampleToTensor(image, matrix, 180, 120, options);
    const general = sampleToTensor(image, sheared, 180, 120, options);
    const reference = referenceWarp(image, matrix, 180, 120);
    let fromReference = 0;
    let fromGeneral = 0;
    for (let i = 0; i < axisAligned.length; i++) {
      fromReference = Math.max(fromReference, Math.abs(axisAligned[i] - reference[i]));
      fromGeneral = Math.max(fromGeneral, Math.abs(axisAligned[i] - general[i]));
    }
    assert.ok(fromReference <= 1e-3, `axis-aligned loop is ${fromReference} levels from the reference`);
    assert.ok(fromGeneral <= 1e-3, `axis-aligned and general loops differ by ${fromGeneral} levels`);
  });

  it('writes into a batch at an offset', () => {
    const out = new Float32Array(2 + 2 * 1 * 3 + 2).fill(7);
    const result = sampleToTensor(blackWhite, [1, 0, 0, 0, 1, 0], 2, 1, { scale: 2, offset: 1 }, out, 2);
    assert.equal(result, out);
    assert.deepEqual([...out], [7, 7, 1, 1, 1, 511, 511, 511, 7, 7]);

    const fresh = sampleToTensor(blackWhite, [1, 0, 0, 0, 1, 0], 2, 1, { scale: 2, offset: 1 }, undefined, 4);
    assert.deepEqual([...fresh], [1, 1, 1, 511, 511, 511]);
  });

  it('pads a letterbox with the constant', () => {
    const image = texturedImage(200, 100);
    const letterbox = letterboxMatrix({ x: 0, y: 0, width: 200, height: 100 }, 64);
    const padValue = -0.5;
    const options = { scale: 1 / 255, offset: 0, fillMode: 'constant' as const, padValue };
    const tensor = sampleToTensor(image, letterbox.matrixDstToSrc, 64, 64, options);
    // Content covers tensor rows 16..47; rows above and below are padding.
    for (let v = 0; v < 64; v++) {
      for (let u = 0; u < 64; u++) {
        const value = tensor[(v * 64 + u) * 3];
        if (v < 16 || v >= 48) assert.equal(value, padValue, `pad pixel (${u}, ${v})`);
        else assert.ok(value >= 40 / 255 - 1e-6, `content pixel (${u}, ${v}) is ${value}`);
      }
    }

    const replicated = sampleToTensor(image, letterbox.matrixDstToSrc, 64, 64, { ...options, fillMode: 'replicate' });
    // Replicated padding repeats the source's edge rows: every pad row equals the outermost one.
    for (let u = 0; u < 64; u++) {
      const top = replicated[u * 3];
      const bottom = replicated[(63 * 64 + u) * 3];
      assert.notEqual(top, padValue);
      for (let v = 1; v < 16; v++) assert.equal(replicated[(v * 64 + u) * 3], top, `pad pixel (${u}, ${v})`);
      for (let v = 48; v < 63; v++) assert.equal(replicated[(v * 64 + u) * 3], bottom, `pad pixel (${u}, ${v})`);
    }
  });

  it('pads outside a tile', () => {
    const image = texturedImage(300, 300);
    const tile = { x: 100, y: 50, width: 100, height: 50 };
    const letterbox = letterboxMatrix(tile, 32);
    const tensor = sampleToTensor(image, letterbox.matrixDstToSrc, 32, 32, {
      scale: 1,
      offset: 0,
      fillMode: 'constant',
      padValue: -1,
      boundsPx: tile,
    });
    for (let v = 0; v < 32; v++) {
      const value = tensor[(v * 32 + 10) * 3];
      if (v < 8 || v >= 24) assert.equal(value, -1, `row ${v} should be padding`);
      else assert.ok(value >= 40, `row ${v} should be tile content, got ${value}`);
    }
  });

  it('halves an image into rounded 2×2 means, as the finest pyramid level does', () => {
    // The canvas is wider and taller than the halved image, so its right and lower parts are
    // padding. The half-covered last column and row (odd sides) are sampled between two halved
    // pixels, as with any other prefilter factor, and are not checked here.
    const image = texturedImage(301, 201);
    const options = { scale: 1 / 127.5, offset: -1, fillMode: 'constant' as const, padValue: -1, boundsPx: { x: 0, y: 0, width: 301, height: 201 } };
    const tensor = sampleToTensor(image, [2, 0, 0, 0, 2, 0], 160, 112, options);
    const pixel = (x: number, y: number, ch: number): number => pixelAt(image, x, y)[ch];
    for (let v = 0; v < 112; v++) {
      for (let u = 0; u < 160; u++) {
        for (let ch = 0; ch < 3; ch++) {
          const value = tensor[(v * 160 + u) * 3 + ch];
          if (u > 150 || v > 100) {
            assert.equal(value, -1, `pad pixel (${u}, ${v})`);
            continue;
          }
          if (u === 150 || v === 100) continue;
          const sum = pixel(2 * u, 2 * v, ch) + pixel(2 * u + 1, 2 * v, ch) + pixel(2 * u, 2 * v + 1, ch) + pixel(2 * u + 1, 2 * v + 1, ch);
          const expected = Math.round(sum / 4) / 127.5 - 1;
          assert.ok(Math.abs(value - expected) <= FLOAT32_TOLERANCE, `pixel (${u}, ${v}) channel ${ch} is ${value}, expected ${expected}`);
        }
      }
    }
  });

  it('halveImage repeats the edge of odd sides', () => {
    // Red is the column number × 10 and green the row number × 10; blue is constant.
    const image = makeImage(3, 3, (x, y) => [x * 10, y * 10, 7]);
    const half = halveImage(image);
    assert.equal(half.width, 2);
    assert.equal(half.height, 2);
    // Column pairs (0, 1) and (2, 2 repeated), likewise rows: means 5 and 20.
    assert.deepEqual(pixelAt(half, 0, 0), [5, 5, 7]);
    assert.deepEqual(pixelAt(half, 1, 0), [20, 5, 7]);
    assert.deepEqual(pixelAt(half, 0, 1), [5, 20, 7]);
    assert.deepEqual(pixelAt(half, 1, 1), [20, 20, 7]);
  });

  it('letterboxes a full HD frame with antialiasing', () => {
    const width = 1920;
    const height = 1280;
    const image = makeImage(width, height, (x, y) => ((x >> 2) + (y >> 2)) % 2 === 0 ? [200, 100, 50] : [100, 50, 200]);
    const letterbox = letterboxMatrix({ x: 0, y: 0, width, height }, 256);
    const tensor = sampleToTensor(image, letterbox.matrixDstToSrc, 256, 256, {
      scale: 1,
      offset: 0,
      fillMode: 'constant',
      padValue: -1,
    });
    // The 4×4-pixel squares average to (150, 75, 125) once shrunk 7.5 times. Padding is 42.67
    // rows at the top and at the bottom.
    for (const v of [60, 128, 200]) {
      for (const u of [5, 128, 250]) {
        const i = (v * 256 + u) * 3;
        assert.ok(Math.abs(tensor[i] - 150) <= 15, `pixel (${u}, ${v}) red is ${tensor[i]}`);
        assert.ok(Math.abs(tensor[i + 2] - 125) <= 15, `pixel (${u}, ${v}) blue is ${tensor[i + 2]}`);
      }
    }
    assert.equal(tensor[(10 * 256 + 128) * 3], -1);
    assert.equal(tensor[(250 * 256 + 128) * 3], -1);
  });

  it('rejects invalid options', () => {
    const identity = [1, 0, 0, 0, 1, 0];
    const valid = { scale: 1, offset: 0 };
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, { scale: Number.NaN, offset: 0 }), isInvalidArgument);
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, { scale: 1 } as typeof valid), isInvalidArgument);
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, { ...valid, fillMode: 'mirror' as 'constant' }), isInvalidArgument);
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, { ...valid, padValue: Infinity }), isInvalidArgument);
    assert.throws(
      () => sampleToTensor(blackWhite, identity, 2, 1, { ...valid, boundsPx: { x: 5, y: 5, width: 2, height: 2 } }),
      isInvalidArgument,
    );
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, valid, new Float32Array(5)), isInvalidArgument);
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, valid, new Float32Array(6), 1), isInvalidArgument);
    assert.throws(() => sampleToTensor(blackWhite, identity, 2, 1, valid, new Float32Array(6), -1), isInvalidArgument);
    assert.throws(
      () => sampleToTensor(blackWhite, identity, 2, 1, valid, new Float64Array(6) as unknown as Float32Array),
      isInvalidArgument,
    );
  });
});
