/**
 * Small SVG charts for the benchmark page, rendered to PNG with sharp (librsvg), so the
 * page shows the same numbers as its tables without a plotting dependency.
 */
import sharp from 'sharp';

export interface Series {
  name: string;
  /** One value per category or x position; null leaves a gap. */
  values: Array<number | null>;
}

const FONT = 'DejaVu Sans, Arial, sans-serif';
/** Series colours: the Okabe–Ito palette. */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" ${attributes}>${escapeXml(content)}</text>`;
}

function legend(series: readonly Series[], x: number, y: number): string {
  return series
    .map((s, i) => {
      const top = y + i * 20;
      return `<rect x="${x}" y="${top - 10}" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>` + text(x + 18, top, s.name, 'font-size="13"');
    })
    .join('');
}

/** Rounds a maximum up to 1, 2 or 5 times a power of ten, for the axis end. */
function niceMaximum(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * Draws a horizontal grouped bar chart as SVG: one group per category, one bar per
 * series, the value written at the end of each bar.
 */
export function barChartSvg(options: { title: string; unit: string; categories: string[]; series: Series[] }): string {
  const { title, unit, categories, series } = options;
  const labelWidth = 230;
  const plotWidth = 470;
  const barHeight = 16;
  const groupGap = 14;
  const top = 48;
  const groupHeight = series.length * barHeight + groupGap;
  const legendTop = top + categories.length * groupHeight + 36;
  const height = legendTop + series.length * 20 + 10;
  const width = labelWidth + plotWidth + 110;
  const maximum = niceMaximum(Math.max(...series.flatMap((s) => s.values.filter((v): v is number => v !== null))));
  const scale = plotWidth / maximum;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(12, 26, title, 'font-size="16" font-weight="bold"'),
  ];
  for (let tick = 0; tick <= 4; tick++) {
    const x = labelWidth + (tick / 4) * plotWidth;
    const bottom = top + categories.length * groupHeight;
    parts.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${bottom}" stroke="#ddd"/>`);
    parts.push(text(x, bottom + 16, String(Number(((tick / 4) * maximum).toPrecision(3))), 'font-size="12" text-anchor="middle" fill="#444"'));
  }
  parts.push(text(labelWidth + plotWidth / 2, top + categories.length * groupHeight + 30, unit, 'font-size="12" text-anchor="middle" fill="#444"'));
  categories.forEach((category, c) => {
    const groupTop = top + c * groupHeight;
    parts.push(text(labelWidth - 10, groupTop + (series.length * barHeight) / 2 + 5, category, 'font-size="13" text-anchor="end"'));
    series.forEach((s, i) => {
      const value = s.values[c];
      if (value === null || value === undefined) return;
      const y = groupTop + i * barHeight;
      const barWidth = Math.max(1, value * scale);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${barWidth.toFixed(1)}" height="${barHeight - 3}" fill="${COLOURS[i % COLOURS.length]}"/>`);
      parts.push(text(labelWidth + barWidth + 5, y + barHeight - 5, value >= 100 ? value.toFixed(0) : value.toPrecision(3), 'font-size="12"'));
    });
  });
  parts.push(legend(series, labelWidth, legendTop), '</svg>');
  return parts.join('\n');
}

/** Draws a line chart as SVG, with categorical x positions and a y axis from 0 to `yMaximum`. */
export function lineChartSvg(options: { title: string; xLabel: string; yLabel: string; xValues: string[]; yMaximum: number; series: Series[] }): string {
  const { title, xLabel, yLabel, xValues, yMaximum, series } = options;
  const left = 70;
  const plotWidth = 440;
  const top = 48;
  const plotHeight = 300;
  const legendLeft = left + plotWidth + 30;
  // About 7.5 px per character of the 13 px legend font, plus the colour swatch.
  const legendWidth = 30 + 7.5 * Math.max(0, ...series.map((s) => s.name.length));
  const width = Math.round(legendLeft + legendWidth);
  const height = Math.max(top + plotHeight + 60, top + series.length * 20 + 20);
  const xAt = (i: number) => left + (xValues.length === 1 ? plotWidth / 2 : (i / (xValues.length - 1)) * plotWidth);
  const yAt = (value: number) => top + plotHeight - (value / yMaximum) * plotHeight;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(12, 26, title, 'font-size="16" font-weight="bold"'),
  ];
  for (let tick = 0; tick <= 5; tick++) {
    const value = (tick / 5) * yMaximum;
    parts.push(`<line x1="${left}" y1="${yAt(value)}" x2="${left + plotWidth}" y2="${yAt(value)}" stroke="#ddd"/>`);
    parts.push(text(left - 8, yAt(value) + 4, String(Number(value.toPrecision(3))), 'font-size="12" text-anchor="end" fill="#444"'));
  }
  xValues.forEach((label, i) => parts.push(text(xAt(i), top + plotHeight + 18, label, 'font-size="12" text-anchor="middle" fill="#444"')));
  parts.push(text(left + plotWidth / 2, top + plotHeight + 42, xLabel, 'font-size="12" text-anchor="middle" fill="#444"'));
  parts.push(text(16, top + plotHeight / 2, yLabel, `font-size="12" text-anchor="middle" fill="#444" transform="rotate(-90 16 ${top + plotHeight / 2})"`));
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    // A null value ends one line and the next value starts another.
    const runs: Array<Array<readonly [number, number]>> = [[]];
    s.values.forEach((value, x) => {
      if (value === null) runs.push([]);
      else runs[runs.length - 1]!.push([xAt(x), yAt(value)]);
    });
    for (const run of runs) {
      if (run.length > 1) {
        parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${run.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
      }
      for (const [x, y] of run) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="${colour}"/>`);
    }
  });
  parts.push(legend(series, legendLeft, top + 6), '</svg>');
  return parts.join('\n');
}

/** Renders an SVG document to a PNG file. */
export async function writePng(svg: string, file: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(file);
}
