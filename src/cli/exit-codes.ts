/** The one table from error codes to process exit codes. */
import type { ErrorCode } from '../errors.js';

export const EXIT = {
  ok: 0,
  /** The run finished but some inputs failed (each is reported). */
  someInputsFailed: 1,
  /** Invalid command line: unknown option, bad value. */
  usage: 2,
  /** An input file or folder is missing or unreadable. */
  input: 3,
  /** A model is missing, damaged or made for something else. */
  model: 4,
  /** The dataset cannot be used as a whole. */
  dataset: 5,
  /** A required program or package is not installed. */
  dependency: 6,
  /** Writing the output failed, or it would overwrite something. */
  output: 7,
  /** An unexpected internal error: please report it. */
  internal: 70,
  /** Interrupted (Ctrl-C) or cancelled. */
  cancelled: 130,
} as const;

export const EXIT_CODE_FOR_ERROR: Record<ErrorCode, number> = {
  ERR_INVALID_ARGUMENT: EXIT.usage,
  ERR_FILE_NOT_FOUND: EXIT.input,
  ERR_EMPTY_FILE: EXIT.input,
  ERR_UNSUPPORTED_IMAGE: EXIT.input,
  ERR_CORRUPT_IMAGE: EXIT.input,
  ERR_IMAGE_TOO_LARGE: EXIT.input,
  ERR_VIDEO: EXIT.input,
  ERR_UNSUPPORTED_OP: EXIT.model,
  ERR_UNSUPPORTED: EXIT.usage,
  ERR_MODEL_INVALID: EXIT.model,
  ERR_MODEL_MISMATCH: EXIT.model,
  ERR_MODEL_PACKAGE_MISSING: EXIT.dependency,
  ERR_FFMPEG_MISSING: EXIT.dependency,
  ERR_ALREADY_EXISTS: EXIT.output,
  ERR_WRITE_FAILED: EXIT.output,
  ERR_DISPOSED: EXIT.internal,
  ERR_DATASET: EXIT.dataset,
  ERR_CANCELLED: EXIT.cancelled,
};
