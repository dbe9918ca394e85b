/** Trained models: list, load one as the active recogniser, and read its training report. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { FacekitError } from '../../errors.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { requireConfigured } from '../paths.js';

/** Report files a client may fetch, with their content types. `writeTrainingReport` writes them. */
const REPORT_FILES: Readonly<Record<string, string>> = Object.freeze({
  'report.json': 'application/json; charset=utf-8',
  'report.md': 'text/markdown; charset=utf-8',
  'curves.png': 'image/png',
  'confusion.png': 'image/png',
});

interface NameParams {
  name: string;
}

export function registerModelRoutes(app: FastifyInstance, context: ServerContext): void {
  const { registry } = context;

  app.get('/api/models', async () => {
    const root = requireConfigured(registry.root, '--models');
    return { active: registry.activeName, models: await registry.list(root) };
  });

  app.get('/api/models/active', async () => {
    const lease = registry.activeName === null ? null : registry.lease();
    try {
      return lease ? { name: lease.name, classNames: [...lease.recognizer.classNames] } : { name: null, classNames: [] };
    } finally {
      lease?.release();
    }
  });

  app.post<{ Params: NameParams }>('/api/models/:name/load', async (request) => {
    const root = requireConfigured(registry.root, '--models');
    const directory = await registry.resolve(root, request.params.name);
    return registry.activate(request.params.name, directory);
  });

  app.get<{ Params: NameParams }>('/api/models/:name/report', async (request, reply) => {
    const directory = await registry.resolve(requireConfigured(registry.root, '--models'), request.params.name);
    return sendReportFile(reply, directory, request.params.name, 'report.json');
  });

  app.get<{ Params: NameParams & { file: string } }>('/api/models/:name/report/:file', async (request, reply) => {
    const directory = await registry.resolve(requireConfigured(registry.root, '--models'), request.params.name);
    const file = request.params.file;
    if (!Object.hasOwn(REPORT_FILES, file)) {
      throw new HttpError('ERR_NOT_FOUND', `No report file ${JSON.stringify(file)}; expected one of ${Object.keys(REPORT_FILES).join(', ')}`);
    }
    return sendReportFile(reply, directory, request.params.name, file);
  });
}

async function sendReportFile(reply: import('fastify').FastifyReply, directory: string, name: string, file: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path.join(directory, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new FacekitError('ERR_FILE_NOT_FOUND', `Model ${name} has no ${file}; it was saved without a training report`);
  }
  void reply.type(REPORT_FILES[file]!).header('cache-control', 'no-cache');
  return bytes;
}
