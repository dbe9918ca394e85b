import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  ROTATED_FRAME_COUNT,
  ROTATED_UPRIGHT_HEIGHT,
  ROTATED_UPRIGHT_WIDTH,
  VIDEO_FPS,
  VIDEO_FRAME_COUNT,
  VIDEO_HEIGHT,
  VIDEO_WIDTH,
  createSourceFrameRenderer,
  ensureTestVideo,
  segmentAt,
  type SourceFrameRenderer,
  type TestVideo,
} from '../scripts/make-test-video.js';
import { isFacekitError, type ErrorCode } from '../src/errors.js';
import type { RgbImage } from '../src/types.js';
import {
  FFMPEG_PATH_ENV,
  FFPROBE_PATH_ENV,
  findFfmpeg,
  isVideoFile,
  probeVideo,
  readFrames,
  type VideoFrame,
} from '../src/video/ffmpeg.js';

/**
 * Mean absolute difference, in 8-bit levels over all RGB bytes, allowed between a decoded
 * 640×480 frame and the source frame on screen at its time (libx264 CRF 18, 4:2:0 chroma,
 * ffmpeg 5.1). The matching frame measures 1.3 to 1.7. Its neighbour one frame (1/15 s)
 * earlier or later measures 3.2 to 6.2 in the moving segments, so this also catches a
 * timing error of one frame.
 */
const DECODE_MEAN_TOLERANCE = 2.5;
/** As DECODE_MEAN_TOLERANCE, for the 120×160 rotated clip, whose small frames compress worse (measures 2.2). */
const ROTATED_MEAN_TOLERANCE = 4;
/** Smallest mean absolute difference, in 8-bit levels, that shows the gblur segment was blurred (measures 8.0). */
const BLUR_MIN_MEAN_DIFFERENCE = 5;
/** Frames of slack when comparing a frame count with duration × fps. */
const FRAME_COUNT_TOLERANCE = 1;
/** Seconds of slack on the probed duration: one frame at the fixture's frame rate. */
const DURATION_TOLERANCE_SEC = 1 / VIDEO_FPS;

const SAMPLE_FPS = 5;

const ffmpegInstalled = await findFfmpeg().then(
  () => true,
  () => false,
);
const needsFfmpeg = ffmpegInstalled ? false : 'ffmpeg is not installed (apt-get install ffmpeg)';
const needsProc = process.platform === 'linux' ? false : 'reads child processes from /proc (Linux only)';

let video: TestVideo;
let renderer: SourceFrameRenderer;
let tempDir: string;

before(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), 'facekit-video-'));
  if (!ffmpegInstalled) return;
  video = await ensureTestVideo();
  renderer = createSourceFrameRenderer();
});

after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

function hasCode(code: ErrorCode, messagePattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isFacekitError(error), `expected a FacekitError, got ${String(error)}`);
    assert.equal(error.code, code, `wrong code for: ${error.message}`);
    if (messagePattern !== undefined) assert.match(error.message, messagePattern);
    return true;
  };
}

function meanAbsoluteDifference(a: RgbImage, b: RgbImage): number {
  assert.equal(a.width, b.width, 'image widths differ');
  assert.equal(a.height, b.height, 'image heights differ');
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}

async function collectFrames(source: string, options?: Parameters<typeof readFrames>[1]): Promise<VideoFrame[]> {
  const frames: VideoFrame[] = [];
  for await (const frame of readFrames(source, options)) frames.push(frame);
  return frames;
}

/** Processes named `name` whose parent is this process, including zombies, from /proc. */
async function childProcesses(name: string): Promise<Array<{ pid: number; state: string }>> {
  const children: Array<{ pid: number; state: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // The process exited while the folder was listed.
    }
    // Format: "pid (comm) state ppid ...". comm may contain spaces and parentheses.
    const commEnd = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, commEnd);
    const [state, ppid] = stat.slice(commEnd + 2).split(' ');
    if (comm === name && Number(ppid) === process.pid) children.push({ pid: Number(entry), state: state! });
  }
  return children;
}

async function withEnvironment<T>(changes: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(changes).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(changes);
  try {
    return await run();
  } finally {
    apply(saved);
  }
}

describe('isVideoFile', () => {
  it('accepts video extensions in any case', () => {
    for (const file of ['a.mp4', 'b.MOV', 'c.webm', 'd.mkv', 'e.avi', 'f.m4v', '/x/y/clip.Mp4']) {
      assert.equal(isVideoFile(file), true, file);
    }
  });

  it('rejects other names', () => {
    for (const file of ['a.jpg', 'b.mp3', 'mp4', 'c.mp4.txt', '', '/dev/video0']) {
      assert.equal(isVideoFile(file), false, file);
    }
  });
});

describe('findFfmpeg', () => {
  it('finds both programs on the PATH', { skip: needsFfmpeg }, async () => {
    const paths = await withEnvironment({ [FFMPEG_PATH_ENV]: undefined, [FFPROBE_PATH_ENV]: undefined }, findFfmpeg);

    assert.ok(path.isAbsolute(paths.ffmpegPath), paths.ffmpegPath);
    assert.ok(path.isAbsolute(paths.ffprobePath), paths.ffprobePath);
    assert.match(path.basename(paths.ffmpegPath), /^ffmpeg/);
    assert.match(path.basename(paths.ffprobePath), /^ffprobe/);
  });

  it('rejects FACEKIT_FFMPEG naming a missing binary', async () => {
    const missing = path.join(tempDir, 'no-such-ffmpeg');
    const installHint = /apt-get install ffmpeg.*brew install ffmpeg.*FACEKIT_FFMPEG/;
    await withEnvironment({ [FFMPEG_PATH_ENV]: missing }, async () => {
      await assert.rejects(findFfmpeg(), hasCode('ERR_FFMPEG_MISSING', installHint));
      await assert.rejects(findFfmpeg(), hasCode('ERR_FFMPEG_MISSING', new RegExp(missing)));
    });
  });

  it('reports ffmpeg missing from an empty PATH', async () => {
    await withEnvironment({ [FFMPEG_PATH_ENV]: undefined, [FFPROBE_PATH_ENV]: undefined, PATH: '' }, async () => {
      await assert.rejects(findFfmpeg(), hasCode('ERR_FFMPEG_MISSING', /not found on the PATH/));
    });
  });

  it('makes video calls fail without ffmpeg', { skip: needsFfmpeg }, async () => {
    await withEnvironment({ [FFMPEG_PATH_ENV]: path.join(tempDir, 'no-such-ffmpeg') }, async () => {
      await assert.rejects(probeVideo(video.paths.mp4), hasCode('ERR_FFMPEG_MISSING'));
      await assert.rejects(collectFrames(video.paths.mp4), hasCode('ERR_FFMPEG_MISSING'));
    });
  });
});

describe('probeVideo', { skip: needsFfmpeg }, () => {
  it('reads the MP4 fixture', async () => {
    const info = await probeVideo(video.paths.mp4);

    assert.equal(info.width, VIDEO_WIDTH);
    assert.equal(info.height, VIDEO_HEIGHT);
    assert.equal(info.fps, VIDEO_FPS);
    assert.equal(info.rotation, 0);
    assert.equal(info.hasVideo, true);
    assert.ok(info.durationSec !== undefined, 'duration is missing');
    assert.ok(
      Math.abs(info.durationSec - VIDEO_FRAME_COUNT / VIDEO_FPS) <= DURATION_TOLERANCE_SEC,
      `duration ${info.durationSec} s, expected ${VIDEO_FRAME_COUNT / VIDEO_FPS} s`,
    );
  });

  it('reads the Y4M fixture', async () => {
    const info = await probeVideo(video.paths.y4m);

    assert.equal(info.width, VIDEO_WIDTH);
    assert.equal(info.height, VIDEO_HEIGHT);
    assert.equal(info.fps, VIDEO_FPS);
  });

  it('reports the upright size of a rotated video', async () => {
    const info = await probeVideo(video.paths.rotated);

    assert.equal(info.rotation, 270);
    assert.equal(info.width, ROTATED_UPRIGHT_WIDTH);
    assert.equal(info.height, ROTATED_UPRIGHT_HEIGHT);
  });

  it('rejects an audio-only file', async () => {
    await assert.rejects(probeVideo(video.paths.audioOnly), hasCode('ERR_VIDEO', /has no video stream/));
    await assert.rejects(probeVideo(video.paths.audioOnly), (error: unknown) => {
      assert.ok(isFacekitError(error));
      assert.ok(error.message.includes(video.paths.audioOnly), error.message);
      assert.equal(error.path, video.paths.audioOnly);
      return true;
    });
  });

  it('rejects a file that is not a video', async () => {
    const textFile = path.join(tempDir, 'notes.mp4');
    await writeFile(textFile, 'not a video, only text\n');

    await assert.rejects(probeVideo(textFile), hasCode('ERR_VIDEO', /Invalid data found when processing input/));
    await assert.rejects(probeVideo(textFile), hasCode('ERR_VIDEO', new RegExp(textFile)));
  });

  it('rejects a missing file', async () => {
    await assert.rejects(probeVideo(path.join(tempDir, 'missing.mp4')), hasCode('ERR_FILE_NOT_FOUND'));
  });

  it('rejects an empty file', async () => {
    const emptyFile = path.join(tempDir, 'empty.mp4');
    await writeFile(emptyFile, '');

    await assert.rejects(probeVideo(emptyFile), hasCode('ERR_EMPTY_FILE'));
  });

  it('rejects a folder', async () => {
    await assert.rejects(probeVideo(tempDir), hasCode('ERR_VIDEO', /folder/));
  });
});

describe('readFrames', { skip: needsFfmpeg }, () => {
  it('samples 5 fps over the duration', async () => {
    const info = await probeVideo(video.paths.mp4);
    const frames = await collectFrames(video.paths.mp4, { fps: SAMPLE_FPS });
    const expected = info.durationSec! * SAMPLE_FPS;

    assert.ok(Math.abs(frames.length - expected) <= FRAME_COUNT_TOLERANCE, `${frames.length} frames, expected ${expected} ± 1`);
    frames.forEach((frame, index) => {
      assert.equal(frame.index, index);
      assert.equal(frame.timeSec, index / SAMPLE_FPS);
      assert.equal(frame.image.width, VIDEO_WIDTH);
      assert.equal(frame.image.height, VIDEO_HEIGHT);
      assert.equal(frame.image.data.length, VIDEO_WIDTH * VIDEO_HEIGHT * 3);
    });
  });

  it('decodes frames close to their source', async () => {
    const frames = await collectFrames(video.paths.mp4, { fps: SAMPLE_FPS });
    const checkedSegments = new Set<string>();

    for (const frame of frames) {
      const segment = segmentAt(frame.timeSec);
      assert.ok(segment !== undefined, `frame ${frame.index} at ${frame.timeSec} s is past the last segment`);
      const source = await renderer.renderFrame(Math.round(frame.timeSec * VIDEO_FPS));
      const difference = meanAbsoluteDifference(frame.image, source);
      const where = `frame ${frame.index} (${frame.timeSec} s, segment "${segment.name}")`;

      if (segment.blurSigma === null) {
        assert.ok(difference <= DECODE_MEAN_TOLERANCE, `${where} differs from its source by ${difference.toFixed(2)} levels`);
      } else {
        assert.ok(difference >= BLUR_MIN_MEAN_DIFFERENCE, `${where} is not blurred: mean difference ${difference.toFixed(2)} levels`);
      }
      checkedSegments.add(segment.name);
    }
    assert.deepEqual([...checkedSegments], ['moving', 'still', 'no-face', 'blurred', 'second-person']);
  });

  it('records segments that cover the video', async () => {
    const manifest = JSON.parse(await readFile(path.join(video.dir, 'video.json'), 'utf8')) as TestVideo['manifest'];
    let expectedStart = 0;
    for (const segment of manifest.segments) {
      assert.equal(segment.startSec, expectedStart, `segment "${segment.name}" does not start where the previous one ended`);
      expectedStart = segment.endSec;
    }
    assert.equal(expectedStart, manifest.durationSec);
    assert.equal(manifest.frameCount, VIDEO_FRAME_COUNT);
  });

  it('scales frames down to maxWidth', async () => {
    for await (const frame of readFrames(video.paths.mp4, { maxWidth: 320 })) {
      assert.equal(frame.image.width, 320);
      assert.equal(frame.image.height, 240);
      assert.equal(frame.image.data.length, 320 * 240 * 3);
      break;
    }
  });

  it('turns rotated frames upright', async () => {
    const frames = await collectFrames(video.paths.rotated, { fps: SAMPLE_FPS });
    const upright = await renderer.renderRotatedUpright();
    const expectedCount = (ROTATED_FRAME_COUNT / VIDEO_FPS) * SAMPLE_FPS;

    assert.ok(Math.abs(frames.length - expectedCount) <= FRAME_COUNT_TOLERANCE, `${frames.length} frames, expected ${expectedCount} ± 1`);
    for (const frame of frames) {
      assert.equal(frame.image.width, ROTATED_UPRIGHT_WIDTH);
      assert.equal(frame.image.height, ROTATED_UPRIGHT_HEIGHT);
      const difference = meanAbsoluteDifference(frame.image, upright);
      assert.ok(difference <= ROTATED_MEAN_TOLERANCE, `frame ${frame.index} differs from the upright source by ${difference.toFixed(2)} levels`);
    }
  });

  it('reads the Y4M variant', async () => {
    for await (const frame of readFrames(video.paths.y4m)) {
      const difference = meanAbsoluteDifference(frame.image, await renderer.renderFrame(0));
      assert.ok(difference <= DECODE_MEAN_TOLERANCE, `first Y4M frame differs from its source by ${difference.toFixed(2)} levels`);
      break;
    }
  });

  it('kills ffmpeg on early break', { skip: needsProc }, async () => {
    let childrenWhileReading: Array<{ pid: number; state: string }> = [];
    for await (const frame of readFrames(video.paths.mp4)) {
      assert.equal(frame.index, 0);
      childrenWhileReading = await childProcesses('ffmpeg');
      break;
    }

    assert.equal(childrenWhileReading.length, 1, 'ffmpeg should run while frames are read');
    assert.deepEqual(await childProcesses('ffmpeg'), [], 'ffmpeg is still running or left a zombie after break');
  });

  it('cancels with an AbortSignal', { skip: needsProc }, async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const frame of readFrames(video.paths.mp4, { signal: controller.signal })) {
        seen.push(frame.index);
        if (frame.index === 1) controller.abort();
      }
    }, hasCode('ERR_CANCELLED'));

    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(await childProcesses('ffmpeg'), [], 'ffmpeg is still running or left a zombie after abort');
  });

  it('rejects an already aborted signal', async () => {
    await assert.rejects(collectFrames(video.paths.mp4, { signal: AbortSignal.abort() }), hasCode('ERR_CANCELLED'));
  });

  it('reports a truncated file after its frames', async () => {
    const frames: VideoFrame[] = [];
    await assert.rejects(async () => {
      for await (const frame of readFrames(video.paths.truncated, { fps: SAMPLE_FPS })) frames.push(frame);
    }, hasCode('ERR_VIDEO', /after \d+ frames/));

    const fullCount = (VIDEO_FRAME_COUNT / VIDEO_FPS) * SAMPLE_FPS;
    assert.ok(frames.length > 0, 'no frame decoded before the error');
    assert.ok(frames.length < fullCount, `${frames.length} frames from a truncated file, as many as the full video`);
  });

  it('rejects an audio-only file', async () => {
    await assert.rejects(collectFrames(video.paths.audioOnly), hasCode('ERR_VIDEO', /has no video stream/));
  });

  it('rejects a missing file', async () => {
    await assert.rejects(collectFrames(path.join(tempDir, 'missing.mp4')), hasCode('ERR_FILE_NOT_FOUND'));
  });

  it('rejects invalid arguments when called', () => {
    const cases: Array<[string, unknown]> = [
      ['', {}],
      [video.paths.mp4, { fps: 0 }],
      [video.paths.mp4, { fps: -5 }],
      [video.paths.mp4, { fps: Number.NaN }],
      [video.paths.mp4, { fps: '5' }],
      [video.paths.mp4, { maxWidth: 0 }],
      [video.paths.mp4, { maxWidth: 12.5 }],
      [video.paths.mp4, { signal: {} }],
      [video.paths.mp4, null],
    ];
    for (const [source, options] of cases) {
      assert.throws(
        () => readFrames(source, options as Parameters<typeof readFrames>[1]),
        hasCode('ERR_INVALID_ARGUMENT'),
        `${JSON.stringify(source)} ${JSON.stringify(options)}`,
      );
    }
  });
});
