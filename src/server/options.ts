/** Options of `createServer`, their defaults (defined only here) and the one function that applies them. */
import { isIP } from 'node:net';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { invalidArgument } from '../errors.js';

export interface ServerLimits {
  /**
   * Largest request body, in bytes, for uploads (raw or multipart) and JSON. Larger
   * requests get 413. Default 20 MiB (20 971 520 bytes), chosen so that phone and
   * camera photos pass: by estimate, a 24-megapixel JPEG takes 8–15 MB.
   */
  bodyBytes: number;
  /**
   * Largest decoded image, in pixels (width × height), passed to the decoder as
   * `maxPixels`. Larger images get 413 with ERR_IMAGE_TOO_LARGE. Default 40 000 000: a
   * 40-megapixel image takes 120 MB as RGB, and two run at once by default.
   */
  maxPixels: number;
  /**
   * Detections, recognitions and sample checks that run at the same time. Default 2: the
   * decode of one image overlaps the inference of another, and ONNX Runtime already
   * spreads each inference over all cores.
   */
  maxConcurrentInference: number;
  /**
   * Inference requests that wait for a free slot. Beyond this, requests get 503 with
   * ERR_BUSY and `Retry-After`. Default 16, enough for several live pages that each
   * keep one frame in flight.
   */
  maxQueuedInference: number;
  /** Seconds sent in `Retry-After` with ERR_BUSY. Default 1. */
  retryAfterSeconds: number;
}

export interface ServerOptions {
  /** Dataset folder, one sub-folder per person. Without it, the dataset, capture and training routes respond with 404 ERR_NOT_CONFIGURED. */
  dataset?: string;
  /** Folder of trained models, one sub-folder each. Without it, the model and training routes respond with 404 ERR_NOT_CONFIGURED. */
  models?: string;
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** TCP port. Default 7860; 0 picks a free port (see the returned `port`). */
  port?: number;
  /** When set, every `/api` request needs `Authorization: Bearer <token>`. Default: no token. */
  token?: string;
  limits?: Partial<ServerLimits>;
  /** Logger for the server and one line per request, for example a pino instance. Default: pino at level `silent`. */
  logger?: FastifyBaseLogger;
  /** Folder of static web UI files. Default: the `web/` folder of this package. */
  webRoot?: string;
  /** Feature cache for training jobs, as `train`'s `cacheDir`. Default: the library's default (the user cache folder). */
  trainCacheDir?: string | false;
  /** ONNX Runtime intra-op threads per session. Default: the number of logical CPU cores. */
  intraOpThreads?: number;
}

export const SERVER_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 7860,
  limits: Object.freeze({
    bodyBytes: 20 * 1024 * 1024,
    maxPixels: 40_000_000,
    maxConcurrentInference: 2,
    maxQueuedInference: 16,
    retryAfterSeconds: 1,
  } satisfies ServerLimits),
});

export interface ResolvedServerOptions {
  dataset: string | undefined;
  models: string | undefined;
  host: string;
  port: number;
  token: string | undefined;
  limits: ServerLimits;
  logger: FastifyBaseLogger | undefined;
  webRoot: string;
  trainCacheDir: string | false | undefined;
  intraOpThreads: number | undefined;
}

/** Checks `options` and returns a new object with the defaults filled in; the caller's object is not changed. */
export function resolveServerOptions(options: ServerOptions, defaultWebRoot: string): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
  const host = options.host ?? SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || host.length === 0) throw invalidArgument('host', 'a host name or IP address', host);
  const port = options.port ?? SERVER_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument('port', 'an integer from 0 to 65535', port);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) {
    throw invalidArgument('token', 'a non-empty string or undefined', options.token);
  }
  for (const key of ['dataset', 'models', 'webRoot'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) throw invalidArgument(key, 'a folder path', value);
  }
  return {
    dataset: options.dataset === undefined ? undefined : path.resolve(options.dataset),
    models: options.models === undefined ? undefined : path.resolve(options.models),
    host,
    port,
    token: options.token,
    limits: resolveLimits(options.limits),
    logger: options.logger,
    webRoot: path.resolve(options.webRoot ?? defaultWebRoot),
    trainCacheDir: options.trainCacheDir,
    intraOpThreads: options.intraOpThreads,
  };
}

function resolveLimits(limits: Partial<ServerLimits> | undefined): ServerLimits {
  if (limits !== undefined && (typeof limits !== 'object' || limits === null)) throw invalidArgument('limits', 'an object', limits);
  const resolved: ServerLimits = { ...SERVER_DEFAULTS.limits };
  for (const [key, value] of Object.entries(limits ?? {})) {
    if (value === undefined) continue;
    if (!(key in resolved)) throw invalidArgument('limits', `only the keys ${Object.keys(resolved).join(', ')}`, key);
    const minimum = key === 'maxQueuedInference' || key === 'retryAfterSeconds' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < minimum) throw invalidArgument(`limits.${key}`, `an integer of at least ${minimum}`, value);
    (resolved as unknown as Record<string, number>)[key] = value;
  }
  return resolved;
}

/**
 * Returns whether `host` only accepts connections from this machine: `localhost`, an address in
 * 127.0.0.0/8, or `::1`.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
  return false;
}
