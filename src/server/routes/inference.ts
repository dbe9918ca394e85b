/** `POST /api/detect` and `POST /api/recognize` on an uploaded image. */
import type { FastifyInstance } from 'fastify';
import { type Annotation, MARK_COLORS, annotateImage } from '../../image/annotate.js';
import { decodeImage } from '../../image/decode.js';
import type { RecognitionResult } from '../../recognize/recognizer.js';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { readImageUpload } from '../upload.js';

interface OutputQuery {
  output?: string;
}

const OUTPUTS = ['json', 'jpeg'] as const;

export function registerInferenceRoutes(app: FastifyInstance, context: ServerContext): void {
  const { gate, options } = context;

  app.post('/api/detect', async (request) => {
    const upload = await readImageUpload(request);
    return gate.run(async () => {
      const image = await decodeImage(upload.bytes, { maxPixels: options.limits.maxPixels, sourceName: upload.name });
      const pipeline = await context.pipeline();
      const faces = await pipeline.detect(image);
      return { source: image.source, width: image.width, height: image.height, faces };
    });
  });

  app.post<{ Querystring: OutputQuery }>('/api/recognize', async (request, reply) => {
    const output = request.query.output ?? 'json';
    if (!(OUTPUTS as readonly string[]).includes(output)) {
      throw new HttpError('ERR_BAD_REQUEST', `Invalid query parameter output: expected json or jpeg, received ${JSON.stringify(output)}`);
    }
    const upload = await readImageUpload(request);
    return gate.run(async () => {
      const lease = context.registry.lease();
      try {
        const image = await decodeImage(upload.bytes, { maxPixels: options.limits.maxPixels, sourceName: upload.name });
        const recognized = await lease.recognizer.recognize(image);
        const result: RecognitionResult & { model: string } = { ...recognized, source: image.source, model: lease.name };
        if (output === 'json') return result;
        const jpeg = await annotateImage(image, result.faces.map(toAnnotation));
        void reply.type('image/jpeg').header('x-facekit-faces', String(result.faces.length));
        return jpeg;
      } finally {
        lease.release();
      }
    });
  });
}

function toAnnotation(face: RecognitionResult['faces'][number]): Annotation {
  return {
    boxPx: face.boxPx,
    keypointsPx: face.keypointsPx,
    label: `${face.label} ${Math.round(face.confidence * 100)}%`,
    color: face.known ? MARK_COLORS.known : MARK_COLORS.unknown,
  };
}
