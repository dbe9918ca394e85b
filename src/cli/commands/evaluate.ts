/** `facekit evaluate`: measure a saved model on a labelled folder. */
import type { Command } from 'commander';
import type { ValidationMetrics } from '../../train/metrics.js';
import { evaluateModel } from '../../train/evaluate.js';
import { EXIT } from '../exit-codes.js';
import { Output } from '../output.js';

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('evaluate')
    .description("Measure a model on a labelled folder: top-1 accuracy, per-person precision and recall, confusion matrix, unknown-face rates. Folders of people the model does not know, and _unknown/, count as strangers")
    .argument('<model>', 'trained model folder')
    .argument('<dataset>', 'folder with one sub-folder of photos per person')
    .option('--json', 'print the report as one JSON object on stdout')
    .option('--cache-dir <dir>', 'feature cache folder (default: $XDG_CACHE_HOME/facekit or ~/.cache/facekit)')
    .option('--no-cache', 'do not read or write the feature cache')
    .action(async (model: string, dataset: string, flags: { json?: boolean; cacheDir?: string; cache: boolean }) => {
      const output = new Output({ json: Boolean(flags.json) });
      let started = false;
      const report = await evaluateModel({
        model,
        dataset,
        cacheDir: flags.cache ? flags.cacheDir : false,
        onImage: (_image, done, total) => {
          if (!started) output.startProgress(total, 'faces  ');
          started = true;
          output.progress(done);
        },
      });
      output.stopProgress();
      for (const item of report.skipped) output.warn(`skipped ${item.path}: ${item.reason}`);
      output.record(report);
      output.text(formatMetrics(report.classNames, report.metrics));
      if (report.strangerFolders.length) output.text(`Counted as strangers: ${report.strangerFolders.join(', ')}`);
      setExitCode(EXIT.ok);
    });
}

/** Accuracy, per-person precision and recall, the confusion matrix and open-set rates as text. */
export function formatMetrics(classNames: readonly string[], metrics: ValidationMetrics): string {
  const percent = (value: number | null): string => (value === null ? '   -  ' : `${(value * 100).toFixed(1).padStart(5)}%`);
  const width = Math.max(6, ...classNames.map((name) => name.length));
  const lines = [`Top-1 accuracy: ${percent(metrics.accuracy).trim()} on ${metrics.sampleCount} faces (unknown rule not applied)`, ''];
  lines.push(`${'person'.padEnd(width)}  precision  recall  faces`);
  metrics.perClass.forEach((entry, i) => {
    lines.push(`${classNames[i]!.padEnd(width)}  ${percent(entry.precision).padStart(9)}  ${percent(entry.recall)}  ${String(entry.support).padStart(5)}`);
  });
  lines.push('', 'Confusion matrix (rows: true person, columns: predicted; people in the order above):');
  const cell = Math.max(3, ...metrics.confusionMatrix.flat().map((v) => String(v).length));
  metrics.confusionMatrix.forEach((row, i) => lines.push(`${classNames[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(cell)).join(' ')}`));
  const open = metrics.openSet;
  if (open) {
    lines.push(
      '',
      `Unknown faces: ${open.impostorCount} strangers, false-accept rate ${percent(open.falseAcceptRate).trim()}; ` +
        `${open.genuineCount} known faces, false-reject rate ${percent(open.falseRejectRate).trim()}, named correctly ${percent(open.correctAcceptRate).trim()}`,
    );
  }
  return lines.join('\n');
}
