/**
 * The one table from error codes to HTTP statuses, and the JSON error body every route
 * sends: `{ "error": { "code", "message" } }`. Library errors keep their `FacekitError`
 * code; failures that only exist over HTTP (authentication, routing, load) get the
 * server codes below.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, FacekitError } from '../errors.js';

/** HTTP status for each library error code. */
export const HTTP_STATUS_FOR_ERROR: Readonly<Record<ErrorCode, number>> = Object.freeze({
  ERR_INVALID_ARGUMENT: 400,
  ERR_EMPTY_FILE: 400,
  ERR_FILE_NOT_FOUND: 404,
  ERR_ALREADY_EXISTS: 409,
  ERR_CANCELLED: 409,
  ERR_IMAGE_TOO_LARGE: 413,
  ERR_UNSUPPORTED_IMAGE: 415,
  ERR_CORRUPT_IMAGE: 422,
  ERR_MODEL_INVALID: 422,
  ERR_MODEL_MISMATCH: 422,
  ERR_DATASET: 422,
  ERR_VIDEO: 422,
  ERR_UNSUPPORTED: 501,
  ERR_DISPOSED: 503,
  ERR_UNSUPPORTED_OP: 500,
  ERR_MODEL_PACKAGE_MISSING: 500,
  ERR_FFMPEG_MISSING: 500,
  ERR_WRITE_FAILED: 500,
});

/** Codes of failures that only the HTTP layer produces, with their statuses. */
export const SERVER_ERROR_STATUS = Object.freeze({
  /** Malformed request: bad JSON, a missing body, an unknown field. */
  ERR_BAD_REQUEST: 400,
  /** The bearer token is missing or wrong. */
  ERR_UNAUTHORIZED: 401,
  /** The request came from a web page of another origin, or named a non-loopback Host on a loopback server. */
  ERR_FORBIDDEN: 403,
  /** No such route, person, sample, model or job. */
  ERR_NOT_FOUND: 404,
  /** The server was started without the folder the route needs (`--dataset` or `--models`). */
  ERR_NOT_CONFIGURED: 404,
  /** Recognition was requested before a model was loaded. */
  ERR_NO_ACTIVE_MODEL: 409,
  /** A training job is already running. */
  ERR_TRAINING_RUNNING: 409,
  /** The request body is larger than `limits.bodyBytes`. */
  ERR_PAYLOAD_TOO_LARGE: 413,
  /** The body is neither multipart form data, an `image/*` body nor JSON where JSON is expected. */
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** All inference slots and queue places are taken; retry after the `Retry-After` seconds. */
  ERR_BUSY: 503,
  /** The server is shutting down. */
  ERR_SHUTTING_DOWN: 503,
  /** A bug in facekit; the server log has the details. */
  ERR_INTERNAL: 500,
});

export type ServerErrorCode = keyof typeof SERVER_ERROR_STATUS;

/** An error raised by the HTTP layer itself. */
export class HttpError extends Error {
  readonly code: ServerErrorCode;
  readonly statusCode: number;
  /** Seconds a client should wait before retrying, sent as `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ServerErrorCode, message: string, options: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.statusCode = SERVER_ERROR_STATUS[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Status, code and client-facing message for any error that reached a route. */
export interface ErrorResponse {
  statusCode: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
  /** Whether the error is a server fault that should be logged with its stack. */
  internal: boolean;
}

/** Fastify's own client-error codes and the server code each becomes. */
const FASTIFY_CODES: Readonly<Record<string, ServerErrorCode>> = Object.freeze({
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'ERR_PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
});

/**
 * Converts any thrown value into the status and JSON body sent to the client. Messages
 * of unexpected errors are replaced by a generic one, so no stack trace or internal
 * detail leaves the server.
 */
export function toErrorResponse(error: unknown): ErrorResponse {
  if (error instanceof HttpError) {
    return { statusCode: error.statusCode, body: errorBody(error.code, error.message), retryAfterSeconds: error.retryAfterSeconds, internal: false };
  }
  if (error instanceof FacekitError) {
    const statusCode = HTTP_STATUS_FOR_ERROR[error.code];
    return { statusCode, body: errorBody(error.code, error.message), internal: statusCode >= 500 };
  }
  const fastifyError = error as Partial<FastifyError> | null;
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = (fastifyError?.code && FASTIFY_CODES[fastifyError.code]) || (status === 413 ? 'ERR_PAYLOAD_TOO_LARGE' : status === 415 ? 'ERR_UNSUPPORTED_MEDIA_TYPE' : 'ERR_BAD_REQUEST');
    return { statusCode: SERVER_ERROR_STATUS[code], body: errorBody(code, fastifyError?.message ?? 'Bad request'), internal: false };
  }
  return {
    statusCode: 500,
    body: errorBody('ERR_INTERNAL', 'Internal server error; the server log has the details'),
    internal: true,
  };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Fastify error handler: logs server faults with their stack and sends the JSON error body. */
export function handleRouteError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const response = toErrorResponse(error);
  if (response.internal) request.log.error({ err: error }, 'request failed');
  if (response.retryAfterSeconds !== undefined) void reply.header('retry-after', String(response.retryAfterSeconds));
  // The client may still be sending the rejected body. Closing the connection stops the
  // upload, so the socket cannot delay a graceful shutdown until its keep-alive timeout.
  if (response.statusCode === 413) void reply.header('connection', 'close');
  return reply.code(response.statusCode).type('application/json; charset=utf-8').send(response.body);
}
