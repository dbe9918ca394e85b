/** `GET /api/health` and `GET /api/version`. */
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../version.js';
import type { ServerContext } from '../context.js';

export function registerSystemRoutes(app: FastifyInstance, context: ServerContext): void {
  app.get('/api/health', async () => {
    const running = context.jobs.list().find((job) => job.status === 'running');
    return {
      status: 'ok',
      version: VERSION,
      uptimeSeconds: Math.round((performance.now() - context.startedAt) / 1000),
      dataset: context.options.dataset !== undefined,
      models: context.options.models !== undefined,
      activeModel: context.registry.activeName,
      training: running ? { id: running.id, model: running.model } : null,
      inference: { active: context.gate.active, queued: context.gate.queued, limits: context.options.limits },
      authRequired: context.options.token !== undefined,
    };
  });

  app.get('/api/version', async () => ({ version: VERSION, node: process.version }));
}
