/** `facekit capture`: collect face samples of one person from a video, a camera or photos into a dataset folder. */
import type { Command } from 'commander';
import {
  CAPTURE_DEFAULTS,
  type CaptureEvent,
  type CaptureSummary,
  REJECT_REASONS,
  type RejectReason,
  SHARPNESS_CROP_PX,
  captureSamples,
} from '../../dataset/capture.js';
import { isFacekitError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { Output } from '../output.js';

interface CaptureFlags {
  name: string;
  dataset: string;
  from: string;
  count: number;
  fps: number;
  size: number;
  multiFace: 'largest' | 'skip';
  minFaceSize: number;
  minSharpness: number;
  maxYawRatio: number;
  maxRoll: number;
  maxSimilarity: number;
  saveOriginal?: boolean;
  json?: boolean;
}

/** Reject reasons as the progress bar and the summary print them. */
const REASON_LABELS: Record<RejectReason, string> = {
  'no-face': 'no face',
  'multiple-faces': 'several faces',
  'too-small': 'too small',
  blurry: 'blurry',
  'not-frontal': 'turned',
  'near-duplicate': 'near duplicate',
};

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('capture')
    .description('Collect face samples of one person from a video file, a camera such as /dev/video0, or a folder of photos')
    .requiredOption('--name <name>', "the person's name, used as the folder name")
    .requiredOption('--dataset <dir>', 'dataset folder; samples go to DIR/NAME/ (created when missing)')
    .requiredOption('--from <source>', 'video file, folder of photos, or camera device such as /dev/video0')
    .option('--count <n>', 'new samples to keep before stopping', parseInteger(1, 1_000_000), CAPTURE_DEFAULTS.count)
    .option('--fps <n>', 'frames per second read from a video or requested from a camera', parseNumber(0.01, 240), CAPTURE_DEFAULTS.fps)
    .option('--size <px>', 'side of the saved square face crops, in pixels', parseInteger(16, 2048), CAPTURE_DEFAULTS.size)
    .option('--multi-face <policy>', 'frames with several faces: keep the largest face, or skip the frame', parseChoice(['largest', 'skip'] as const), CAPTURE_DEFAULTS.multiFace)
    .option('--min-face-size <px>', 'smallest face width kept, in pixels of the frame', parseNumber(0, 100_000), CAPTURE_DEFAULTS.minFaceSizePx)
    .option(
      '--min-sharpness <variance>',
      `smallest sharpness kept: variance of the Laplacian of the grey ${SHARPNESS_CROP_PX}-px aligned face, in squared grey levels`,
      parseNumber(0, 1_000_000),
      CAPTURE_DEFAULTS.minSharpness,
    )
    .option('--max-yaw-ratio <ratio>', 'largest sideways nose offset from the eye midpoint, in eye distances', parseNumber(0, 100), CAPTURE_DEFAULTS.maxYawRatio)
    .option('--max-roll <degrees>', 'largest tilt of the eye line, in degrees', parseNumber(0, 180), CAPTURE_DEFAULTS.maxRollDeg)
    .option(
      '--max-similarity <cosine>',
      'cosine similarity to an earlier sample of this run at which a face counts as a duplicate, -1 to 1',
      parseNumber(-1, 1),
      CAPTURE_DEFAULTS.maxSimilarity,
    )
    .option('--save-original', 'also save each whole frame into DIR/NAME/.originals/')
    .option('--json', 'print progress events and the summary as JSON lines on stdout')
    .action(async (flags: CaptureFlags) => {
      setExitCode(await runCapture(flags));
    });
}

async function runCapture(flags: CaptureFlags): Promise<number> {
  const output = new Output({ json: Boolean(flags.json) });
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  let lastFrame: Extract<CaptureEvent, { type: 'frame' }> | undefined;
  let unreadable = 0;

  try {
    const summary = await captureSamples({
      dataset: flags.dataset,
      name: flags.name,
      from: flags.from,
      count: flags.count,
      fps: flags.fps,
      saveOriginal: Boolean(flags.saveOriginal),
      gates: {
        size: flags.size,
        multiFace: flags.multiFace,
        minFaceSizePx: flags.minFaceSize,
        minSharpness: flags.minSharpness,
        maxYawRatio: flags.maxYawRatio,
        maxRollDeg: flags.maxRoll,
        maxSimilarity: flags.maxSimilarity,
      },
      signal: abort.signal,
      onEvent: (event) => {
        output.record(event);
        if (event.type === 'start') {
          const before = event.existingCount ? ` (${event.existingCount} already there)` : '';
          const samples = event.target === 1 ? 'sample' : 'samples';
          output.info(`capturing ${event.target} ${samples} of ${event.name} into ${event.folder}${before} from ${event.source}`);
          output.startProgress(event.target, 'capture', 'kept [{bar}] {value}/{total} | rejected: {detail}');
        } else if (event.type === 'frame') {
          lastFrame = event;
          output.progress(event.kept, { detail: formatRejected(event.rejected) || 'none' });
        } else if (event.type === 'unreadable') {
          unreadable++;
          output.warn(`${event.file} skipped: ${event.message} [${event.code}]`);
        }
      },
    });
    output.stopProgress();
    output.record({ type: 'summary', ...summary });
    printSummary(output, summary);
    return unreadable > 0 ? EXIT.someInputsFailed : EXIT.ok;
  } catch (error) {
    output.stopProgress();
    if (isFacekitError(error) && lastFrame) {
      output.info(`stopped after ${lastFrame.kept} new samples; the saved samples stay in place`);
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Formats non-zero reject counts, such as "no face 5, blurry 2". */
function formatRejected(rejected: Record<RejectReason, number>): string {
  return REJECT_REASONS.filter((reason) => rejected[reason] > 0)
    .map((reason) => `${REASON_LABELS[reason]} ${rejected[reason]}`)
    .join(', ');
}

function printSummary(output: Output, summary: CaptureSummary): void {
  const total = summary.existingCount + summary.kept;
  output.text(`Saved ${summary.kept} new sample${summary.kept === 1 ? '' : 's'} of ${summary.name} to ${summary.folder} (${total} in total).`);
  const unreadable = summary.unreadable.length > 0 ? `, ${summary.unreadable.length} of them unreadable` : '';
  output.text(`Read ${summary.framesRead} frame${summary.framesRead === 1 ? '' : 's'}${unreadable}; rejected: ${formatRejected(summary.rejected) || 'none'}.`);
  if (summary.stoppedBy === 'end-of-source' && summary.kept < summary.target) {
    output.warn(
      `the source ended with ${summary.kept} of ${summary.target} samples. Record more varied footage (turn the head, change the light), ` +
        'or relax --max-similarity or --min-sharpness.',
    );
  }
}
