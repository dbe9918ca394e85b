/** `facekit dataset check`: audit a dataset folder and print the problems as Markdown or JSON. */
import type { Command } from 'commander';
import { AUDIT_DEFAULTS, auditDataset, renderAuditMarkdown } from '../../dataset/audit.js';
import { CAPTURE_DEFAULTS, SHARPNESS_CROP_PX } from '../../dataset/capture.js';
import { EXIT } from '../exit-codes.js';
import { parseInteger, parseNumber } from '../options.js';
import { Output } from '../output.js';

interface CheckFlags {
  json?: boolean;
  minImages: number;
  minFaceSize: number;
  minSharpness: number;
  maxSimilarity: number;
  mislabelMargin: number;
  cacheDir?: string;
  cache: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  const dataset = program.command('dataset').description('Inspect dataset folders');
  dataset
    .command('check')
    .description(
      'Find problems in a dataset folder: few images, unreadable files, no or several faces, small or blurry faces, ' +
        'duplicates and likely mislabelled faces. Exits with 1 when an image cannot be used for training.',
    )
    .argument('<dir>', 'dataset folder with one sub-folder per person')
    .option('--json', 'print the report as one JSON object instead of Markdown')
    .option('--min-images <n>', 'flag people with fewer images than this', parseInteger(0, 1_000_000), AUDIT_DEFAULTS.minImagesPerPerson)
    .option('--min-face-size <px>', 'flag faces narrower than this, in pixels of the photo', parseNumber(0, 100_000), CAPTURE_DEFAULTS.minFaceSizePx)
    .option(
      '--min-sharpness <variance>',
      `flag faces less sharp than this: variance of the Laplacian of the grey ${SHARPNESS_CROP_PX}-px aligned face, in squared grey levels`,
      parseNumber(0, 1_000_000),
      CAPTURE_DEFAULTS.minSharpness,
    )
    .option('--max-similarity <cosine>', 'cosine similarity of features at which two images count as near duplicates, -1 to 1', parseNumber(-1, 1), CAPTURE_DEFAULTS.maxSimilarity)
    .option(
      '--mislabel-margin <cosine>',
      "flag a face when it is this much more similar to another person's centroid than to its own, in cosine similarity",
      parseNumber(0, 2),
      AUDIT_DEFAULTS.mislabelMargin,
    )
    .option('--cache-dir <dir>', 'feature cache folder (default: $XDG_CACHE_HOME/facekit or ~/.cache/facekit)')
    .option('--no-cache', 'do not read or write the feature cache')
    .action(async (dir: string, flags: CheckFlags) => {
      setExitCode(await runCheck(dir, flags));
    });
}

async function runCheck(dir: string, flags: CheckFlags): Promise<number> {
  const output = new Output({ json: Boolean(flags.json) });
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const report = await auditDataset(dir, {
      cacheDir: flags.cache ? flags.cacheDir : false,
      minImagesPerPerson: flags.minImages,
      mislabelMargin: flags.mislabelMargin,
      gates: { minFaceSizePx: flags.minFaceSize, minSharpness: flags.minSharpness, maxSimilarity: flags.maxSimilarity },
      signal: abort.signal,
      onProgress: (event) => {
        if (event.type === 'scan') {
          output.info(`${event.people} people, ${event.images} images to check (strangers included)`);
          output.startProgress(event.images, 'faces  ');
        } else if (event.type === 'image') {
          output.progress(event.done, { detail: event.cached ? 'cached' : '' });
        } else if (event.type === 'compare') {
          output.stopProgress();
        }
      },
    });
    output.stopProgress();
    output.record(report);
    output.text(renderAuditMarkdown(report).trimEnd());
    return report.issues.some((issue) => issue.severity === 'error') ? EXIT.someInputsFailed : EXIT.ok;
  } finally {
    output.stopProgress();
    process.removeListener('SIGINT', onSigint);
  }
}
