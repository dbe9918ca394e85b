/** `facekit recognize`: name the people in photos, folders and videos with a trained model. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DETECTOR_OPTIONS } from '../../detect/detector.js';
import { FacekitError, isFacekitError } from '../../errors.js';
import { MARK_COLORS, annotateImage } from '../../image/annotate.js';
import { type RecognitionResult, type RecognizedFace, type Recognizer, createRecognizer } from '../../recognize/recognizer.js';
import { type FaceTrack, buildFaceTracks } from '../../recognize/tracks.js';
import type { RgbImage } from '../../types.js';
import { DEFAULT_SAMPLE_FPS, readFrames } from '../../video/ffmpeg.js';
import { EXIT } from '../exit-codes.js';
import { consecutiveRuns, expandInputs, outputName } from '../inputs.js';
import { openOutputFile, prepareOutputFolder } from '../output-paths.js';
import { parseInteger, parseNumber } from '../options.js';
import { Output } from '../output.js';

interface RecognizeFlags {
  model: string;
  out?: string;
  json?: boolean;
  csv?: string;
  threshold?: number;
  topK: number;
  fps: number;
  minFaceSize: number;
  tiling: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('recognize')
    .description('Name the people in photos, folders (walked recursively) and videos (mp4, mov, webm, mkv, avi; needs ffmpeg)')
    .argument('<inputs...>', 'image files, video files, folders, or a V4L2 camera such as /dev/video0 (Linux)')
    .requiredOption('-m, --model <dir>', 'trained model folder (from facekit train)')
    .option('-o, --out <dir>', 'write annotated copies here: a box per face with the name and confidence')
    .option('--json', 'print one JSON object per image or video frame, then the video tracks, on stdout')
    .option('--csv <file>', 'write one CSV row per face to this file')
    .option('--threshold <score>', "override the model's calibrated unknown-face threshold (units of the model's open-set score)", parseNumber(-1, 1))
    .option('--top-k <n>', 'candidates listed per face', parseInteger(1, 1000), 3)
    .option('--fps <n>', 'video frames sampled per second', parseNumber(0.01, 120), DEFAULT_SAMPLE_FPS)
    .option('--min-face-size <px>', 'smallest face width to search for, in pixels', parseInteger(1), DEFAULT_DETECTOR_OPTIONS.minFaceSize)
    .option('--no-tiling', 'look at the whole image only: faster, but misses small faces in large photos')
    .action(async (inputs: string[], flags: RecognizeFlags) => {
      setExitCode(await runRecognize(inputs, flags));
    });
}

interface Summary {
  images: number;
  frames: number;
  faces: number;
  unknown: number;
  people: Map<string, number>;
  failed: Array<{ file: string; code: string; message: string }>;
}

async function runRecognize(inputs: string[], flags: RecognizeFlags): Promise<number> {
  if (flags.csv === '-' && flags.json) {
    throw new FacekitError('ERR_INVALID_ARGUMENT', '--json and --csv - both write to stdout. Give --csv a file name, or leave out one of them.');
  }
  const output = new Output({ json: Boolean(flags.json), textToStderr: flags.csv === '-' });
  const { files, missing } = await expandInputs(inputs, { videos: true });
  const summary: Summary = { images: 0, frames: 0, faces: 0, unknown: 0, people: new Map(), failed: [] };
  for (const item of missing) {
    summary.failed.push({ file: item.path, code: 'ERR_FILE_NOT_FOUND', message: `${item.path} ${item.reason}` });
    output.error(`${item.path} ${item.reason}`);
  }
  if (files.length === 0 && missing.length > 0) return EXIT.input;
  if (files.length === 0) output.warn(`No images or videos found in ${inputs.join(', ')}.`);
  if (flags.out) await prepareOutputFolder(flags.out, '--out');
  const csvFile = flags.csv ? await openOutputFile(flags.csv, '--csv') : undefined;
  const csv = csvFile?.stream;
  csv?.write('source,time_sec,face,label,known,confidence,x,y,width,height,detection_score\n');

  const recognizer = await createRecognizer({
    model: flags.model,
    threshold: flags.threshold,
    topK: flags.topK,
    detector: { minFaceSize: flags.minFaceSize, tiling: flags.tiling },
  });
  const used = new Set<string>();
  const count = (faces: readonly RecognizedFace[]): void => {
    summary.faces += faces.length;
    for (const face of faces) {
      if (face.known) summary.people.set(face.label, (summary.people.get(face.label) ?? 0) + 1);
      else summary.unknown += 1;
    }
  };
  const writeCsv = (source: string, timeSec: number | '', faces: readonly RecognizedFace[]): void => {
    faces.forEach((face, i) => {
      const { x, y, width, height } = face.boxPx;
      const cells = [source, timeSec, i, face.label, face.known, face.confidence.toFixed(4), x.toFixed(1), y.toFixed(1), width.toFixed(1), height.toFixed(1), face.detectionScore.toFixed(4)];
      csv?.write(cells.map(csvCell).join(',') + '\n');
    });
  };

  const fail = (file: string, error: unknown): void => {
    if (!isFacekitError(error)) throw error;
    summary.failed.push({ file, code: error.code, message: error.message });
    output.record({ file, error: { code: error.code, message: error.message } });
    output.error(error);
  };

  output.startProgress(files.length, 'files  ');
  try {
    let done = 0;
    for (const run of consecutiveRuns(files)) {
      if (run.kind === 'video') {
        for (const file of run.files) {
          try {
            await recognizeVideo(recognizer, file.path, flags, output, summary, used, count, writeCsv);
          } catch (error) {
            fail(file.path, error);
          }
          output.progress(++done, { detail: path.basename(file.path) });
        }
        continue;
      }
      // Photos go through recognizeEach, which decodes the next ones while this one is recognised.
      for await (const outcome of recognizer.recognizeEach(run.files.map((file) => file.path))) {
        const file = run.files[outcome.index]!.path;
        try {
          if (!outcome.ok) throw outcome.error;
          const result = outcome.result;
          summary.images += 1;
          count(result.faces);
          writeCsv(file, '', result.faces);
          output.record({ file, width: result.width, height: result.height, faces: result.faces });
          output.text(`${file}: ${describeFaces(result.faces)}`);
          if (flags.out) await writeAnnotated(flags.out, file, used, result, undefined);
        } catch (error) {
          fail(file, error);
        }
        output.progress(++done, { detail: path.basename(file) });
      }
    }
  } finally {
    output.stopProgress();
    await recognizer.dispose();
    await csvFile?.close();
  }

  const people = [...summary.people.entries()].sort((a, b) => b[1] - a[1]);
  output.record({ type: 'summary', images: summary.images, frames: summary.frames, faces: summary.faces, unknown: summary.unknown, people: Object.fromEntries(people), failed: summary.failed });
  output.text('');
  output.text(`Read ${summary.images} image${summary.images === 1 ? '' : 's'} and ${summary.frames} video frames; found ${summary.faces} faces, ${summary.unknown} unknown.`);
  if (people.length) output.text(`People seen: ${people.map(([name, n]) => `${name} (${n})`).join(', ')}`);
  for (const failure of summary.failed) {
    // Most messages already name the file.
    const message = failure.message.includes(failure.file) ? failure.message : `${failure.file}: ${failure.message}`;
    output.text(`Failed: ${message} [${failure.code}]`);
  }
  return summary.failed.length > 0 ? EXIT.someInputsFailed : EXIT.ok;
}

async function recognizeVideo(
  recognizer: Recognizer,
  file: string,
  flags: RecognizeFlags,
  output: Output,
  summary: Summary,
  used: Set<string>,
  count: (faces: readonly RecognizedFace[]) => void,
  writeCsv: (source: string, timeSec: number, faces: readonly RecognizedFace[]) => void,
): Promise<void> {
  const frames: Array<{ timeSec: number; faces: RecognizedFace[] }> = [];
  // The best-scoring frame of each face, kept to draw one annotated picture per track.
  const snapshots = new Map<RecognizedFace, RgbImage>();
  let readError: unknown;
  try {
    for await (const frame of readFrames(file, { fps: flags.fps })) {
      const result = await recognizer.recognize(frame.image);
      summary.frames += 1;
      count(result.faces);
      writeCsv(file, Number(frame.timeSec.toFixed(3)), result.faces);
      output.record({ file, timeSec: frame.timeSec, faces: result.faces });
      frames.push({ timeSec: frame.timeSec, faces: result.faces });
      if (flags.out) for (const face of result.faces) snapshots.set(face, frame.image);
    }
  } catch (error) {
    // Frames read before a damaged part still count; the file is reported as failed.
    readError = error;
  }
  const tracks = buildFaceTracks(frames);
  for (const track of tracks) {
    output.record({ file, track: track.trackId, label: track.label, confidence: track.confidence, firstSec: track.firstSec, lastSec: track.lastSec, frames: track.frames.length });
    output.text(`${file}: track ${track.trackId} ${track.label} (${(track.confidence * 100).toFixed(0)}%) from ${track.firstSec.toFixed(1)} s to ${track.lastSec.toFixed(1)} s, ${track.frames.length} frames`);
    if (flags.out) await writeTrackSnapshot(flags.out, file, used, track, snapshots);
  }
  if (frames.length === 0 && !readError) output.warn(`${file}: no frames could be read`);
  if (readError) throw readError instanceof FacekitError ? readError : new FacekitError('ERR_VIDEO', `Reading ${file} failed: ${String(readError)}`, { path: file });
}

async function writeTrackSnapshot(
  outDir: string,
  file: string,
  used: Set<string>,
  track: FaceTrack<RecognizedFace>,
  snapshots: Map<RecognizedFace, RgbImage>,
): Promise<void> {
  const best = track.frames.reduce((a, b) => (b.face.detectionScore > a.face.detectionScore ? b : a));
  const image = snapshots.get(best.face);
  if (!image) return;
  const face = { ...best.face, label: track.label, known: track.label !== 'unknown', confidence: track.confidence };
  const result: RecognitionResult = { source: file, width: image.width, height: image.height, faces: [face] };
  await writeAnnotated(outDir, file, used, result, image, `_track${track.trackId}`);
}

async function writeAnnotated(outDir: string, file: string, used: Set<string>, result: RecognitionResult, pixels?: RgbImage, suffix = ''): Promise<void> {
  const { decodeImage } = await import('../../image/decode.js');
  const image = pixels ?? (await decodeImage(file));
  const marks = result.faces.map((face) => ({
    boxPx: face.boxPx,
    label: `${face.label} ${(face.confidence * 100).toFixed(0)}%`,
    color: face.known ? MARK_COLORS.known : MARK_COLORS.unknown,
  }));
  await writeFile(path.join(outDir, outputName(file, used, suffix, '.jpg')), await annotateImage(image, marks));
}

function describeFaces(faces: readonly RecognizedFace[]): string {
  if (faces.length === 0) return 'no faces';
  return faces.map((face) => `${face.label} (${(face.confidence * 100).toFixed(0)}%)`).join(', ');
}

function csvCell(value: unknown): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
