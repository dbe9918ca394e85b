/**
 * Video input through the ffmpeg and ffprobe programs: finding them, probing a video's
 * stream, and decoding sampled frames to RGB through a pipe.
 *
 * facekit runs the installed programs rather than linking the libav libraries, so any
 * ffmpeg build works. Tested with ffmpeg 5.1 (Debian 12).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { FacekitError, invalidArgument } from '../errors.js';
import type { RgbImage } from '../types.js';

/** Environment variable that overrides the path of the ffmpeg program. */
export const FFMPEG_PATH_ENV = 'FACEKIT_FFMPEG';
/** Environment variable that overrides the path of the ffprobe program. */
export const FFPROBE_PATH_ENV = 'FACEKIT_FFPROBE';

/** Default `fps` of `readFrames`: frames sampled per second of video. */
export const DEFAULT_SAMPLE_FPS = 5;

/** File name extensions, lower case, that `isVideoFile` accepts. */
export const VIDEO_EXTENSIONS: readonly string[] = Object.freeze(['.mp4', '.mov', '.webm', '.mkv', '.avi', '.m4v']);

const INSTALL_HINT =
  'Install ffmpeg, which includes ffprobe, with "apt-get install ffmpeg" (Debian, Ubuntu) or "brew install ffmpeg" (macOS), ' +
  `or set ${FFMPEG_PATH_ENV} and ${FFPROBE_PATH_ENV} to the paths of the programs.`;

/** Characters of ffmpeg's stderr kept for error messages. With `-v error` it prints little. */
const STDERR_TAIL_CHARS = 16_384;

/** Upper bound on ffprobe's JSON output, in characters. A video's streams and format take a few kilobytes. */
const PROBE_OUTPUT_LIMIT_CHARS = 4_000_000;

export interface FfmpegPaths {
  ffmpegPath: string;
  ffprobePath: string;
}

/** Clockwise rotation, in degrees, that turns the stored frames upright. */
export type VideoRotation = 0 | 90 | 180 | 270;

/** Properties of a video's first video stream. */
export interface VideoInfo {
  /** Length in seconds. Undefined for capture devices and for files whose container records none. */
  durationSec: number | undefined;
  /** Width of the upright frames in pixels: after `rotation` and with square pixels. */
  width: number;
  /** Height of the upright frames in pixels: after `rotation` and with square pixels. */
  height: number;
  /** Average frame rate of the stream in frames per second. */
  fps: number;
  /** Rotation from the container's display matrix, which ffmpeg applies while decoding. */
  rotation: VideoRotation;
  /** Always true, because a file without a video stream raises ERR_VIDEO instead. */
  hasVideo: true;
}

export interface ProbeOptions {
  /** Cancels the probe: ffprobe is killed and the call rejects with ERR_CANCELLED. */
  signal?: AbortSignal;
}

export interface ReadFramesOptions {
  /**
   * Frames per second to sample from a file, or the capture rate requested from a
   * device. Default `DEFAULT_SAMPLE_FPS` (5).
   */
  fps?: number;
  /** Largest width of the returned frames in pixels. Wider videos are scaled down, keeping the aspect ratio. Default: no limit. */
  maxWidth?: number;
  /** Stops reading: ffmpeg is killed and the iteration throws ERR_CANCELLED. */
  signal?: AbortSignal;
}

/** One decoded frame. */
export interface VideoFrame {
  /** Position among the returned frames, from 0. */
  index: number;
  /** Time of the frame in seconds from the first decoded frame: `index / fps`. */
  timeSec: number;
  /** Upright RGB pixels. */
  image: RgbImage;
}

type SourceKind = 'file' | 'device';

interface ResolvedReadFramesOptions {
  fps: number;
  maxWidth: number | undefined;
  signal: AbortSignal | undefined;
}

interface FrameSize {
  width: number;
  height: number;
}

/**
 * Finds the ffmpeg and ffprobe programs. `FACEKIT_FFMPEG` and `FACEKIT_FFPROBE` override
 * the search. Otherwise ffprobe is looked for next to ffmpeg first, so that both come from
 * the same installation, and then on the PATH.
 *
 * @throws FacekitError ERR_FFMPEG_MISSING, with installation instructions, when a program
 *   is not found or an override does not point at an executable file.
 */
export async function findFfmpeg(): Promise<FfmpegPaths> {
  const ffmpegPath = await findProgram('ffmpeg', FFMPEG_PATH_ENV, []);
  const ffprobePath = await findProgram('ffprobe', FFPROBE_PATH_ENV, [path.dirname(ffmpegPath)]);
  return { ffmpegPath, ffprobePath };
}

async function findProgram(name: string, envVariable: string, preferredDirs: string[]): Promise<string> {
  const override = process.env[envVariable];
  if (override !== undefined && override !== '') {
    if (await isExecutableFile(override)) return path.resolve(override);
    throw new FacekitError(
      'ERR_FFMPEG_MISSING',
      `${name} not found: ${envVariable} is set to "${override}", which is not an executable file. ${INSTALL_HINT}`,
      { path: override },
    );
  }

  const searchDirs = [...preferredDirs, ...(process.env.PATH ?? '').split(path.delimiter)].filter((dir) => dir !== '');
  for (const dir of searchDirs) {
    for (const fileName of executableNames(name)) {
      const candidate = path.join(dir, fileName);
      if (await isExecutableFile(candidate)) return path.resolve(candidate);
    }
  }
  throw new FacekitError('ERR_FFMPEG_MISSING', `${name} was not found on the PATH, and facekit needs it to read video. ${INSTALL_HINT}`);
}

/** File names a program can have: the bare name, plus the PATHEXT extensions on Windows. */
function executableNames(name: string): string[] {
  if (process.platform !== 'win32') return [name];
  const extensions = (process.env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter((extension) => extension !== '');
  return [name, ...extensions.map((extension) => name + extension.toLowerCase())];
}

async function isExecutableFile(filePath: string): Promise<boolean> {
  try {
    const stats = await stat(filePath);
    if (!stats.isFile()) return false;
    await access(filePath, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns whether the path ends in a video file extension (`VIDEO_EXTENSIONS`, any case). Does not read the file. */
export function isVideoFile(filePath: string): boolean {
  if (typeof filePath !== 'string') throw invalidArgument('filePath', 'a string', filePath);
  return VIDEO_EXTENSIONS.includes(path.extname(filePath).toLowerCase());
}

/**
 * Reads the duration, upright frame size, frame rate and rotation of the first video
 * stream of a file, or of a V4L2 capture device such as `/dev/video0` on Linux.
 *
 * @throws FacekitError ERR_VIDEO when the file has no video stream, is damaged or is not a
 *   video. The message then contains ffprobe's last error line.
 * @throws FacekitError ERR_FILE_NOT_FOUND, ERR_EMPTY_FILE, ERR_FFMPEG_MISSING,
 *   ERR_UNSUPPORTED (a device outside Linux), ERR_CANCELLED or ERR_INVALID_ARGUMENT.
 */
export async function probeVideo(source: string, options: ProbeOptions = {}): Promise<VideoInfo> {
  validateSource(source);
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object or undefined', options);
  const signal = validateSignal(options.signal);

  const kind = await classifySource(source);
  const paths = await findFfmpeg();
  const probed = await probeSource(paths.ffprobePath, source, kind, undefined, signal);
  return probed.info;
}

/**
 * Decodes a video file or a V4L2 capture device (Linux) into upright RGB frames.
 *
 * From a file, ffmpeg samples `fps` frames per second of video. From a device, `fps` is
 * the capture rate and the frames continue until the caller stops. The frames follow the
 * rotation metadata and are square-pixel. Stopping early (`break`, `return`, or aborting
 * `signal`) kills ffmpeg and waits for it to exit.
 *
 * Options are checked when this is called. Everything else is reported by the iteration:
 * ERR_FILE_NOT_FOUND, ERR_EMPTY_FILE, ERR_FFMPEG_MISSING, ERR_UNSUPPORTED, ERR_CANCELLED,
 * and ERR_VIDEO when the video cannot be read. A file that fails part way, such as a
 * truncated download, yields the frames that decoded and then throws ERR_VIDEO.
 */
export function readFrames(source: string, options: ReadFramesOptions = {}): AsyncGenerator<VideoFrame, void, undefined> {
  validateSource(source);
  return generateFrames(source, resolveReadFramesOptions(options));
}

function resolveReadFramesOptions(options: unknown): ResolvedReadFramesOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const { fps = DEFAULT_SAMPLE_FPS, maxWidth, signal } = options as ReadFramesOptions;
  if (typeof fps !== 'number' || !Number.isFinite(fps) || fps <= 0) {
    throw invalidArgument('fps', 'a positive number of frames per second', fps);
  }
  if (maxWidth !== undefined && (typeof maxWidth !== 'number' || !Number.isInteger(maxWidth) || maxWidth < 1)) {
    throw invalidArgument('maxWidth', 'a positive integer number of pixels or undefined', maxWidth);
  }
  return { fps, maxWidth, signal: validateSignal(signal) };
}

function validateSource(source: unknown): void {
  if (typeof source !== 'string' || source.length === 0) {
    throw invalidArgument('source', 'a video file path or a capture device path such as /dev/video0', source);
  }
}

function validateSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('signal', 'an AbortSignal or undefined', signal);
  return signal;
}

async function* generateFrames(source: string, options: ResolvedReadFramesOptions): AsyncGenerator<VideoFrame, void, undefined> {
  const { signal } = options;
  throwIfAborted(signal, source);
  const kind = await classifySource(source);
  const paths = await findFfmpeg();
  const { info, streamIndex } = await probeSource(paths.ffprobePath, source, kind, options.fps, signal);
  const size = outputSize(info, options.maxWidth);
  // A device may not support the requested rate, and then its driver picks another one.
  // ffprobe reports the rate in effect.
  const frameRate = kind === 'device' ? info.fps : options.fps;

  throwIfAborted(signal, source);
  const child = spawn(paths.ffmpegPath, buildDecodeArguments(source, kind, streamIndex, options.fps, size), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const watched = watchProcess(child);
  const killOnAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', killOnAbort, { once: true });

  let index = 0;
  try {
    const frameBytes = size.width * size.height * 3;
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    // Async iteration pauses the pipe while the caller works on a frame, so ffmpeg blocks
    // instead of filling memory.
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const count = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + count), filled);
        filled += count;
        offset += count;
        if (filled === frameBytes) {
          yield { index, timeSec: index / frameRate, image: { data: frame, width: size.width, height: size.height } };
          index++;
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }

    const exit = await watched.exited;
    throwIfAborted(signal, source);
    if (exit.error !== undefined || exit.code !== 0) {
      throw new FacekitError(
        'ERR_VIDEO',
        `Video decoding failed after ${index} frames: ${source} (ffmpeg: ${describeExit(exit, watched.stderrTail())}). ` +
          'The file may be truncated or damaged. Download or export it again, or re-encode it.',
        { path: source, cause: exit.error },
      );
    }
    if (filled !== 0) {
      throw new FacekitError(
        'ERR_VIDEO',
        `Video decoding ended inside a frame after ${index} frames: ${source} (${filled} of ${frameBytes} bytes). Re-encode the file.`,
        { path: source },
      );
    }
  } finally {
    signal?.removeEventListener('abort', killOnAbort);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // Waiting for the exit lets Node reap the process, so none is left as a zombie.
    await watched.exited;
  }
}

/**
 * Size of the returned frames: the upright size from the probe, scaled down to `maxWidth`.
 * The decode command scales to exactly this size, so every frame has this many bytes.
 */
function outputSize(info: VideoInfo, maxWidth: number | undefined): FrameSize {
  if (maxWidth === undefined || info.width <= maxWidth) return { width: info.width, height: info.height };
  return { width: maxWidth, height: Math.max(1, Math.round((info.height * maxWidth) / info.width)) };
}

function buildDecodeArguments(source: string, kind: SourceKind, streamIndex: number, fps: number, size: FrameSize): string[] {
  const scale = `scale=${size.width}:${size.height},setsar=1`;
  // The probed stream by its absolute index, because `0:v:0` may be cover art.
  const map = ['-map', `0:${streamIndex}`];
  if (kind === 'device') {
    // NOTE: the V4L2 path (here and in probeSource) is untested, because the tests run
    // without a capture device.
    return [
      ...['-nostdin', '-hide_banner', '-loglevel', 'error'],
      ...['-f', 'v4l2', '-framerate', String(fps), '-i', source],
      ...[...map, '-vf', scale, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    ];
  }
  // -xerror stops at the first decoding error and makes ffmpeg exit with a non-zero code.
  // Without it, ffmpeg 5.1 decodes a truncated MP4 as far as it can and exits with 0.
  // ffmpeg rotates frames by the display matrix itself (autorotate is on by default) before
  // the -vf filters run, so `size` is the upright size.
  // round=up makes output frame i the last input frame at or before i / fps, the one on
  // screen at `timeSec`. The default, round=near, takes a frame up to half a sampling
  // interval later.
  return [
    ...['-nostdin', '-hide_banner', '-loglevel', 'error', '-xerror'],
    ...['-i', source],
    ...[...map, '-vf', `fps=${fps}:round=up,${scale}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
  ];
}

// ---------------------------------------------------------------------------------------
// Sources and probing

/** Checks that the source exists and returns whether it is a file or a capture device. */
async function classifySource(source: string): Promise<SourceKind> {
  let stats: Stats;
  try {
    stats = await stat(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new FacekitError('ERR_FILE_NOT_FOUND', `Video file not found: ${source}. Check the path and that the file exists.`, {
        path: source,
        cause: error,
      });
    }
    throw new FacekitError('ERR_VIDEO', `Video file cannot be read (${code ?? 'unknown error'}): ${source}. Check the read permission.`, {
      path: source,
      cause: error,
    });
  }

  if (stats.isCharacterDevice()) {
    if (process.platform !== 'linux') {
      throw new FacekitError('ERR_UNSUPPORTED', `Capture devices are supported on Linux (V4L2) only: ${source}. Pass a video file.`, {
        path: source,
      });
    }
    return 'device';
  }
  if (!stats.isFile()) {
    throw new FacekitError('ERR_VIDEO', `Not a video file: ${source} is a folder or special file. Pass the path of a video file.`, {
      path: source,
    });
  }
  if (stats.size === 0) {
    throw new FacekitError('ERR_EMPTY_FILE', `Video file is empty (0 bytes): ${source}. Download or export the video again.`, {
      path: source,
    });
  }
  return 'file';
}

/** The subset of ffprobe's `-show_streams -show_format` JSON that is read here. */
interface ProbeJson {
  streams?: Array<{
    index?: number;
    codec_type?: string;
    width?: number;
    height?: number;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    sample_aspect_ratio?: string;
    duration?: string;
    disposition?: { attached_pic?: number };
    side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
  }>;
  format?: { duration?: string };
}

type ProbeStream = NonNullable<ProbeJson['streams']>[number];

async function probeSource(
  ffprobePath: string,
  source: string,
  kind: SourceKind,
  deviceFps: number | undefined,
  signal: AbortSignal | undefined,
): Promise<{ info: VideoInfo; streamIndex: number }> {
  const deviceArguments = kind === 'device' ? ['-f', 'v4l2', ...(deviceFps === undefined ? [] : ['-framerate', String(deviceFps)])] : [];
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...deviceArguments, source];
  const result = await runProgram(ffprobePath, args, signal, source);

  if (result.exit.error !== undefined || result.exit.code !== 0) {
    throw new FacekitError(
      'ERR_VIDEO',
      `Cannot read video: ${source} (ffprobe: ${describeExit(result.exit, result.stderr)}). Check that the file is a complete video.`,
      { path: source, cause: result.exit.error },
    );
  }

  let parsed: ProbeJson;
  try {
    parsed = JSON.parse(result.stdout) as ProbeJson;
  } catch (error) {
    throw new FacekitError('ERR_VIDEO', `Cannot read video: ${source} (ffprobe printed invalid JSON).`, { path: source, cause: error });
  }

  // Cover art in audio files is a video stream marked as an attached picture.
  const stream = parsed.streams?.find((candidate) => candidate.codec_type === 'video' && candidate.disposition?.attached_pic !== 1);
  if (stream === undefined) {
    throw new FacekitError('ERR_VIDEO', `Video file has no video stream: ${source}. Pass a file that contains video, not only audio.`, {
      path: source,
    });
  }
  const info = videoInfoFromStream(stream, kind === 'device' ? undefined : parsed.format?.duration, source);
  return { info, streamIndex: typeof stream.index === 'number' ? stream.index : 0 };
}

function videoInfoFromStream(stream: ProbeStream, formatDuration: string | undefined, source: string): VideoInfo {
  const { width, height } = stream;
  if (typeof width !== 'number' || typeof height !== 'number' || width < 1 || height < 1) {
    throw new FacekitError('ERR_VIDEO', `Video stream has no frame size: ${source}. The file may be damaged; re-encode it.`, {
      path: source,
    });
  }
  const fps = parseRational(stream.avg_frame_rate) ?? parseRational(stream.r_frame_rate);
  if (fps === undefined) {
    throw new FacekitError('ERR_VIDEO', `Video stream has no frame rate: ${source}. The file may be damaged; re-encode it.`, {
      path: source,
    });
  }

  // Pixels that are not square are stretched to square, because the decode command
  // scales to this size and then sets the sample aspect ratio to 1.
  const pixelAspect = parseRational(stream.sample_aspect_ratio?.replace(':', '/')) ?? 1;
  const squareWidth = Math.max(1, Math.round(width * pixelAspect));
  const rotation = rotationOf(stream);
  const turned = rotation === 90 || rotation === 270;

  return {
    durationSec: parsePositive(formatDuration) ?? parsePositive(stream.duration),
    width: turned ? height : squareWidth,
    height: turned ? squareWidth : height,
    fps,
    rotation,
    hasVideo: true,
  };
}

/**
 * Computes the clockwise rotation that ffmpeg applies while decoding. ffprobe prints the
 * display matrix angle counter-clockwise (libavutil `av_display_rotation_get`), and ffmpeg
 * turns frames by its negative (`get_rotation` in fftools/cmdutils.c), so a stream
 * without a display matrix is not turned.
 */
function rotationOf(stream: ProbeStream): VideoRotation {
  const displayMatrix = stream.side_data_list?.find((data) => data.side_data_type === 'Display Matrix' && typeof data.rotation === 'number');
  const clockwiseDegrees = displayMatrix !== undefined ? -(displayMatrix.rotation as number) : 0;
  // NOTE: ffmpeg turns an angle that is not a multiple of 90 inside the original frame
  // size, so the chosen size would not match the content. Such files are rare.
  const quarterTurns = Number.isFinite(clockwiseDegrees) ? Math.round(clockwiseDegrees / 90) : 0;
  return ((((quarterTurns % 4) + 4) % 4) * 90) as VideoRotation;
}

/** Parses "30000/1001" or "25"; undefined for "0/0", zero, negative or malformed values. */
function parseRational(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const [numerator, denominator = '1'] = text.split('/');
  const value = Number(numerator) / Number(denominator);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function parsePositive(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

// ---------------------------------------------------------------------------------------
// Child processes

interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started. */
  error?: Error;
}

interface WatchedProcess {
  /** Resolves once the process has exited and its pipes are closed. Never rejects. */
  exited: Promise<ProcessExit>;
  stderrTail(): string;
}

function watchProcess(child: ChildProcess): WatchedProcess {
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { exited, stderrTail: () => stderr };
}

/** Runs a program such as ffprobe to completion and collects its output. */
async function runProgram(
  program: string,
  args: string[],
  signal: AbortSignal | undefined,
  source: string,
): Promise<{ exit: ProcessExit; stdout: string; stderr: string }> {
  throwIfAborted(signal, source);
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchProcess(child);
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    stdout += text;
    if (stdout.length > PROBE_OUTPUT_LIMIT_CHARS) child.kill('SIGKILL');
  });
  const killOnAbort = (): void => {
    child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', killOnAbort, { once: true });
  try {
    const exit = await watched.exited;
    throwIfAborted(signal, source);
    return { exit, stdout, stderr: watched.stderrTail() };
  } finally {
    signal?.removeEventListener('abort', killOnAbort);
  }
}

/** Describes why a program failed: its last stderr line, else its exit code or signal. */
function describeExit(exit: ProcessExit, stderr: string): string {
  if (exit.error !== undefined) return `could not be started: ${exit.error.message}`;
  const lines = stderr.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  const lastLine = lines.at(-1);
  if (lastLine !== undefined) return lastLine;
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function throwIfAborted(signal: AbortSignal | undefined, source: string): void {
  if (signal?.aborted) {
    throw new FacekitError('ERR_CANCELLED', `Reading video was cancelled: ${source}`, { path: source, cause: signal.reason });
  }
}
