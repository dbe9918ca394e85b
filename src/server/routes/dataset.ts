/** People and samples in the `--dataset` folder, and adding samples from uploaded frames. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { auditDataset, quickAudit } from '../../dataset/audit.js';
import { scanDataset } from '../../dataset/scan.js';
import { decodeImage } from '../../image/decode.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { requireConfigured } from '../paths.js';
import { readImageUpload } from '../upload.js';

/** Content types of the image extensions that `scanDataset` reads. */
const SAMPLE_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.jpe': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.avif': 'image/avif',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
});

interface PersonParams {
  name: string;
}

interface SampleParams extends PersonParams {
  sample: string;
}

export function registerDatasetRoutes(app: FastifyInstance, context: ServerContext): void {
  const { people, gate, options } = context;

  app.get('/api/people', async () => ({ people: await people.listPeople() }));

  app.get<{ Querystring: { depth?: string } }>('/api/dataset/audit', async (request) => {
    const root = requireConfigured(options.dataset, '--dataset');
    const depth = request.query.depth ?? 'quick';
    if (depth === 'quick') return quickAudit(await scanDataset(root));
    if (depth !== 'full') throw new HttpError('ERR_BAD_REQUEST', `Invalid query parameter depth: expected quick or full, received ${JSON.stringify(depth)}`);
    // The full audit runs every image through the pipeline, so it takes one inference slot for its whole run.
    return gate.run(async () => auditDataset(root, { pipeline: await context.pipeline(), cacheDir: options.trainCacheDir }));
  });

  app.post<{ Params: PersonParams }>('/api/people/:name/samples', async (request, reply) => {
    const upload = await readImageUpload(request);
    const { result, counts, person } = await gate.run(async () => {
      const image = await decodeImage(upload.bytes, { maxPixels: options.limits.maxPixels, sourceName: upload.name });
      return people.addSample(request.params.name, image);
    });
    if (!result.kept) {
      return { kept: false, person, reason: result.reason, detail: result.detail, face: result.face ?? null, measurements: result.measurements ?? null, counts };
    }
    const id = path.basename(result.path);
    const url = `/api/people/${encodeURIComponent(person)}/samples/${encodeURIComponent(id)}`;
    return reply.code(201).header('location', url).send({
      kept: true,
      person,
      sample: { id, url, thumbnailUrl: `${url}/thumbnail` },
      face: result.face,
      measurements: result.measurements,
      counts,
    });
  });

  app.get<{ Params: PersonParams }>('/api/people/:name/samples', async (request) => ({
    name: request.params.name,
    samples: await people.listSamples(request.params.name),
  }));

  app.get<{ Params: SampleParams }>('/api/people/:name/samples/:sample', async (request, reply) => {
    const file = await people.samplePath(request.params.name, request.params.sample);
    const type = SAMPLE_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    return reply.type(type).header('cache-control', 'no-cache').send(await readFile(file));
  });

  app.get<{ Params: SampleParams }>('/api/people/:name/samples/:sample/thumbnail', async (request, reply) => {
    const jpeg = await people.thumbnail(request.params.name, request.params.sample);
    return reply.type('image/jpeg').header('cache-control', 'no-cache').send(jpeg);
  });

  app.delete<{ Params: SampleParams }>('/api/people/:name/samples/:sample', async (request, reply) => {
    await people.deleteSample(request.params.name, request.params.sample);
    return reply.code(204).send();
  });

  app.patch<{ Params: PersonParams; Body: unknown }>('/api/people/:name', async (request) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || !('name' in body)) {
      throw new HttpError('ERR_BAD_REQUEST', 'Expected a JSON body {"name": "<new name>"}');
    }
    const name = await people.renamePerson(request.params.name, (body as { name: unknown }).name);
    return { name, samples: await people.listSamples(name) };
  });

  app.delete<{ Params: PersonParams }>('/api/people/:name', async (request, reply) => {
    await people.deletePerson(request.params.name);
    return reply.code(204).send();
  });
}
