/** `facekit detect`: find faces in photos; print them, or write annotated copies and aligned crops. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DETECTOR_OPTIONS } from '../../detect/detector.js';
import { FacePipeline } from '../../embed/face-pipeline.js';
import { isFacekitError } from '../../errors.js';
import { annotateImage } from '../../image/annotate.js';
import { decodeImage, encodeImage } from '../../image/decode.js';
import { EXIT } from '../exit-codes.js';
import { expandInputs, outputName } from '../inputs.js';
import { prepareOutputFolder } from '../output-paths.js';
import { parseInteger, parseNumber } from '../options.js';
import { Output } from '../output.js';

interface DetectFlags {
  out?: string;
  json?: boolean;
  minFaceSize: number;
  threshold: number;
  tiling: boolean;
  maxFaces: number;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('detect')
    .description('Find faces in photos (files or folders, walked recursively)')
    .argument('<inputs...>', 'image files or folders')
    .option('-o, --out <dir>', 'write annotated copies (box, keypoints, score) and aligned crops here')
    .option('--json', 'print one JSON object per image on stdout')
    .option('--min-face-size <px>', 'smallest face width to search for, in pixels', parseInteger(1), DEFAULT_DETECTOR_OPTIONS.minFaceSize)
    .option('--threshold <score>', 'minimum detection score, 0 to 1', parseNumber(0, 1), DEFAULT_DETECTOR_OPTIONS.scoreThreshold)
    .option('--max-faces <n>', 'most faces reported per image', parseInteger(1), DEFAULT_DETECTOR_OPTIONS.maxFaces)
    .option('--no-tiling', 'look at the whole image only: faster, but misses small faces in large photos')
    .action(async (inputs: string[], flags: DetectFlags) => {
      setExitCode(await runDetect(inputs, flags));
    });
}

async function runDetect(inputs: string[], flags: DetectFlags): Promise<number> {
  const output = new Output({ json: Boolean(flags.json) });
  const { files, missing } = await expandInputs(inputs, { videos: false });
  for (const item of missing) output.error(`${item.path} ${item.reason}`);
  if (files.length === 0 && missing.length > 0) return EXIT.input;
  if (files.length === 0) output.warn(`No images found in ${inputs.join(', ')}.`);
  if (flags.out) await prepareOutputFolder(flags.out, '--out');

  const pipeline = await FacePipeline.create({
    detector: { minFaceSize: flags.minFaceSize, scoreThreshold: flags.threshold, tiling: flags.tiling, maxFaces: flags.maxFaces },
  });
  let failed = missing.length;
  const failures = missing.map((item) => ({ file: item.path, code: 'ERR_FILE_NOT_FOUND', message: `${item.path} ${item.reason}` }));
  let facesFound = 0;
  const used = new Set<string>();
  output.startProgress(files.length, 'detect');
  try {
    for (const [index, file] of files.entries()) {
      try {
        const image = await decodeImage(file.path);
        const faces = await pipeline.detect(image);
        facesFound += faces.length;
        const record = { file: file.path, width: image.width, height: image.height, faces };
        output.record(record);
        output.text(`${file.path}: ${faces.length} face${faces.length === 1 ? '' : 's'}`);
        if (flags.out) {
          const marks = faces.map((face) => ({ boxPx: face.boxPx, keypointsPx: face.keypointsPx, label: face.score.toFixed(2) }));
          await writeFile(path.join(flags.out, outputName(file.path, used, '', '.jpg')), await annotateImage(image, marks));
          const crops = pipeline.align(image, faces);
          for (const [k, crop] of crops.entries()) {
            await writeFile(path.join(flags.out, outputName(file.path, used, `_face${k + 1}`, '.jpg')), await encodeImage(crop.crop, 'jpeg'));
          }
        }
      } catch (error) {
        if (!isFacekitError(error)) throw error;
        failed += 1;
        failures.push({ file: file.path, code: error.code, message: error.message });
        output.record({ file: file.path, error: { code: error.code, message: error.message } });
        output.error(error);
      }
      output.progress(index + 1);
    }
  } finally {
    output.stopProgress();
    await pipeline.dispose();
  }
  const read = files.length + missing.length - failed;
  output.record({ type: 'summary', images: read, faces: facesFound, failed: failures });
  output.info(`Read ${read} image${read === 1 ? '' : 's'}; found ${facesFound} face${facesFound === 1 ? '' : 's'}; ${failed} failed.`);
  return failed > 0 ? EXIT.someInputsFailed : EXIT.ok;
}
