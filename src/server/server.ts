/**
 * `createServer`: the facekit HTTP API and the static web UI in one Fastify process.
 * Routes live in `routes/`, the status table in `errors.ts`, and the API is documented
 * in `docs/api.md`.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { pino } from 'pino';
import { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError } from '../errors.js';
import { checkRequestOrigin, createTokenCheck } from './auth.js';
import type { ServerContext } from './context.js';
import { errorBody, handleRouteError } from './errors.js';
import { ModelRegistry } from './model-registry.js';
import { type ServerOptions, isLoopbackHost, resolveServerOptions } from './options.js';
import { PeopleStore } from './people-store.js';
import { registerDatasetRoutes } from './routes/dataset.js';
import { registerInferenceRoutes } from './routes/inference.js';
import { registerModelRoutes } from './routes/models.js';
import { registerSystemRoutes } from './routes/system.js';
import { registerTrainingRoutes } from './routes/training.js';
import { InferenceGate } from './semaphore.js';
import type { EventStream } from './sse.js';
import { TrainingJobs } from './training-jobs.js';

/** The package's `web/` folder; the same relative path from `src/server` and `dist/server`. */
const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

export interface FacekitServer {
  app: FastifyInstance;
  /** Base URL, for example `http://127.0.0.1:7860`. */
  url: string;
  host: string;
  /** The port listened on; the chosen one when `port` was 0. */
  port: number;
  /**
   * Shuts down gracefully and idempotently. New requests get 503 at once. A running
   * training job is cancelled, so no model is saved, and open event streams are ended.
   * In-flight requests then finish, and the recognisers and face pipeline are disposed.
   */
  close(): Promise<void>;
}

/** Listen failures that a different host or port fixes, with their explanation. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = Object.freeze({
  EADDRINUSE: 'the port is already in use',
  EACCES: 'the port needs privileges this process lacks',
  EADDRNOTAVAIL: 'the host is not an address of this machine',
});

/** Writes one log line per finished request, with its status and time, and nothing when it arrives. */
class OneLineLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...fields, err: error }, 'request failed');
    else reply.log.info(fields, 'request');
  }
}

/** Starts the facekit server and resolves once it listens. */
export async function createServer(options: ServerOptions = {}): Promise<FacekitServer> {
  const resolved = resolveServerOptions(options, DEFAULT_WEB_ROOT);
  const logger: FastifyBaseLogger = resolved.logger ?? pino({ level: 'silent' });
  // Created up front, so listing an empty dataset or models folder works before the first sample or model.
  for (const folder of [resolved.dataset, resolved.models]) {
    if (folder === undefined || existsSync(folder)) continue;
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw new FacekitError('ERR_WRITE_FAILED', `Creating the folder ${folder} failed (${(error as Error).message}); check the path and its permissions`, { path: folder, cause: error });
    }
    logger.info({ folder }, 'created folder');
  }
  const app = Fastify({
    loggerInstance: logger,
    logController: new OneLineLogController(),
    bodyLimit: resolved.limits.bodyBytes,
    return503OnClosing: true,
  });

  let pipelinePromise: Promise<FacePipeline> | undefined;
  const pipeline = (): Promise<FacePipeline> => {
    pipelinePromise ??= FacePipeline.create({ intraOpThreads: resolved.intraOpThreads }).catch((error: unknown) => {
      // A failed open is not kept, so the next request tries again.
      pipelinePromise = undefined;
      throw error;
    });
    return pipelinePromise;
  };
  const registry = new ModelRegistry({ root: resolved.models, maxPixels: resolved.limits.maxPixels, intraOpThreads: resolved.intraOpThreads, logger });
  const context: ServerContext = {
    options: resolved,
    logger,
    gate: new InferenceGate({
      maxConcurrent: resolved.limits.maxConcurrentInference,
      maxQueued: resolved.limits.maxQueuedInference,
      retryAfterSeconds: resolved.limits.retryAfterSeconds,
    }),
    pipeline,
    registry,
    people: new PeopleStore({ root: resolved.dataset, pipeline, maxPixels: resolved.limits.maxPixels }),
    jobs: new TrainingJobs({ registry, pipeline, cacheDir: resolved.trainCacheDir, logger }),
    streams: new Set<EventStream>(),
    startedAt: performance.now(),
  };

  app.setErrorHandler(handleRouteError);
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorBody('ERR_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}; docs/api.md lists the routes`)),
  );

  const loopbackOnly = isLoopbackHost(resolved.host);
  const checkToken = resolved.token === undefined ? undefined : createTokenCheck(resolved.token);
  app.addHook('onRequest', async (request, reply) => {
    if (request.url !== '/api' && !request.url.startsWith('/api/')) return;
    checkRequestOrigin(request, loopbackOnly);
    try {
      checkToken?.(request);
    } catch (error) {
      void reply.header('www-authenticate', 'Bearer realm="facekit"');
      throw error;
    }
  });

  registerRawImageParsers(app);
  await app.register(multipart, {
    limits: { fileSize: resolved.limits.bodyBytes, files: 1, parts: 10, fields: 5, fieldSize: 64 * 1024 },
  });

  registerSystemRoutes(app, context);
  registerModelRoutes(app, context);
  registerInferenceRoutes(app, context);
  registerDatasetRoutes(app, context);
  registerTrainingRoutes(app, context);

  if (existsSync(resolved.webRoot)) {
    await app.register(fastifyStatic, { root: resolved.webRoot, prefix: '/', index: 'index.html', cacheControl: false });
  } else {
    logger.warn({ webRoot: resolved.webRoot }, 'web UI folder not found; only the API is served');
  }

  // Node's server.close() closes idle connections once, when it is called. A connection
  // whose request is still running would stay open for the whole keep-alive timeout after
  // its response, delaying shutdown, so responses sent during shutdown close their connection.
  let shuttingDown = false;
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) void reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => {
    shuttingDown = true;
    logger.info({ openStreams: context.streams.size, inferenceActive: context.gate.active }, 'shutting down: no new requests accepted');
    await context.jobs.close();
    for (const stream of [...context.streams]) stream.close();
  });
  app.addHook('onClose', async () => {
    await registry.close();
    if (pipelinePromise) {
      const opened = await pipelinePromise.catch(() => undefined);
      await opened?.dispose();
    }
    logger.info({}, 'server closed: requests finished, recognizers disposed');
  });

  try {
    await app.listen({ host: resolved.host, port: resolved.port });
  } catch (error) {
    await app.close();
    const reason = LISTEN_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
    if (reason === undefined) throw error;
    throw new FacekitError('ERR_INVALID_ARGUMENT', `Cannot listen on ${resolved.host}:${resolved.port}: ${reason}; choose another with --host or --port`, { cause: error });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : resolved.port;
  const urlHost = resolved.host.includes(':') && !resolved.host.startsWith('[') ? `[${resolved.host}]` : resolved.host;

  let closing: Promise<void> | undefined;
  return {
    app,
    url: `http://${urlHost}:${port}`,
    host: resolved.host,
    port,
    close: () => (closing ??= app.close()),
  };
}

/** Accepts `image/*` and `application/octet-stream` bodies as Buffers, within the body limit. */
function registerRawImageParsers(app: FastifyInstance): void {
  const asBuffer = (_request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: Buffer) => void): void => done(null, body);
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, { parseAs: 'buffer' }, asBuffer);
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, asBuffer);
}
