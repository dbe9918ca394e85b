/** State shared by the route modules of one server. */
import type { FastifyBaseLogger } from 'fastify';
import type { FacePipeline } from '../embed/face-pipeline.js';
import type { ModelRegistry } from './model-registry.js';
import type { ResolvedServerOptions } from './options.js';
import type { PeopleStore } from './people-store.js';
import type { InferenceGate } from './semaphore.js';
import type { EventStream } from './sse.js';
import type { TrainingJobs } from './training-jobs.js';

export interface ServerContext {
  options: ResolvedServerOptions;
  logger: FastifyBaseLogger;
  /** Bounds the detections, recognitions and sample checks that run at once. */
  gate: InferenceGate;
  /** The face pipeline for detection, capture and training, opened on first use. */
  pipeline: () => Promise<FacePipeline>;
  registry: ModelRegistry;
  people: PeopleStore;
  jobs: TrainingJobs;
  /** Open server-sent event streams, ended at shutdown. */
  streams: Set<EventStream>;
  startedAt: number;
}
