import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isFacekitError } from '../src/errors.js';
import {
  DEFAULT_TRACK_MAX_GAP,
  buildFaceTracks,
  type TrackFrameInput,
} from '../src/recognize/tracks.js';
import type { BoxPx } from '../src/types.js';

/** Absolute error allowed on sums and means of confidences. */
const CONFIDENCE_TOLERANCE = 1e-9;

interface TestFace {
  boxPx: BoxPx;
  label: string | null;
  confidence: number;
  /** Which simulated person produced the face, to check that tracks do not swap people. */
  truth: string;
}

const FPS = 5;

function box(x: number, y: number, size = 100): BoxPx {
  return { x, y, width: size, height: size };
}

function face(truth: string, boxPx: BoxPx, label: string | null = truth, confidence = 0.9): TestFace {
  return { boxPx, label, confidence, truth };
}

function framesOf(facesPerFrame: TestFace[][]): TrackFrameInput<TestFace>[] {
  return facesPerFrame.map((faces, index) => ({ timeSec: index / FPS, faces }));
}

function isInvalidArgument(error: unknown): boolean {
  return isFacekitError(error, 'ERR_INVALID_ARGUMENT');
}

describe('buildFaceTracks linking', () => {
  it('follows one moving face', () => {
    const frames = framesOf(Array.from({ length: 6 }, (_, i) => [face('ana', box(10 * i, 5 * i))]));
    const tracks = buildFaceTracks(frames);

    assert.equal(tracks.length, 1);
    assert.equal(tracks[0]!.frames.length, 6);
    assert.equal(tracks[0]!.firstSec, 0);
    assert.equal(tracks[0]!.lastSec, 5 / FPS);
    assert.deepEqual(
      tracks[0]!.frames.map((tracked) => tracked.frameIndex),
      [0, 1, 2, 3, 4, 5],
    );
  });

  it('keeps ids of two crossing faces', () => {
    // "left" moves right and "right" moves left, 20 px per frame, 40 px apart vertically.
    // Their boxes overlap most around frame 5, where the greedy IoU match must not swap them.
    const frames = framesOf(
      Array.from({ length: 11 }, (_, i) => [face('right', box(200 - 20 * i, 40), null), face('left', box(20 * i, 0), null)]),
    );
    const tracks = buildFaceTracks(frames);

    assert.equal(tracks.length, 2);
    for (const track of tracks) {
      assert.equal(track.frames.length, 11, `track ${track.trackId} should span all frames`);
      const truths = new Set(track.frames.map((tracked) => tracked.face.truth));
      assert.equal(truths.size, 1, `track ${track.trackId} mixes people: ${[...truths].join(', ')}`);
    }
    assert.notEqual(tracks[0]!.frames[0]!.face.truth, tracks[1]!.frames[0]!.face.truth);
  });

  it('bridges a gap of maxGap frames', () => {
    const present = face('ana', box(0, 0));
    const frames = framesOf([[present], ...Array.from({ length: DEFAULT_TRACK_MAX_GAP }, () => []), [present]]);
    const tracks = buildFaceTracks(frames);

    assert.equal(tracks.length, 1);
    assert.equal(tracks[0]!.frames.length, 2);
  });

  it('starts a new track after a longer gap', () => {
    const present = face('ana', box(0, 0));
    const frames = framesOf([[present], ...Array.from({ length: DEFAULT_TRACK_MAX_GAP + 1 }, () => []), [present]]);
    const tracks = buildFaceTracks(frames);

    assert.equal(tracks.length, 2);
    assert.deepEqual(
      tracks.map((track) => track.trackId),
      [0, 1],
    );
    assert.equal(tracks[1]!.firstSec, (DEFAULT_TRACK_MAX_GAP + 2) / FPS);
  });

  it('honours a custom maxGap', () => {
    const present = face('ana', box(0, 0));
    const frames = framesOf([[present], [], [present]]);

    assert.equal(buildFaceTracks(frames, { maxGap: 0 }).length, 2);
    assert.equal(buildFaceTracks(frames, { maxGap: 1 }).length, 1);
  });

  it('separates faces below the IoU threshold', () => {
    // Shifted by 60 px, two 100 px boxes have IoU 40·100 / (2·10000 − 4000) = 0.25.
    const frames = framesOf([[face('ana', box(0, 0))], [face('ana', box(60, 0))]]);

    assert.equal(buildFaceTracks(frames).length, 2);
    assert.equal(buildFaceTracks(frames, { iouThreshold: 0.2 }).length, 1);
  });

  it('gives each face of a frame its own track', () => {
    // Two faces overlap the one open track, but a track takes at most one face per frame.
    const frames = framesOf([[face('ana', box(0, 0))], [face('ana', box(10, 0)), face('ben', box(30, 0))]]);
    const tracks = buildFaceTracks(frames);

    assert.equal(tracks.length, 2);
    assert.equal(tracks[0]!.frames.at(-1)!.face.truth, 'ana');
    assert.equal(tracks[1]!.frames[0]!.face.truth, 'ben');
  });

  it('returns no tracks for no faces', () => {
    assert.deepEqual(buildFaceTracks([]), []);
    assert.deepEqual(buildFaceTracks(framesOf([[], []])), []);
  });
});

describe('buildFaceTracks voting', () => {
  it('picks label with maximum confidence sum', () => {
    // "ben" wins 3 frames to 2 but carries less total confidence (3 × 0.3 < 2 × 0.8).
    const labels: Array<[string, number]> = [
      ['ana', 0.8],
      ['ben', 0.3],
      ['ben', 0.3],
      ['ana', 0.8],
      ['ben', 0.3],
    ];
    const frames = framesOf(labels.map(([label, confidence]) => [face('ana', box(0, 0), label, confidence)]));
    const [track] = buildFaceTracks(frames);

    assert.equal(track!.label, 'ana');
    assert.ok(Math.abs(track!.confidence - 0.8) < CONFIDENCE_TOLERANCE, `mean confidence of the "ana" frames is ${track!.confidence}`);
    assert.deepEqual(
      track!.votes.map((vote) => [vote.label, vote.count]),
      [
        ['ana', 2],
        ['ben', 3],
      ],
    );
    assert.ok(Math.abs(track!.votes[0]!.weight - 1.6) < CONFIDENCE_TOLERANCE);
    assert.ok(Math.abs(track!.votes[1]!.weight - 0.9) < CONFIDENCE_TOLERANCE);
  });

  it('counts unknown as a label', () => {
    const labels: Array<[string | null, number]> = [
      [null, 0.9],
      [null, 0.9],
      ['ana', 0.6],
    ];
    const frames = framesOf(labels.map(([label, confidence]) => [face('ana', box(0, 0), label, confidence)]));
    const [track] = buildFaceTracks(frames);

    assert.equal(track!.label, null);
    assert.ok(Math.abs(track!.confidence - 0.9) < CONFIDENCE_TOLERANCE);
  });

  it('breaks equal weights by face count', () => {
    const labels: Array<[string, number]> = [
      ['ana', 0.6],
      ['ben', 0.3],
      ['ben', 0.3],
    ];
    const frames = framesOf(labels.map(([label, confidence]) => [face('x', box(0, 0), label, confidence)]));
    const [track] = buildFaceTracks(frames);

    assert.equal(track!.label, 'ben');
  });

  it('passes faces through unchanged', () => {
    const original = face('ana', box(3, 4));
    const frames = framesOf([[original]]);
    const before = structuredClone(frames);
    const [track] = buildFaceTracks(frames);

    assert.equal(track!.frames[0]!.face, original);
    assert.deepEqual(frames, before);
  });
});

describe('buildFaceTracks input checks', () => {
  it('rejects invalid options', () => {
    const frames = framesOf([[face('ana', box(0, 0))]]);
    for (const options of [{ iouThreshold: -0.1 }, { iouThreshold: 1.5 }, { iouThreshold: Number.NaN }, { maxGap: -1 }, { maxGap: 1.5 }]) {
      assert.throws(() => buildFaceTracks(frames, options), isInvalidArgument, JSON.stringify(options));
    }
  });

  it('rejects malformed frames', () => {
    const good = face('ana', box(0, 0));
    const cases: unknown[] = [
      null,
      [{ faces: [good] }],
      [{ timeSec: 0, faces: null }],
      [{ timeSec: 0, faces: [{ ...good, boxPx: { x: 0, y: 0, width: Number.NaN, height: 1 } }] }],
      [{ timeSec: 0, faces: [{ ...good, confidence: -1 }] }],
    ];
    for (const frames of cases) {
      assert.throws(() => buildFaceTracks(frames as TrackFrameInput<TestFace>[]), isInvalidArgument, JSON.stringify(frames));
    }
  });
});
