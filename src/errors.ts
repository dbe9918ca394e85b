/**
 * Typed errors with stable codes. Callers branch on `code`, never on the message.
 * The CLI maps codes to exit codes and the server maps them to HTTP statuses, each in
 * one table (`src/cli/exit-codes.ts`, `src/server/errors.ts`).
 */

export const ERROR_CODES = [
  /** An option or argument has the wrong type or is out of range. */
  'ERR_INVALID_ARGUMENT',
  /** A file or folder does not exist. */
  'ERR_FILE_NOT_FOUND',
  /** A file exists but has zero bytes. */
  'ERR_EMPTY_FILE',
  /** The bytes are not an image format that the decoder reads. */
  'ERR_UNSUPPORTED_IMAGE',
  /** The image header was read but its data is truncated or damaged. */
  'ERR_CORRUPT_IMAGE',
  /** The image has more pixels than the configured limit. */
  'ERR_IMAGE_TOO_LARGE',
  /** A model graph uses an operation that the TF.js-to-ONNX converter does not know. */
  'ERR_UNSUPPORTED_OP',
  /** A feature is not supported (yet). The message names it. */
  'ERR_UNSUPPORTED',
  /** An optional npm package that contains model weights is not installed. */
  'ERR_MODEL_PACKAGE_MISSING',
  /** A model file (pretrained or trained) is missing, damaged or inconsistent. */
  'ERR_MODEL_INVALID',
  /** A trained model was made for another backbone or format version. */
  'ERR_MODEL_MISMATCH',
  /** Saving would overwrite an existing model or file. */
  'ERR_ALREADY_EXISTS',
  /** An object was used after `dispose()`. */
  'ERR_DISPOSED',
  /** A dataset folder is unusable as a whole (no people, one person, ...). */
  'ERR_DATASET',
  /** ffmpeg is not installed or not on the PATH. */
  'ERR_FFMPEG_MISSING',
  /** A video could not be read (corrupt, truncated, no video stream). */
  'ERR_VIDEO',
  /** Work was cancelled by the caller. */
  'ERR_CANCELLED',
  /** Writing to disk failed (disk full, permissions). */
  'ERR_WRITE_FAILED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FacekitErrorOptions {
  /** The file or folder the error is about, when there is one. */
  path?: string;
  /** The underlying error. */
  cause?: unknown;
}

export class FacekitError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: FacekitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FacekitError';
    this.code = code;
    this.path = options.path;
  }
}

export function isFacekitError(value: unknown, code?: ErrorCode): value is FacekitError {
  return value instanceof FacekitError && (code === undefined || value.code === code);
}

/** Formats a received value for an error message: its type and a short rendering. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (Buffer.isBuffer(value)) return `Buffer of ${value.length} bytes`;
  return typeof value === 'object' ? `object ${value.constructor?.name ?? 'Object'}` : typeof value;
}

/** Builds the one message shape used for invalid options: name, expectation, received value. */
export function invalidArgument(name: string, expected: string, received: unknown): FacekitError {
  return new FacekitError(
    'ERR_INVALID_ARGUMENT',
    `Invalid ${name}: expected ${expected}, received ${describeValue(received)}`,
  );
}
