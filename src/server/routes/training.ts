/** Training jobs: start, list, follow as server-sent events, cancel. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { requireConfigured } from '../paths.js';
import { EventStream } from '../sse.js';
import { TRAINING_REQUEST_DEFAULTS } from '../training-jobs.js';

interface IdParams {
  id: string;
}

export function registerTrainingRoutes(app: FastifyInstance, context: ServerContext): void {
  const { jobs } = context;

  app.get('/api/training/defaults', async () => TRAINING_REQUEST_DEFAULTS);

  app.get('/api/training', async () => ({ jobs: jobs.list() }));

  app.post('/api/training', async (request, reply) => {
    const dataset = requireConfigured(context.options.dataset, '--dataset');
    const models = requireConfigured(context.options.models, '--models');
    const job = await jobs.start(dataset, models, request.body);
    return reply.code(202).header('location', `/api/training/${job.id}`).send(job);
  });

  app.get<{ Params: IdParams }>('/api/training/:id', async (request) => jobs.get(request.params.id).view());

  app.post<{ Params: IdParams }>('/api/training/:id/cancel', async (request, reply) => {
    const view = jobs.cancel(request.params.id);
    return reply.code(view.status === 'running' ? 202 : 200).send(view);
  });

  app.get<{ Params: IdParams }>('/api/training/:id/events', async (request, reply) => {
    const job = jobs.get(request.params.id);
    // A reconnecting EventSource sends the id of the last event it received.
    const parsedId = Number(request.headers['last-event-id']);
    const lastEventId = Number.isInteger(parsedId) ? parsedId : 0;
    const stream = new EventStream(request, reply, context.streams);
    for (const entry of job.events) {
      if (entry.id > lastEventId) stream.send(entry.event, { id: entry.id });
    }
    if (job.status !== 'running') {
      stream.send(job.view(), { event: 'end' });
      stream.close();
      return;
    }
    const listener = {
      onEvent: (entry: { id: number; event: unknown }) => stream.send(entry.event, { id: entry.id }),
      onEnd: (view: unknown) => {
        stream.send(view, { event: 'end' });
        stream.close();
      },
    };
    job.listeners.add(listener);
    stream.onClose(() => job.listeners.delete(listener));
  });
}
