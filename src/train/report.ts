/**
 * The training report: `report.json`, `report.md`, and two PNG plots rendered from SVG
 * with sharp (librsvg): `curves.png` (loss and accuracy per epoch, training and
 * validation) and `confusion.png` (validation confusion matrix as a heat map).
 * Text uses the DejaVu Sans font, and librsvg substitutes another sans-serif font when it
 * is not installed.
 */

import fs from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';

import { invalidArgument } from '../errors.js';
import { writeFileAtomic } from '../store/model-store.js';
import type { EpochRecord, TrainingSummary } from './fit.js';
import type { ValidationMetrics } from './metrics.js';
import type { OpenSetRule } from './openset.js';

export interface TrainingReport {
  classNames: string[];
  history: EpochRecord[];
  training: TrainingSummary;
  metrics: ValidationMetrics;
  /** The calibrated open-set rule, when there is one. Only its summary goes into the report. */
  openSet?: OpenSetRule;
}

/** Paths of the files `writeTrainingReport` wrote. */
export interface ReportFiles {
  json: string;
  markdown: string;
  curvesPng: string;
  confusionPng: string;
}

const FONT_FAMILY = "'DejaVu Sans', sans-serif";
const TRAIN_COLOUR = '#1f77b4';
const VALIDATION_COLOUR = '#d62728';

/**
 * Writes the report files into `directory` (created when missing), replacing earlier
 * report files there, and returns their paths. Each file is written atomically.
 */
export async function writeTrainingReport(directory: string, report: TrainingReport): Promise<ReportFiles> {
  if (typeof directory !== 'string' || directory.length === 0) throw invalidArgument('directory', 'a non-empty path', directory);
  if (!Array.isArray(report?.history) || report.history.length === 0) {
    throw invalidArgument('report.history', 'at least one epoch record', report?.history);
  }
  const root = path.resolve(directory);
  await fs.mkdir(root, { recursive: true });

  const files: ReportFiles = {
    json: path.join(root, 'report.json'),
    markdown: path.join(root, 'report.md'),
    curvesPng: path.join(root, 'curves.png'),
    confusionPng: path.join(root, 'confusion.png'),
  };
  const curves = await sharp(Buffer.from(renderCurvesSvg(report.history, report.training.bestEpoch))).png().toBuffer();
  const confusion = await sharp(Buffer.from(renderConfusionSvg(report.metrics.confusionMatrix, report.classNames))).png().toBuffer();

  await writeFileAtomic(files.json, Buffer.from(JSON.stringify(toJsonReport(report), null, 2) + '\n'));
  await writeFileAtomic(files.markdown, Buffer.from(renderReportMarkdown(report, files)));
  await writeFileAtomic(files.curvesPng, curves);
  await writeFileAtomic(files.confusionPng, confusion);
  return files;
}

function toJsonReport(report: TrainingReport): object {
  return {
    classNames: report.classNames,
    training: report.training,
    history: report.history,
    metrics: report.metrics,
    openSet: report.openSet ? summarizeOpenSet(report.openSet) : null,
  };
}

function summarizeOpenSet(rule: OpenSetRule): object {
  return { score: rule.score, threshold: rule.threshold, maxFalseAccept: rule.maxFalseAccept, ...rule.calibration };
}

// ---------------------------------------------------------------------------------------
// Markdown

/** Renders the Markdown report. Image links are relative to the report's folder. */
export function renderReportMarkdown(report: TrainingReport, files?: Pick<ReportFiles, 'curvesPng' | 'confusionPng'>): string {
  const { training, metrics, classNames } = report;
  const lines: string[] = [];
  lines.push('# Training report', '');
  lines.push(`- Head: ${training.options.architecture}, dropout ${training.options.dropout}`);
  lines.push(`- Training engine: ${training.backend}`);
  lines.push(`- Optimizer: ${training.options.optimizer}, learning rate ${training.options.learningRate}, batch size ${training.options.batchSize}, seed ${training.options.seed}`);
  lines.push(`- Samples: ${training.trainSamples} training, ${training.validationSamples} validation, ${classNames.length} classes`);
  lines.push(
    `- Epochs: ${training.epochs} run, best epoch ${training.bestEpoch} (validation loss ${formatNumber(training.bestValLoss)})` +
      (training.stoppedEarly ? `, stopped early after ${training.options.patience} epochs without improvement` : ''),
  );
  lines.push(`- Training time: ${(training.ms / 1000).toFixed(1)} s`);
  lines.push('');

  lines.push('## Validation', '');
  lines.push(`Top-1 accuracy ${formatPercent(metrics.accuracy)} on ${metrics.sampleCount} faces, loss ${formatNumber(metrics.loss)}.`, '');
  lines.push('| class | precision | recall | samples |', '|---|---:|---:|---:|');
  metrics.perClass.forEach((entry, index) => {
    lines.push(`| ${escapeMarkdown(classNames[index])} | ${formatPercent(entry.precision)} | ${formatPercent(entry.recall)} | ${entry.support} |`);
  });
  lines.push('');

  if (report.openSet) {
    const { calibration } = report.openSet;
    lines.push('## Unknown faces', '');
    lines.push(`- Rule: ${report.openSet.score} > ${formatNumber(report.openSet.threshold)} (target false-accept rate ${formatPercent(report.openSet.maxFalseAccept)})`);
    lines.push(`- Calibrated by: ${calibration.method}, ${calibration.impostorCount} impostor faces, ${calibration.genuineCount} genuine faces, score chosen by ${calibration.selection}`);
    lines.push(`- On the calibration faces: false-accept rate ${formatPercent(calibration.falseAcceptRate)}, false-reject rate ${formatPercent(calibration.falseRejectRate)}`);
    if (metrics.openSet) {
      lines.push(
        `- On the evaluation faces: false-accept rate ${formatPercent(metrics.openSet.falseAcceptRate)} (${metrics.openSet.impostorCount} impostors), ` +
          `false-reject rate ${formatPercent(metrics.openSet.falseRejectRate)} (${metrics.openSet.genuineCount} genuine)`,
      );
    }
    lines.push('');
  }

  lines.push('## Epochs', '');
  lines.push('| epoch | loss | accuracy | val loss | val accuracy | ms |', '|---:|---:|---:|---:|---:|---:|');
  for (const record of report.history) {
    const marker = record.epoch === training.bestEpoch ? ' (best)' : '';
    lines.push(
      `| ${record.epoch}${marker} | ${formatNumber(record.loss)} | ${formatPercent(record.accuracy)} | ${formatNumber(record.valLoss)} | ${formatPercent(record.valAccuracy)} | ${record.ms.toFixed(0)} |`,
    );
  }
  lines.push('');

  if (files) {
    lines.push(`![Loss and accuracy per epoch](${path.basename(files.curvesPng)})`, '');
    lines.push(`![Validation confusion matrix](${path.basename(files.confusionPng)})`, '');
  }
  return lines.join('\n');
}

function formatNumber(value: number): string {
  return value.toFixed(4);
}

function formatPercent(value: number | null): string {
  return value === null ? 'n/a' : `${(value * 100).toFixed(1)}%`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[|\\`*_[\]<>]/g, (character) => `\\${character}`);
}

// ---------------------------------------------------------------------------------------
// SVG plots

const PANEL_WIDTH = 480;
const PANEL_HEIGHT = 320;
const MARGIN = { left: 64, right: 16, top: 40, bottom: 48 };

/**
 * Renders loss and accuracy per epoch side by side, training and validation in each,
 * with a dashed line at the best epoch. Returns the SVG document.
 */
export function renderCurvesSvg(history: readonly EpochRecord[], bestEpoch: number): string {
  const epochs = history.map((record) => record.epoch);
  const lossValues = history.flatMap((record) => [record.loss, record.valLoss]);
  const lossPanel = renderLinePanel({
    title: 'Loss (cross-entropy)',
    epochs,
    series: [
      { label: 'training', colour: TRAIN_COLOUR, values: history.map((record) => record.loss) },
      { label: 'validation', colour: VALIDATION_COLOUR, values: history.map((record) => record.valLoss) },
    ],
    yMin: 0,
    yMax: Math.max(...lossValues.filter(Number.isFinite), 1e-6),
    bestEpoch,
  });
  const accuracyPanel = renderLinePanel({
    title: 'Accuracy',
    epochs,
    series: [
      { label: 'training', colour: TRAIN_COLOUR, values: history.map((record) => record.accuracy) },
      { label: 'validation', colour: VALIDATION_COLOUR, values: history.map((record) => record.valAccuracy) },
    ],
    yMin: 0,
    yMax: 1,
    bestEpoch,
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH * 2}" height="${PANEL_HEIGHT}" font-family="${FONT_FAMILY}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<g>${lossPanel}</g><g transform="translate(${PANEL_WIDTH},0)">${accuracyPanel}</g></svg>`
  );
}

interface LinePanel {
  title: string;
  epochs: number[];
  series: { label: string; colour: string; values: number[] }[];
  yMin: number;
  yMax: number;
  bestEpoch: number;
}

function renderLinePanel(panel: LinePanel): string {
  const plotWidth = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const firstEpoch = panel.epochs[0];
  const lastEpoch = panel.epochs[panel.epochs.length - 1];
  const epochSpan = Math.max(lastEpoch - firstEpoch, 1);
  const x = (epoch: number): number => MARGIN.left + ((epoch - firstEpoch) / epochSpan) * plotWidth;
  const y = (value: number): number => MARGIN.top + plotHeight - ((value - panel.yMin) / (panel.yMax - panel.yMin)) * plotHeight;

  const parts: string[] = [];
  parts.push(`<text x="${PANEL_WIDTH / 2}" y="24" font-size="16" text-anchor="middle">${escapeXml(panel.title)}</text>`);
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#444"/>`);

  for (let i = 0; i <= 4; i++) {
    const value = panel.yMin + ((panel.yMax - panel.yMin) * i) / 4;
    const tickY = y(value);
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${tickY}" y2="${tickY}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${tickY + 4}" font-size="11" text-anchor="end">${formatTick(value)}</text>`);
  }
  for (const epoch of epochTicks(firstEpoch, lastEpoch)) {
    parts.push(`<text x="${x(epoch)}" y="${MARGIN.top + plotHeight + 16}" font-size="11" text-anchor="middle">${epoch}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${PANEL_HEIGHT - 10}" font-size="12" text-anchor="middle">epoch</text>`);

  if (panel.bestEpoch >= firstEpoch && panel.bestEpoch <= lastEpoch) {
    const bestX = x(panel.bestEpoch);
    parts.push(`<line x1="${bestX}" x2="${bestX}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#888" stroke-dasharray="4 4"/>`);
  }

  panel.series.forEach((series, index) => {
    const points = panel.epochs
      .map((epoch, i) => [epoch, series.values[i]] as const)
      .filter(([, value]) => Number.isFinite(value))
      .map(([epoch, value]) => `${x(epoch).toFixed(1)},${y(value).toFixed(1)}`);
    if (points.length > 1) parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.colour}" stroke-width="2"/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${series.colour}"/>`);
    }
    const legendY = MARGIN.top + 14 + index * 16;
    const legendX = MARGIN.left + plotWidth - 110;
    parts.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.colour}" stroke-width="2"/>`);
    parts.push(`<text x="${legendX + 24}" y="${legendY}" font-size="11">${escapeXml(series.label)}</text>`);
  });
  return parts.join('');
}

/** Returns at most about 10 evenly spaced integer epochs, always including the first and last. */
function epochTicks(first: number, last: number): number[] {
  const step = Math.max(1, Math.ceil((last - first) / 10));
  const ticks: number[] = [];
  for (let epoch = first; epoch < last; epoch += step) ticks.push(epoch);
  ticks.push(last);
  return ticks;
}

function formatTick(value: number): string {
  return Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(2);
}

/** Width and height of one heat-map cell, in pixels. */
const CELL_SIZE = 44;
/** Maximum characters of a class name in the heat map. Longer names are cut and end in an ellipsis. */
const MAX_LABEL_CHARACTERS = 18;

/**
 * Renders the confusion matrix (`matrix[true][predicted]`) as a heat map. Cell colour is
 * the share of the true class's samples (row-normalised, white 0 to dark blue 1); the
 * number in the cell is the count. Returns the SVG document.
 */
export function renderConfusionSvg(matrix: readonly (readonly number[])[], classNames: readonly string[]): string {
  const classCount = matrix.length;
  const labelWidth = 8 + MAX_LABEL_CHARACTERS * 7;
  const left = labelWidth + 24;
  const top = 48;
  const width = left + classCount * CELL_SIZE + 16;
  const height = top + classCount * CELL_SIZE + labelWidth + 24;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT_FAMILY}">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="24" font-size="16" text-anchor="middle">Validation confusion matrix</text>`);

  matrix.forEach((row, truth) => {
    const rowTotal = row.reduce((sum, count) => sum + count, 0);
    row.forEach((count, predicted) => {
      const share = rowTotal === 0 ? 0 : count / rowTotal;
      const cellX = left + predicted * CELL_SIZE;
      const cellY = top + truth * CELL_SIZE;
      parts.push(`<rect x="${cellX}" y="${cellY}" width="${CELL_SIZE}" height="${CELL_SIZE}" fill="${heatColour(share)}" stroke="#ccc"/>`);
      const textColour = share > 0.5 ? 'white' : 'black';
      parts.push(
        `<text x="${cellX + CELL_SIZE / 2}" y="${cellY + CELL_SIZE / 2 + 4}" font-size="12" text-anchor="middle" fill="${textColour}">${count}</text>`,
      );
    });
    parts.push(
      `<text x="${left - 6}" y="${top + truth * CELL_SIZE + CELL_SIZE / 2 + 4}" font-size="11" text-anchor="end">${escapeXml(shortLabel(classNames[truth]))}</text>`,
    );
  });

  classNames.forEach((name, predicted) => {
    const labelX = left + predicted * CELL_SIZE + CELL_SIZE / 2 + 4;
    const labelY = top + classCount * CELL_SIZE + 8;
    parts.push(
      `<text x="${labelX}" y="${labelY}" font-size="11" text-anchor="end" transform="rotate(-60 ${labelX} ${labelY})">${escapeXml(shortLabel(name))}</text>`,
    );
  });
  parts.push(`<text x="${left + (classCount * CELL_SIZE) / 2}" y="${height - 8}" font-size="12" text-anchor="middle">predicted</text>`);
  parts.push(`<text x="14" y="${top + (classCount * CELL_SIZE) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${top + (classCount * CELL_SIZE) / 2})">true</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Interpolates from white (share 0) to dark blue #08306b (share 1). */
function heatColour(share: number): string {
  const channel = (from: number, to: number): number => Math.round(from + (to - from) * share);
  return `rgb(${channel(255, 8)},${channel(255, 48)},${channel(255, 107)})`;
}

function shortLabel(name: string): string {
  return name.length <= MAX_LABEL_CHARACTERS ? name : `${name.slice(0, MAX_LABEL_CHARACTERS - 1)}…`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
