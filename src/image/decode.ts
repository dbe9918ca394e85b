/**
 * The one image decoder that every stage uses: file path or bytes in, upright 8-bit
 * interleaved RGB out, with typed errors for every way an input can be unusable.
 */

import { constants as fsConstants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { FacekitError, invalidArgument } from '../errors.js';
import type { RgbImage } from '../types.js';

/** Default `maxPixels`: 100 000 000 pixels (about 100 megapixels, for example 12 000 × 8 000). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * Background that transparent pixels are flattened onto: mid grey, RGB (128, 128, 128).
 * It has no hue and maps close to 0 under the common (value − 127.5) / 128 input
 * normalisation, so flattened areas carry little signal into a model.
 */
export const FLATTEN_BACKGROUND_RGB = Object.freeze([128, 128, 128] as const);

/** Default JPEG quality of `encodeImage`, 1–100. */
export const DEFAULT_JPEG_QUALITY = 90;

const BUFFER_SOURCE = '<buffer>';

/**
 * Level at which libvips aborts on damaged pixel data. 'error' rejects truncated files
 * and decoder errors but accepts files with recoverable warnings, for example extra bytes
 * before a JPEG marker. sharp's default, 'warning', would reject those files too. 'none'
 * would decode a truncated file without any error.
 */
const FAIL_ON = 'error';

export interface DecodeOptions {
  /**
   * Largest accepted width × height, in pixels, of the image (its first frame for
   * animations and multi-page files). Checked on the header before any pixel is decoded.
   * Default `DEFAULT_MAX_PIXELS` (100 000 000).
   */
  maxPixels?: number;
  /** Name used as `source` and in error messages when the input is a Buffer. Default "<buffer>". Ignored for paths. */
  sourceName?: string;
}

/** An upright 8-bit RGB image with its source and original format. */
export interface DecodedImage extends RgbImage {
  /** The file path as passed in, or `sourceName` ("<buffer>" by default) for byte input. */
  source: string;
  /** Format of the input as sharp names it: 'jpeg', 'png', 'webp', 'gif', 'tiff', 'heif' (AVIF), 'svg'. */
  format: string;
}

interface ResolvedDecodeOptions {
  maxPixels: number;
  sourceName: string;
}

/** Encoded image input: a checked file path or an in-memory buffer. */
interface EncodedInput {
  sharpInput: string | Buffer;
  source: string;
  /** File path for file input, undefined for bytes. Copied to `FacekitError.path`. */
  path: string | undefined;
}

/**
 * Decodes an image file or encoded bytes into upright 8-bit interleaved RGB.
 *
 * Applies the EXIF orientation (1–8), converts greyscale, CMYK and 16-bit images to 8-bit
 * sRGB, flattens transparency onto `FLATTEN_BACKGROUND_RGB` and keeps only the first frame
 * of animated GIF/WebP and multi-page TIFF.
 *
 * @throws FacekitError with code ERR_INVALID_ARGUMENT (bad input type or option),
 *   ERR_FILE_NOT_FOUND, ERR_EMPTY_FILE, ERR_UNSUPPORTED_IMAGE, ERR_CORRUPT_IMAGE or
 *   ERR_IMAGE_TOO_LARGE. File errors carry `path`.
 */
export async function decodeImage(input: string | Buffer | Uint8Array, options?: DecodeOptions): Promise<DecodedImage> {
  const resolved = resolveDecodeOptions(options);
  const encoded = await openEncodedInput(input, resolved);
  const metadata = await readHeader(encoded);
  checkDecodable(metadata, encoded, resolved.maxPixels);
  return decodePixels(encoded, metadata, resolved.maxPixels);
}

function resolveDecodeOptions(options: unknown): ResolvedDecodeOptions {
  if (options === undefined) return { maxPixels: DEFAULT_MAX_PIXELS, sourceName: BUFFER_SOURCE };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument('options', 'an object or undefined', options);
  }
  const { maxPixels = DEFAULT_MAX_PIXELS, sourceName = BUFFER_SOURCE } = options as DecodeOptions;
  if (typeof maxPixels !== 'number' || !Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw invalidArgument('maxPixels', 'a positive integer number of pixels', maxPixels);
  }
  if (typeof sourceName !== 'string' || sourceName.length === 0) {
    throw invalidArgument('sourceName', 'a non-empty string', sourceName);
  }
  return { maxPixels, sourceName };
}

async function openEncodedInput(input: unknown, options: ResolvedDecodeOptions): Promise<EncodedInput> {
  if (typeof input === 'string') {
    if (input.length === 0) throw invalidArgument('input', 'a file path or image bytes', input);
    await checkReadableFile(input);
    return { sharpInput: input, source: input, path: input };
  }
  if (input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length === 0) {
      throw new FacekitError(
        'ERR_EMPTY_FILE',
        `Image data is empty (0 bytes): ${options.sourceName}. Pass the bytes of an encoded image such as JPEG or PNG.`,
      );
    }
    return { sharpInput: bytes, source: options.sourceName, path: undefined };
  }
  throw invalidArgument('input', 'a file path string, Buffer or Uint8Array', input);
}

async function checkReadableFile(filePath: string): Promise<void> {
  let stats;
  try {
    stats = await stat(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new FacekitError('ERR_FILE_NOT_FOUND', `Image file not found: ${filePath}. Check the path and that the file exists.`, {
        path: filePath,
        cause: error,
      });
    }
    throw unreadableFile(filePath, error);
  }

  if (!stats.isFile()) {
    throw new FacekitError('ERR_UNSUPPORTED_IMAGE', `Not an image file: ${filePath} is a folder or device. Pass the path of an image file.`, {
      path: filePath,
    });
  }
  if (stats.size === 0) {
    throw new FacekitError('ERR_EMPTY_FILE', `Image file is empty (0 bytes): ${filePath}. Copy, export or download the image again.`, {
      path: filePath,
    });
  }

  try {
    await access(filePath, fsConstants.R_OK);
  } catch (error) {
    throw unreadableFile(filePath, error);
  }
}

// NOTE: errors.ts has no code for "exists but cannot be read" (EACCES, EPERM, EIO), so
// these use ERR_FILE_NOT_FOUND and the message gives the system error code.
function unreadableFile(filePath: string, error: unknown): FacekitError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return new FacekitError(
    'ERR_FILE_NOT_FOUND',
    `Image file cannot be read (${code}): ${filePath}. Check that the file exists and that you have read permission.`,
    { path: filePath, cause: error },
  );
}

/** Reads the header only. The pixel limit is off here because no pixel is decoded yet. */
async function readHeader(encoded: EncodedInput): Promise<Metadata> {
  try {
    return await sharp(encoded.sharpInput, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch (error) {
    if (await hasImageSignature(encoded)) {
      throw new FacekitError(
        'ERR_CORRUPT_IMAGE',
        `Image header is damaged: ${encoded.source} (${errorMessage(error)}). Copy, export or download the image again.`,
        { path: encoded.path, cause: error },
      );
    }
    throw new FacekitError(
      'ERR_UNSUPPORTED_IMAGE',
      `Not a supported image: ${encoded.source}. facekit reads JPEG, PNG, WebP, AVIF, GIF, TIFF and SVG. Convert the file to JPEG or PNG.`,
      { path: encoded.path, cause: error },
    );
  }
}

function checkDecodable(metadata: Metadata, encoded: EncodedInput, maxPixels: number): void {
  // The prebuilt sharp binaries (0.35) read AVIF but not HEVC-compressed HEIF (HEIC, the
  // iPhone default) because HEVC is patent-encumbered. Decoding fails later with an
  // unclear codec error, so report it here.
  // NOTE: no HEIC fixture tests this branch, because sharp cannot write HEVC either.
  if (metadata.format === 'heif' && metadata.compression === 'hevc') {
    throw new FacekitError(
      'ERR_UNSUPPORTED_IMAGE',
      `HEIC (HEVC-compressed) images are not supported: ${encoded.source}. Convert the file to JPEG or PNG.`,
      { path: encoded.path },
    );
  }

  const { width, height } = metadata;
  if (width === undefined || height === undefined || width < 1 || height < 1) {
    throw new FacekitError(
      'ERR_CORRUPT_IMAGE',
      `Image header has no valid dimensions: ${encoded.source}. Copy, export or download the image again.`,
      { path: encoded.path },
    );
  }

  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new FacekitError(
      'ERR_IMAGE_TOO_LARGE',
      `Image is too large: ${encoded.source} is ${width}×${height} = ${pixels} pixels, more than maxPixels (${maxPixels}). ` +
        'Downscale the image or raise the maxPixels option.',
      { path: encoded.path },
    );
  }
}

async function decodePixels(encoded: EncodedInput, metadata: Metadata, maxPixels: number): Promise<DecodedImage> {
  // pages: 1 keeps the first frame of animations and the first page of multi-page TIFF.
  // limitInputPixels repeats the header check inside libvips. flatten() does nothing
  // when the image has no alpha channel.
  const [r, g, b] = FLATTEN_BACKGROUND_RGB;
  const pipeline = sharp(encoded.sharpInput, { failOn: FAIL_ON, limitInputPixels: maxPixels, pages: 1 })
    .autoOrient()
    .flatten({ background: { r, g, b } })
    // sharp 0.35 already writes sRGB by default. Asking for it states the contract:
    // greyscale expands to 3 channels, CMYK converts through the embedded or the libvips
    // built-in profile, and 16-bit channels become 8-bit.
    .toColourspace('srgb')
    .raw();

  let output: { data: Buffer; info: OutputInfo };
  try {
    output = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new FacekitError(
      'ERR_CORRUPT_IMAGE',
      `Image data is truncated or damaged: ${encoded.source} (${errorMessage(error)}). Copy, export or download the image again.`,
      { path: encoded.path, cause: error },
    );
  }

  const { data, info } = output;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new FacekitError(
      'ERR_UNSUPPORTED_IMAGE',
      `Image has an unsupported channel layout: ${encoded.source} decoded to ${info.channels} channels ` +
        `(${metadata.space ?? 'unknown'} colour space). Convert the file to an RGB JPEG or PNG.`,
      { path: encoded.path },
    );
  }
  return { data, width: info.width, height: info.height, source: encoded.source, format: metadata.format };
}

/**
 * Magic numbers of the formats that sharp reads, used to tell a damaged header of a real
 * image from a file that is not an image at all.
 */
const IMAGE_SIGNATURES: readonly { offset: number; bytes: readonly number[] }[] = [
  { offset: 0, bytes: [0xff, 0xd8, 0xff] }, // JPEG
  { offset: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] }, // PNG
  { offset: 0, bytes: [0x47, 0x49, 0x46, 0x38] }, // GIF: "GIF8"
  { offset: 8, bytes: [0x57, 0x45, 0x42, 0x50] }, // WebP: "WEBP" after the RIFF header
  { offset: 0, bytes: [0x49, 0x49, 0x2a, 0x00] }, // TIFF, little-endian
  { offset: 0, bytes: [0x4d, 0x4d, 0x00, 0x2a] }, // TIFF, big-endian
  { offset: 4, bytes: [0x66, 0x74, 0x79, 0x70] }, // HEIF/AVIF: "ftyp" box
];
const SIGNATURE_BYTES = 12;

async function hasImageSignature(encoded: EncodedInput): Promise<boolean> {
  let head: Buffer;
  try {
    head = await readHead(encoded);
  } catch {
    return false;
  }
  return IMAGE_SIGNATURES.some(({ offset, bytes }) => bytes.every((byte, i) => head[offset + i] === byte));
}

async function readHead(encoded: EncodedInput): Promise<Buffer> {
  if (Buffer.isBuffer(encoded.sharpInput)) return encoded.sharpInput.subarray(0, SIGNATURE_BYTES);
  const handle = await open(encoded.sharpInput, 'r');
  try {
    const head = Buffer.alloc(SIGNATURE_BYTES);
    const { bytesRead } = await handle.read(head, 0, SIGNATURE_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.trim().replace(/\s+/g, ' ');
}

/**
 * Checks that a caller's value is an `RgbImage`: positive integer `width` and `height`
 * and a `data` array of exactly width × height × 3 bytes (interleaved 8-bit RGB, no
 * alpha, no row padding). Returns a new object sharing the caller's pixel memory, with
 * a Uint8ClampedArray (canvas ImageData style) viewed as a Uint8Array.
 *
 * @param name Parameter name used in error messages. Default "image".
 * @throws FacekitError with code ERR_INVALID_ARGUMENT.
 */
export function imageFromRaw(image: unknown, name = 'image'): RgbImage {
  if (image === null || typeof image !== 'object') {
    throw invalidArgument(name, 'an object { data, width, height } of 8-bit interleaved RGB', image);
  }
  const { data, width, height } = image as Record<string, unknown>;
  if (typeof width !== 'number' || !Number.isSafeInteger(width) || width < 1) {
    throw invalidArgument(`${name}.width`, 'a positive integer number of pixels', width);
  }
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) {
    throw invalidArgument(`${name}.height`, 'a positive integer number of pixels', height);
  }
  if (!(data instanceof Uint8Array) && !(data instanceof Uint8ClampedArray)) {
    throw invalidArgument(`${name}.data`, 'a Uint8Array of interleaved 8-bit RGB values', data);
  }
  const expectedLength = width * height * 3;
  if (data.length !== expectedLength) {
    throw invalidArgument(
      `${name}.data length`,
      `${expectedLength} bytes (width ${width} × height ${height} × 3 channels of interleaved RGB)`,
      data.length,
    );
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: bytes, width, height };
}

/** Wraps a checked `RgbImage` as sharp raw input without copying the pixels. */
export function sharpFromRgb(image: RgbImage): Sharp {
  const bytes = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return sharp(bytes, { raw: { width: image.width, height: image.height, channels: 3 } });
}

/**
 * Encodes an RGB image as JPEG or PNG.
 *
 * @param quality JPEG quality, an integer from 1 to 100. Default `DEFAULT_JPEG_QUALITY` (90).
 *   Ignored for PNG, which is lossless.
 * @throws FacekitError with code ERR_INVALID_ARGUMENT.
 */
export async function encodeImage(image: RgbImage, format: 'jpeg' | 'png', quality: number = DEFAULT_JPEG_QUALITY): Promise<Buffer> {
  const checked = imageFromRaw(image);
  if (format !== 'jpeg' && format !== 'png') throw invalidArgument('format', "'jpeg' or 'png'", format);
  checkQuality(quality);
  const pipeline = sharpFromRgb(checked);
  return format === 'jpeg' ? pipeline.jpeg({ quality }).toBuffer() : pipeline.png().toBuffer();
}

/** Checks a JPEG quality value: an integer from 1 to 100. */
export function checkQuality(quality: unknown): asserts quality is number {
  if (typeof quality !== 'number' || !Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw invalidArgument('quality', 'an integer from 1 to 100', quality);
  }
}

export interface ResizeOptions {
  /** Output width in pixels. */
  width: number;
  /** Output height in pixels. */
  height: number;
  /**
   * Fit mode: 'fill' stretches to the exact size, 'contain' letterboxes with
   * `FLATTEN_BACKGROUND_RGB` and 'cover' crops the centre. Default 'fill'.
   */
  fit?: 'fill' | 'contain' | 'cover';
}

const RESIZE_FITS = ['fill', 'contain', 'cover'] as const;

/**
 * Resizes an RGB image with sharp's default Lanczos-3 kernel.
 *
 * @throws FacekitError with code ERR_INVALID_ARGUMENT.
 */
export async function resizeImage(image: RgbImage, options: ResizeOptions): Promise<RgbImage> {
  const checked = imageFromRaw(image);
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('options', 'an object { width, height, fit? }', options);
  }
  const { width, height, fit = 'fill' } = options;
  if (typeof width !== 'number' || !Number.isSafeInteger(width) || width < 1) {
    throw invalidArgument('width', 'a positive integer number of pixels', width);
  }
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) {
    throw invalidArgument('height', 'a positive integer number of pixels', height);
  }
  if (!RESIZE_FITS.includes(fit)) throw invalidArgument('fit', "'fill', 'contain' or 'cover'", fit);

  const [r, g, b] = FLATTEN_BACKGROUND_RGB;
  const { data, info } = await sharpFromRgb(checked)
    .resize(width, height, { fit, background: { r, g, b } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
