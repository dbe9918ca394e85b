import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import sharp from 'sharp';

import { fitHead, summarizeFit, type FitResult } from '../src/train/fit.js';
import { evaluateHead } from '../src/train/metrics.js';
import { calibrateOpenSet, computeCentroids } from '../src/train/openset.js';
import { HeadModel } from '../src/train/predict.js';
import { renderConfusionSvg, renderCurvesSvg, renderReportMarkdown, writeTrainingReport, type TrainingReport } from '../src/train/report.js';
import { makeDataSet } from './support/synthetic-features.js';

const data = makeDataSet(3, 32, 20, 8, 401);
data.train.classNames = ['Ann <A&B>', 'Bob', 'Carla'];
data.validation.classNames = data.train.classNames;

let folder: string;
let fit: FitResult;
let report: TrainingReport;

before(async () => {
  folder = await fs.mkdtemp(path.join(os.tmpdir(), 'facekit-report-'));
  fit = await fitHead({ train: data.train, validation: data.validation }, { architecture: 'linear', maxEpochs: 5 });
  const head = new HeadModel(fit.head);
  const centroids = computeCentroids(data.train.features, data.train.labels, 3);
  const openSet = calibrateOpenSet({ head, centroids, validation: data.validation });
  report = {
    classNames: data.train.classNames,
    history: fit.history,
    training: summarizeFit(fit),
    metrics: evaluateHead(head, data.validation),
    openSet,
  };
});

after(async () => {
  await fs.rm(folder, { recursive: true, force: true });
});

describe('renderCurvesSvg', () => {
  test('draws both series in both panels', () => {
    const svg = renderCurvesSvg(fit.history, fit.bestEpoch);
    assert.equal(svg.match(/<polyline /g)?.length, 4);
    assert.match(svg, /stroke-dasharray/, 'best-epoch marker');
    assert.match(svg, /Loss/);
    assert.match(svg, /Accuracy/);
  });

  test('single epoch draws points only', () => {
    const svg = renderCurvesSvg(fit.history.slice(0, 1), 1);
    assert.equal(svg.match(/<polyline /g), null);
    assert.equal(svg.match(/<circle /g)?.length, 4);
  });
});

describe('renderConfusionSvg', () => {
  test('escapes names and shows counts', () => {
    const svg = renderConfusionSvg([[5, 1], [0, 7]], ['Ann <A&B>', 'Bob']);
    assert.ok(!svg.includes('<A&B>'), 'raw markup in a class name');
    assert.match(svg, /Ann &#60;A&#38;B&#62;/);
    for (const count of ['>5<', '>1<', '>0<', '>7<']) assert.ok(svg.includes(count), `count ${count} missing`);
  });
});

describe('writeTrainingReport', () => {
  test('writes JSON, Markdown and PNG files', async () => {
    const files = await writeTrainingReport(folder, report);
    assert.deepEqual((await fs.readdir(folder)).sort(), ['confusion.png', 'curves.png', 'report.json', 'report.md']);

    const json = JSON.parse(await fs.readFile(files.json, 'utf8'));
    assert.equal(json.training.bestEpoch, fit.bestEpoch);
    assert.equal(json.history.length, fit.history.length);
    assert.equal(json.openSet.method, 'leave-one-class-out');
    assert.deepEqual(json.metrics.confusionMatrix, report.metrics.confusionMatrix);

    const markdown = await fs.readFile(files.markdown, 'utf8');
    assert.match(markdown, new RegExp(`\\| ${fit.bestEpoch} \\(best\\) \\|`));
    assert.match(markdown, /Ann \\<A&B\\>/);
    assert.match(markdown, /!\[Loss and accuracy per epoch\]\(curves\.png\)/);

    const curves = await sharp(files.curvesPng).metadata();
    assert.deepEqual([curves.format, curves.width, curves.height], ['png', 960, 320]);
    const confusion = await sharp(files.confusionPng).stats();
    assert.ok(confusion.channels[0].min < 100, 'the heat map has dark cells');
  });

  test('rejects empty history', async () => {
    await assert.rejects(writeTrainingReport(folder, { ...report, history: [] }), { code: 'ERR_INVALID_ARGUMENT', message: /report\.history/ });
  });

  test('markdown without open-set section', () => {
    const markdown = renderReportMarkdown({ ...report, openSet: undefined });
    assert.doesNotMatch(markdown, /Unknown faces/);
    assert.match(markdown, /Top-1 accuracy/);
  });
});
