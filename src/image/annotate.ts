/**
 * Draws face boxes, keypoints and name tags onto an image and encodes the result, using
 * one SVG overlay composited by sharp.
 */

import sharp from 'sharp';
import { invalidArgument } from '../errors.js';
import type { BoxPx, PointPx, RgbImage } from '../types.js';
import { DEFAULT_JPEG_QUALITY, checkQuality, imageFromRaw, sharpFromRgb } from './decode.js';

/** Suggested mark colours: green for a recognised person, orange for an unknown face. */
export const MARK_COLORS = Object.freeze({ known: '#00c853', unknown: '#ff6d00' });

/**
 * Font for labels. Text is rendered by the Pango and fontconfig libraries bundled with
 * sharp, but the font files come from the system: on Debian they are in `fonts-dejavu-core`.
 * Without them fontconfig picks another installed font.
 */
const FONT_FAMILY = 'DejaVu Sans';

export interface Annotation {
  /** Box to outline, in pixels of the image. The outline is drawn inside the box. */
  boxPx: BoxPx;
  /** Text shown in a filled tag above the box, or inside its top when the box touches the image's top edge. */
  label?: string;
  /** Points drawn as dots, in pixels of the image, for example eye and mouth landmarks. */
  keypointsPx?: readonly PointPx[];
  /** Colour of the outline, tag and dots as '#rgb' or '#rrggbb'. Default `MARK_COLORS.known`. */
  color?: string;
}

export interface AnnotateOptions {
  /** Output format. Default 'jpeg'. */
  format?: 'jpeg' | 'png';
  /** JPEG quality from 1 to 100. Default `DEFAULT_JPEG_QUALITY` (90). Ignored for PNG. */
  quality?: number;
  /** Outline width in pixels. Default: the image's shorter side / 300, at least 2. */
  lineWidthPx?: number;
  /** Label font size in pixels. Default: the image's shorter side / 32, at least 12. */
  fontSizePx?: number;
}

interface ResolvedAnnotateOptions {
  format: 'jpeg' | 'png';
  quality: number;
  lineWidthPx: number;
  fontSizePx: number;
}

interface CheckedMark {
  boxPx: BoxPx;
  label: string | undefined;
  keypointsPx: readonly PointPx[];
  color: string;
}

/** Tag geometry relative to the font size, chosen for DejaVu Sans (ascent 0.93 em, descent 0.24 em). */
const TAG_HEIGHT_EM = 1.5;
const TAG_BASELINE_EM = 1.1;
const TAG_PADDING_EM = 0.4;

/**
 * Draws `marks` onto a copy of `image` and returns it encoded as JPEG (default) or PNG.
 * Marks are drawn in array order, so later marks cover earlier ones. Boxes may extend
 * past the image edges and are clipped there.
 *
 * @throws FacekitError with code ERR_INVALID_ARGUMENT for an invalid image, mark or option.
 */
export async function annotateImage(image: RgbImage, marks: readonly Annotation[], options?: AnnotateOptions): Promise<Buffer> {
  const checkedImage = imageFromRaw(image);
  if (!Array.isArray(marks)) throw invalidArgument('marks', 'an array of annotations', marks);
  const checkedMarks = marks.map((mark, index) => checkMark(mark, index));
  const resolved = resolveAnnotateOptions(options, checkedImage);

  const labelWidths = await Promise.all(
    checkedMarks.map((mark) => (mark.label === undefined ? 0 : measureLabelWidth(mark.label, resolved.fontSizePx))),
  );
  const svg = buildOverlay(checkedImage, checkedMarks, labelWidths, resolved);

  const pipeline = sharpFromRgb(checkedImage).composite([{ input: Buffer.from(svg, 'utf8'), left: 0, top: 0 }]);
  return resolved.format === 'jpeg' ? pipeline.jpeg({ quality: resolved.quality }).toBuffer() : pipeline.png().toBuffer();
}

function resolveAnnotateOptions(options: unknown, image: RgbImage): ResolvedAnnotateOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const shortSide = Math.min(image.width, image.height);
  const {
    format = 'jpeg',
    quality = DEFAULT_JPEG_QUALITY,
    lineWidthPx = Math.max(2, Math.round(shortSide / 300)),
    fontSizePx = Math.max(12, Math.round(shortSide / 32)),
  } = (options ?? {}) as AnnotateOptions;

  if (format !== 'jpeg' && format !== 'png') throw invalidArgument('format', "'jpeg' or 'png'", format);
  checkQuality(quality);
  if (typeof lineWidthPx !== 'number' || !Number.isFinite(lineWidthPx) || lineWidthPx <= 0) {
    throw invalidArgument('lineWidthPx', 'a positive number of pixels', lineWidthPx);
  }
  if (typeof fontSizePx !== 'number' || !Number.isFinite(fontSizePx) || fontSizePx <= 0) {
    throw invalidArgument('fontSizePx', 'a positive number of pixels', fontSizePx);
  }
  return { format, quality, lineWidthPx, fontSizePx };
}

function checkMark(mark: unknown, index: number): CheckedMark {
  const name = `marks[${index}]`;
  if (mark === null || typeof mark !== 'object') throw invalidArgument(name, 'an object { boxPx, label?, keypointsPx?, color? }', mark);
  const { boxPx, label, keypointsPx = [], color = MARK_COLORS.known } = mark as Annotation;

  if (boxPx === null || typeof boxPx !== 'object') throw invalidArgument(`${name}.boxPx`, 'an object { x, y, width, height } in pixels', boxPx);
  for (const key of ['x', 'y', 'width', 'height'] as const) {
    const value = boxPx[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(`${name}.boxPx.${key}`, 'a finite number of pixels', value);
  }
  if (boxPx.width <= 0 || boxPx.height <= 0) {
    throw invalidArgument(`${name}.boxPx`, 'a positive width and height', `${boxPx.width}×${boxPx.height}`);
  }

  if (label !== undefined && typeof label !== 'string') throw invalidArgument(`${name}.label`, 'a string or undefined', label);
  if (!Array.isArray(keypointsPx)) throw invalidArgument(`${name}.keypointsPx`, 'an array of [x, y] points in pixels', keypointsPx);
  keypointsPx.forEach((point: unknown, pointIndex) => {
    if (!Array.isArray(point) || point.length !== 2 || !point.every((value) => typeof value === 'number' && Number.isFinite(value))) {
      throw invalidArgument(`${name}.keypointsPx[${pointIndex}]`, 'an [x, y] pair of finite numbers', point);
    }
  });
  // Only hex colours are accepted, which also keeps the value safe inside an SVG attribute.
  if (typeof color !== 'string' || !/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)) {
    throw invalidArgument(`${name}.color`, "a hex colour '#rgb' or '#rrggbb'", color);
  }

  const cleanLabel = label === undefined ? undefined : cleanText(label);
  return { boxPx, label: cleanLabel === '' ? undefined : cleanLabel, keypointsPx, color };
}

/**
 * Makes a label safe for one line of XML text: line breaks and tabs become spaces,
 * characters that XML 1.0 forbids are removed and unpaired surrogates become U+FFFD.
 */
function cleanText(text: string): string {
  return text
    .replace(/[\t\n\r]+/g, ' ')
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .trim();
}

/** Escapes text for XML character data and attribute values. Pango markup uses the same rules. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => {
    switch (char) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      default: return '&apos;';
    }
  });
}

/**
 * Measures the rendered width of a label by drawing it with sharp's text input, which uses
 * the same Pango and fontconfig as the SVG renderer. At 72 dpi one point is one pixel.
 */
async function measureLabelWidth(label: string, fontSizePx: number): Promise<number> {
  const { width } = await sharp({ text: { text: escapeXml(label), font: `${FONT_FAMILY} Bold ${fontSizePx}`, dpi: 72 } }).metadata();
  return width ?? 0;
}

function buildOverlay(image: RgbImage, marks: readonly CheckedMark[], labelWidths: readonly number[], options: ResolvedAnnotateOptions): string {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${image.width}" height="${image.height}" viewBox="0 0 ${image.width} ${image.height}">`,
  ];
  marks.forEach((mark, index) => {
    parts.push(drawBox(mark, options.lineWidthPx));
    parts.push(...drawKeypoints(mark, options.lineWidthPx));
    if (mark.label !== undefined) parts.push(drawLabel(mark, labelWidths[index]!, image, options.fontSizePx));
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Draws the outline inside the box, so that its outer edge lies on the box edge. */
function drawBox(mark: CheckedMark, lineWidth: number): string {
  const { x, y, width, height } = mark.boxPx;
  const inset = Math.min(lineWidth / 2, width / 2, height / 2);
  return (
    `<rect x="${fmt(x + inset)}" y="${fmt(y + inset)}" width="${fmt(width - 2 * inset)}" height="${fmt(height - 2 * inset)}" ` +
    `fill="none" stroke="${mark.color}" stroke-width="${fmt(lineWidth)}"/>`
  );
}

function drawKeypoints(mark: CheckedMark, lineWidth: number): string[] {
  const radius = Math.max(2, lineWidth * 1.25);
  const outline = Math.max(1, lineWidth / 3);
  return mark.keypointsPx.map(
    ([x, y]) => `<circle cx="${fmt(x)}" cy="${fmt(y)}" r="${fmt(radius)}" fill="${mark.color}" stroke="#000000" stroke-opacity="0.6" stroke-width="${fmt(outline)}"/>`,
  );
}

/**
 * Draws a filled tag with the label. The tag sits on top of the box and moves inside the
 * box when there is no room above it. It is shifted left to stay within the image.
 */
function drawLabel(mark: CheckedMark, textWidth: number, image: RgbImage, fontSize: number): string {
  const padding = fontSize * TAG_PADDING_EM;
  const tagWidth = textWidth + 2 * padding;
  const tagHeight = fontSize * TAG_HEIGHT_EM;
  const { x, y } = mark.boxPx;

  const left = Math.max(0, Math.min(x, image.width - tagWidth));
  const top = y - tagHeight >= 0 ? y - tagHeight : Math.max(0, y);
  const textColor = contrastingTextColor(mark.color);

  return (
    `<rect x="${fmt(left)}" y="${fmt(top)}" width="${fmt(tagWidth)}" height="${fmt(tagHeight)}" fill="${mark.color}"/>` +
    `<text x="${fmt(left + padding)}" y="${fmt(top + fontSize * TAG_BASELINE_EM)}" font-family="${FONT_FAMILY}, sans-serif" ` +
    `font-weight="bold" font-size="${fmt(fontSize)}" fill="${textColor}">${escapeXml(mark.label!)}</text>`
  );
}

/** Picks black or white text, whichever has the higher WCAG 2 contrast ratio against `hexColor`. */
function contrastingTextColor(hexColor: string): string {
  const hex = hexColor.length === 4 ? [...hexColor.slice(1)].map((digit) => digit + digit).join('') : hexColor.slice(1);
  const [r, g, b] = [0, 2, 4].map((start) => {
    const channel = parseInt(hex.slice(start, start + 2), 16) / 255;
    return channel <= 0.04045 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const contrastWithWhite = 1.05 / (luminance + 0.05);
  const contrastWithBlack = (luminance + 0.05) / 0.05;
  return contrastWithBlack >= contrastWithWhite ? '#000000' : '#ffffff';
}

/** Formats a coordinate for SVG with at most two decimals. */
function fmt(value: number): string {
  return String(Math.round(value * 100) / 100);
}
