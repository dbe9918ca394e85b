/**
 * Face tracks across sampled video frames: faces in consecutive frames are linked by box
 * overlap, and each track gets one identity by a confidence-weighted vote of its faces.
 * Pure functions without I/O. The caller decides how frames were sampled and recognised.
 */

import { invalidArgument } from '../errors.js';
import { intersectionOverUnion } from '../detect/nms.js';
import type { BoxPx } from '../types.js';

/** Default `iouThreshold`: the smallest box IoU that links a face to a track. */
export const DEFAULT_TRACK_IOU_THRESHOLD = 0.3;
/** Default `maxGap`: how many consecutive frames a track may miss and still continue. */
export const DEFAULT_TRACK_MAX_GAP = 2;

/** The fields of a recognised face that tracking reads. Other fields are passed through. */
export interface TrackableFace<Label = unknown> {
  boxPx: BoxPx;
  /** Identity from the recogniser. Whatever value marks an unknown face is one more label. */
  label: Label;
  /** Recogniser confidence for `label`, a non-negative number that weights the vote. */
  confidence: number;
}

/** The faces found in one sampled frame. */
export interface TrackFrameInput<Face> {
  timeSec: number;
  faces: readonly Face[];
}

export interface TrackOptions {
  /** Smallest IoU, from 0 to 1, between a track's last box and a face's box for the face to join it. Default 0.3. */
  iouThreshold?: number;
  /**
   * Number of consecutive frames a track may be missing from and still continue, a
   * non-negative integer. Missing from more frames ends it, and a face there starts a new
   * track. Default 2.
   */
  maxGap?: number;
}

/** The total vote of one label within a track. */
export interface LabelVote<Label> {
  label: Label;
  /** Sum of the confidences of the track's faces with this label. */
  weight: number;
  /** Number of the track's faces with this label. */
  count: number;
}

/** One face of a track, with the frame it came from. */
export interface TrackedFace<Face> {
  /** Position of the frame in the input array. */
  frameIndex: number;
  timeSec: number;
  face: Face;
}

/** A face followed across frames, with one identity for the whole track. */
export interface FaceTrack<Face extends TrackableFace> {
  /** Sequential id from 0, in the order tracks start. */
  trackId: number;
  /** Winning label of the vote: the largest summed confidence. */
  label: Face['label'];
  /** Mean confidence of the track's faces that carry the winning label. */
  confidence: number;
  /** Votes per label, largest weight first. */
  votes: LabelVote<Face['label']>[];
  /** Time of the track's first face, in seconds. */
  firstSec: number;
  /** Time of the track's last face, in seconds. */
  lastSec: number;
  /** The track's faces in frame order, at most one per frame. */
  frames: TrackedFace<Face>[];
}

interface ResolvedTrackOptions {
  iouThreshold: number;
  maxGap: number;
}

interface OpenTrack<Face> {
  trackId: number;
  faces: TrackedFace<Face>[];
  lastBox: BoxPx;
  lastFrameIndex: number;
}

/**
 * Links faces across frames into tracks and labels each track by voting.
 *
 * Linking is greedy per frame. Every pair of a face and a track that is still open is
 * scored by the IoU of the face's box with the track's last box. Pairs with IoU above 0 and ≥
 * `iouThreshold` are accepted from the highest IoU down, each track and face at most once.
 * A face left over starts a new track. A track that has missed more than `maxGap`
 * consecutive frames is closed. The gap counts input frames, so include frames without
 * faces.
 *
 * Voting sums the confidences of each label's faces within a track, and the largest sum
 * wins. Ties go to the label with more faces, then to the label seen first.
 *
 * Returns the tracks in order of `trackId`. The input is not changed, and every face
 * object appears in exactly one track.
 */
export function buildFaceTracks<Face extends TrackableFace>(
  frames: readonly TrackFrameInput<Face>[],
  options: TrackOptions = {},
): FaceTrack<Face>[] {
  const { iouThreshold, maxGap } = resolveTrackOptions(options);
  validateFrames(frames);

  const open: OpenTrack<Face>[] = [];
  const closed: OpenTrack<Face>[] = [];
  let nextTrackId = 0;

  frames.forEach((frame, frameIndex) => {
    closeStaleTracks(open, closed, frameIndex, maxGap);
    const assignment = matchFacesToTracks(open, frame.faces, iouThreshold);

    frame.faces.forEach((face, faceIndex) => {
      const tracked: TrackedFace<Face> = { frameIndex, timeSec: frame.timeSec, face };
      const track = assignment.get(faceIndex);
      if (track === undefined) {
        open.push({ trackId: nextTrackId++, faces: [tracked], lastBox: face.boxPx, lastFrameIndex: frameIndex });
        return;
      }
      track.faces.push(tracked);
      track.lastBox = face.boxPx;
      track.lastFrameIndex = frameIndex;
    });
  });

  return [...closed, ...open].sort((a, b) => a.trackId - b.trackId).map(summarizeTrack);
}

function closeStaleTracks<Face>(open: OpenTrack<Face>[], closed: OpenTrack<Face>[], frameIndex: number, maxGap: number): void {
  for (let i = open.length - 1; i >= 0; i--) {
    // Frames strictly between the track's last face and this frame.
    const missedFrames = frameIndex - open[i]!.lastFrameIndex - 1;
    if (missedFrames > maxGap) closed.push(...open.splice(i, 1));
  }
}

/** Greedy matching by decreasing IoU. Returns the track of each matched face, by face index. */
function matchFacesToTracks<Face extends TrackableFace>(
  open: readonly OpenTrack<Face>[],
  faces: readonly Face[],
  iouThreshold: number,
): Map<number, OpenTrack<Face>> {
  const pairs: Array<{ iou: number; track: OpenTrack<Face>; faceIndex: number }> = [];
  for (const track of open) {
    faces.forEach((face, faceIndex) => {
      const iou = intersectionOverUnion(track.lastBox, face.boxPx);
      // IoU 0 never links, even with threshold 0, because the boxes do not touch.
      if (iou > 0 && iou >= iouThreshold) pairs.push({ iou, track, faceIndex });
    });
  }
  // Equal IoU: the older track first, then the earlier face, so the result is deterministic.
  pairs.sort((a, b) => b.iou - a.iou || a.track.trackId - b.track.trackId || a.faceIndex - b.faceIndex);

  const assignment = new Map<number, OpenTrack<Face>>();
  const usedTracks = new Set<OpenTrack<Face>>();
  for (const pair of pairs) {
    if (assignment.has(pair.faceIndex) || usedTracks.has(pair.track)) continue;
    assignment.set(pair.faceIndex, pair.track);
    usedTracks.add(pair.track);
  }
  return assignment;
}

function summarizeTrack<Face extends TrackableFace>(track: OpenTrack<Face>): FaceTrack<Face> {
  const votes = countVotes<Face['label']>(track.faces.map((tracked) => tracked.face));
  const winner = votes[0]!;
  return {
    trackId: track.trackId,
    label: winner.label,
    confidence: winner.count > 0 ? winner.weight / winner.count : 0,
    votes,
    firstSec: track.faces[0]!.timeSec,
    lastSec: track.faces.at(-1)!.timeSec,
    frames: track.faces,
  };
}

/** Sums confidences per label; labels are compared with SameValueZero, as Map keys are. */
function countVotes<Label>(faces: readonly TrackableFace<Label>[]): LabelVote<Label>[] {
  const byLabel = new Map<Label, LabelVote<Label> & { firstSeen: number }>();
  faces.forEach((face, position) => {
    const vote = byLabel.get(face.label);
    if (vote === undefined) {
      byLabel.set(face.label, { label: face.label, weight: face.confidence, count: 1, firstSeen: position });
      return;
    }
    vote.weight += face.confidence;
    vote.count += 1;
  });
  return [...byLabel.values()]
    .sort((a, b) => b.weight - a.weight || b.count - a.count || a.firstSeen - b.firstSeen)
    .map(({ label, weight, count }) => ({ label, weight, count }));
}

function resolveTrackOptions(options: unknown): ResolvedTrackOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const { iouThreshold = DEFAULT_TRACK_IOU_THRESHOLD, maxGap = DEFAULT_TRACK_MAX_GAP } = options as TrackOptions;
  if (typeof iouThreshold !== 'number' || !(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw invalidArgument('iouThreshold', 'a number from 0 to 1', iouThreshold);
  }
  if (typeof maxGap !== 'number' || !Number.isInteger(maxGap) || maxGap < 0) {
    throw invalidArgument('maxGap', 'a non-negative integer number of frames', maxGap);
  }
  return { iouThreshold, maxGap };
}

function validateFrames(frames: unknown): void {
  if (!Array.isArray(frames)) throw invalidArgument('frames', 'an array of { timeSec, faces }', frames);
  frames.forEach((frame: unknown, frameIndex) => {
    if (frame === null || typeof frame !== 'object') {
      throw invalidArgument(`frames[${frameIndex}]`, 'an object { timeSec, faces }', frame);
    }
    const { timeSec, faces } = frame as { timeSec?: unknown; faces?: unknown };
    if (typeof timeSec !== 'number' || !Number.isFinite(timeSec)) {
      throw invalidArgument(`frames[${frameIndex}].timeSec`, 'a finite number of seconds', timeSec);
    }
    if (!Array.isArray(faces)) throw invalidArgument(`frames[${frameIndex}].faces`, 'an array', faces);
    faces.forEach((face: unknown, faceIndex) => validateFace(face, `frames[${frameIndex}].faces[${faceIndex}]`));
  });
}

function validateFace(face: unknown, name: string): void {
  if (face === null || typeof face !== 'object') throw invalidArgument(name, 'an object { boxPx, label, confidence }', face);
  const { boxPx, confidence } = face as { boxPx?: unknown; confidence?: unknown };
  if (boxPx === null || typeof boxPx !== 'object') throw invalidArgument(`${name}.boxPx`, 'a box { x, y, width, height } in pixels', boxPx);
  for (const key of ['x', 'y', 'width', 'height'] as const) {
    const value = (boxPx as Record<string, unknown>)[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(`${name}.boxPx.${key}`, 'a finite number of pixels', value);
  }
  if (typeof confidence !== 'number' || !Number.isFinite(confidence) || confidence < 0) {
    throw invalidArgument(`${name}.confidence`, 'a finite non-negative number', confidence);
  }
}
