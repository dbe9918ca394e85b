/**
 * Training jobs: at most one runs at a time (a second request gets 409
 * ERR_TRAINING_RUNNING), each with an id, a status, its TrainEvent stream for
 * server-sent events, and an AbortController for cancelling.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError, invalidArgument, isFacekitError } from '../errors.js';
import { FIT_DEFAULTS } from '../train/fit.js';
import { HEAD_ARCHITECTURES, OPTIMIZERS, type HeadArchitecture, type OptimizerName } from '../train/head.js';
import { TRAIN_DEFAULTS, type TrainEvent, type TrainOptions, type TrainResult, train } from '../train/train.js';
import { SCAN_DEFAULTS } from '../dataset/scan.js';
import { HttpError } from './errors.js';
import type { ModelRegistry } from './model-registry.js';

/** Fields a client may send to start a job. Every field is optional. */
export interface TrainingRequest {
  /** Model folder name inside `--models`. Default `model-YYYYMMDD-HHMMSS` (UTC). */
  name?: string;
  architecture?: HeadArchitecture;
  optimizer?: OptimizerName;
  learningRate?: number;
  batchSize?: number;
  maxEpochs?: number;
  patience?: number;
  augment?: number;
  validationFraction?: number;
  maxFalseAccept?: number;
  seed?: number;
  /** Replace an existing model of the same name. Default false. */
  overwrite?: boolean;
  /** Make the new model the active recogniser when training succeeds. Default true. */
  activate?: boolean;
}

/** Defaults shown by the web UI, taken from the library's own default tables. */
export const TRAINING_REQUEST_DEFAULTS = Object.freeze({
  architecture: FIT_DEFAULTS.architecture,
  optimizer: FIT_DEFAULTS.optimizer,
  learningRate: FIT_DEFAULTS.learningRate,
  batchSize: FIT_DEFAULTS.batchSize,
  maxEpochs: FIT_DEFAULTS.maxEpochs,
  patience: FIT_DEFAULTS.patience,
  augment: TRAIN_DEFAULTS.augment,
  validationFraction: SCAN_DEFAULTS.validationFraction,
  maxFalseAccept: TRAIN_DEFAULTS.maxFalseAccept,
  seed: FIT_DEFAULTS.seed,
  overwrite: false,
  activate: true,
});

/** Model names the server creates: a letter or digit, then letters, digits, `.`, `_` or `-`, 64 characters at most. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type JobStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A job as the API returns it. */
export interface TrainingJobView {
  id: string;
  status: JobStatus;
  /** Name of the model folder being written. */
  model: string;
  request: TrainingRequest;
  startedAt: string;
  endedAt: string | null;
  cancelRequested: boolean;
  error: { code: string; message: string } | null;
  result: TrainingJobResult | null;
}

export interface TrainingJobResult {
  model: string;
  classNames: string[];
  /** Closed-set validation accuracy, 0–1. */
  accuracy: number;
  confusionMatrix: number[][];
  openSet: TrainResult['metrics']['openSet'];
  epochs: number;
  bestEpoch: number;
  /** Whether the model became the active recogniser. */
  activated: boolean;
  seconds: number;
}

/** One buffered event; `id` counts from 1 and becomes the SSE `id:` field. */
export interface JobEvent {
  id: number;
  event: TrainEvent;
}

export interface JobListener {
  onEvent(entry: JobEvent): void;
  onEnd(view: TrainingJobView): void;
}

/** Events kept for clients that connect late, beyond which the oldest `prepare` events are dropped. */
const MAX_BUFFERED_EVENTS = 5000;
/** Finished jobs kept for `GET /api/training`. */
const MAX_FINISHED_JOBS = 10;

export class TrainingJob {
  readonly id = randomUUID();
  status: JobStatus = 'running';
  readonly startedAt = new Date().toISOString();
  endedAt: string | null = null;
  error: TrainingJobView['error'] = null;
  result: TrainingJobResult | null = null;
  /** The error that ended the job, as thrown. */
  failure: unknown = undefined;
  readonly controller = new AbortController();
  readonly events: JobEvent[] = [];
  readonly listeners = new Set<JobListener>();
  done: Promise<void> = Promise.resolve();
  private nextEventId = 1;

  constructor(
    readonly model: string,
    readonly request: TrainingRequest,
  ) {}

  push(event: TrainEvent): void {
    const entry = { id: this.nextEventId++, event };
    // Late clients need the epochs for the chart, not every image: keep only the newest
    // of a run of `prepare` events in the buffer. Live clients still receive each one.
    const last = this.events[this.events.length - 1];
    if (event.type === 'prepare' && last?.event.type === 'prepare') this.events[this.events.length - 1] = entry;
    else this.events.push(entry);
    if (this.events.length > MAX_BUFFERED_EVENTS) {
      const index = this.events.findIndex((e) => e.event.type === 'prepare' || e.event.type === 'warning');
      this.events.splice(index === -1 ? 0 : index, 1);
    }
    for (const listener of this.listeners) listener.onEvent(entry);
  }

  view(): TrainingJobView {
    return {
      id: this.id,
      status: this.status,
      model: this.model,
      request: this.request,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      cancelRequested: this.controller.signal.aborted,
      error: this.error,
      result: this.result,
    };
  }
}

export interface TrainingJobsOptions {
  registry: ModelRegistry;
  /** Opens (once) the pipeline shared with the inference routes. */
  pipeline: () => Promise<FacePipeline>;
  cacheDir: string | false | undefined;
  logger: FastifyBaseLogger;
}

export class TrainingJobs {
  private readonly jobs: TrainingJob[] = [];
  private running: TrainingJob | undefined;
  private closed = false;

  constructor(private readonly options: TrainingJobsOptions) {}

  list(): TrainingJobView[] {
    return this.jobs.map((job) => job.view()).reverse();
  }

  get(id: string): TrainingJob {
    const job = this.jobs.find((candidate) => candidate.id === id);
    if (!job) throw new HttpError('ERR_NOT_FOUND', `No training job with id ${JSON.stringify(id)}; GET /api/training lists the jobs this server ran`);
    return job;
  }

  /**
   * Starts a job and resolves once it has scanned the dataset, so that an unusable
   * dataset or an existing model folder fails the request itself. Later failures end
   * the job with status `failed`.
   */
  async start(dataset: string, modelsRoot: string, body: unknown): Promise<TrainingJobView> {
    if (this.closed) throw new HttpError('ERR_SHUTTING_DOWN', 'The server is shutting down; no training job can start');
    if (this.running) {
      throw new HttpError('ERR_TRAINING_RUNNING', `Training job ${this.running.id} is still running; wait for it to end or cancel it with POST /api/training/${this.running.id}/cancel`);
    }
    const request = parseTrainingRequest(body);
    const name = request.name ?? defaultModelName(new Date());
    const output = path.join(modelsRoot, name);
    if (existsSync(output) && !request.overwrite) {
      throw new FacekitError('ERR_ALREADY_EXISTS', `A model named ${name} already exists; choose another name or send "overwrite": true`, { path: output });
    }

    const job = new TrainingJob(name, { ...request, name });
    this.running = job;
    this.jobs.push(job);
    if (this.jobs.length > MAX_FINISHED_JOBS + 1) this.jobs.splice(0, this.jobs.length - MAX_FINISHED_JOBS - 1);
    const log = this.options.logger.child({ job: job.id, model: name });
    log.info({ request }, 'training started');

    let scanned!: () => void;
    const scan = new Promise<void>((resolve) => (scanned = resolve));
    job.done = this.run(job, dataset, output, log, (event) => {
      if (event.type === 'scan') scanned();
    }).finally(() => {
      scanned();
      if (this.running === job) this.running = undefined;
    });
    await scan;
    if (job.status === 'failed' && job.error && !job.events.some((e) => e.event.type === 'scan')) {
      // The job failed before it began: report the error on this request.
      throw job.failure;
    }
    return job.view();
  }

  private async run(job: TrainingJob, dataset: string, output: string, log: FastifyBaseLogger, onEvent: (event: TrainEvent) => void): Promise<void> {
    const started = performance.now();
    try {
      const pipeline = await this.options.pipeline();
      const request = job.request;
      const options: TrainOptions = {
        dataset,
        output,
        force: request.overwrite ?? false,
        architecture: request.architecture,
        optimizer: request.optimizer,
        learningRate: request.learningRate,
        batchSize: request.batchSize,
        maxEpochs: request.maxEpochs,
        patience: request.patience,
        augment: request.augment,
        validationFraction: request.validationFraction,
        maxFalseAccept: request.maxFalseAccept,
        seed: request.seed,
        cacheDir: this.options.cacheDir,
        pipeline,
        signal: job.controller.signal,
        logger: log,
        onEvent: (event) => {
          job.push(event);
          onEvent(event);
        },
      };
      const result = await train(options);
      let activated = false;
      if (request.activate ?? TRAINING_REQUEST_DEFAULTS.activate) {
        try {
          await this.options.registry.activate(job.model, result.directory);
          activated = true;
        } catch (error) {
          log.error({ err: error }, 'the trained model could not be loaded as the active model');
        }
      }
      job.result = {
        model: job.model,
        classNames: result.model.classNames,
        accuracy: result.metrics.accuracy,
        confusionMatrix: result.metrics.confusionMatrix,
        openSet: result.metrics.openSet,
        epochs: result.model.training.epochs,
        bestEpoch: result.model.training.bestEpoch,
        activated,
        seconds: (performance.now() - started) / 1000,
      };
      job.status = 'succeeded';
      log.info({ seconds: job.result.seconds, accuracy: job.result.accuracy, activated }, 'training succeeded');
    } catch (error) {
      job.failure = error;
      const cancelled = isFacekitError(error, 'ERR_CANCELLED') || (job.controller.signal.aborted && isFacekitError(error));
      job.status = cancelled ? 'cancelled' : 'failed';
      job.error = error instanceof FacekitError ? { code: error.code, message: error.message } : { code: 'ERR_INTERNAL', message: 'Training failed with an internal error; the server log has the details' };
      if (cancelled) log.info({ code: job.error.code }, 'training cancelled; no model was saved');
      else if (error instanceof FacekitError) log.warn({ code: error.code, message: error.message }, 'training failed');
      else log.error({ err: error }, 'training failed with an internal error');
    } finally {
      job.endedAt = new Date().toISOString();
      const view = job.view();
      for (const listener of job.listeners) listener.onEnd(view);
      job.listeners.clear();
    }
  }

  /** Requests cancellation; the job ends with status `cancelled` at its next check. Cancelling an ended job changes nothing. */
  cancel(id: string): TrainingJobView {
    const job = this.get(id);
    if (job.status === 'running' && !job.controller.signal.aborted) {
      this.options.logger.info({ job: job.id }, 'training cancel requested');
      job.controller.abort();
    }
    return job.view();
  }

  /** Cancels the running job, if any, and waits until it has ended; no job starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const job = this.running;
    if (!job) return;
    this.options.logger.info({ job: job.id }, 'cancelling the running training job for shutdown');
    job.controller.abort();
    await job.done;
  }
}

/** Checks a start request's JSON body field by field; unknown fields are rejected. */
export function parseTrainingRequest(body: unknown): TrainingRequest {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('request body', 'a JSON object', body);
  const request: TrainingRequest = {};
  const fields = body as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'name':
        if (typeof value !== 'string' || !MODEL_NAME.test(value)) {
          throw invalidArgument('name', 'a model name of 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit', value);
        }
        request.name = value;
        break;
      case 'architecture':
        request.architecture = oneOf(key, value, HEAD_ARCHITECTURES);
        break;
      case 'optimizer':
        request.optimizer = oneOf(key, value, OPTIMIZERS);
        break;
      case 'learningRate':
        request.learningRate = numberIn(key, value, 1e-7, 1, false);
        break;
      case 'batchSize':
        request.batchSize = numberIn(key, value, 1, 65536, true);
        break;
      case 'maxEpochs':
        request.maxEpochs = numberIn(key, value, 1, 10000, true);
        break;
      case 'patience':
        request.patience = numberIn(key, value, 0, 10000, true);
        break;
      case 'augment':
        request.augment = numberIn(key, value, 0, 100, true);
        break;
      case 'validationFraction':
        request.validationFraction = numberIn(key, value, 0, 0.9, false);
        break;
      case 'maxFalseAccept':
        request.maxFalseAccept = numberIn(key, value, 0.0001, 0.5, false);
        break;
      case 'seed':
        request.seed = numberIn(key, value, 0, 2 ** 31 - 1, true);
        break;
      case 'overwrite':
      case 'activate':
        if (typeof value !== 'boolean') throw invalidArgument(key, 'true or false', value);
        request[key] = value;
        break;
      default:
        throw new FacekitError(
          'ERR_INVALID_ARGUMENT',
          `Invalid request body: unknown field ${JSON.stringify(key)}; expected only ${Object.keys(TRAINING_REQUEST_DEFAULTS).concat('name').join(', ')}`,
        );
    }
  }
  return request;
}

function oneOf<T extends string>(key: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) throw invalidArgument(key, `one of ${choices.join(', ')}`, value);
  return value as T;
}

function numberIn(key: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw invalidArgument(key, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, value);
  }
  return value;
}

/** `model-YYYYMMDD-HHMMSS` in UTC. */
export function defaultModelName(now: Date): string {
  const iso = now.toISOString();
  return `model-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
}
