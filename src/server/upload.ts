/** Reads the one uploaded image of a request: multipart form data or a raw `image/*` body. */
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

export interface ImageUpload {
  bytes: Buffer;
  /** The multipart file name, or `upload` for a raw body. Used as `source` in results and in error messages. */
  name: string;
}

/** Name used for raw bodies, which carry no file name. */
const RAW_BODY_NAME = 'upload';

/**
 * Returns the image bytes of `request`. Multipart requests use their first file part,
 * whatever its field name. Raises ERR_BAD_REQUEST when a multipart request has no
 * file, and ERR_UNSUPPORTED_MEDIA_TYPE for other bodies.
 */
export async function readImageUpload(request: FastifyRequest): Promise<ImageUpload> {
  if (request.isMultipart()) {
    try {
      const file = await request.file();
      if (!file) throw new HttpError('ERR_BAD_REQUEST', 'The multipart request has no file part; send the image in a field named "image"');
      // toBuffer raises FST_REQ_FILE_TOO_LARGE (413) once the file passes limits.bodyBytes.
      const bytes = await file.toBuffer();
      return { bytes, name: file.filename || RAW_BODY_NAME };
    } catch (error) {
      // The multipart parser raises plain Errors for malformed bodies (no boundary, a part
      // cut short). Errors with an HTTP status, such as the size limits, keep theirs.
      if (error instanceof HttpError || typeof (error as { statusCode?: unknown }).statusCode === 'number') throw error;
      throw new HttpError('ERR_BAD_REQUEST', `Malformed multipart body: ${(error as Error).message}; send one file part with the image`);
    }
  }
  if (Buffer.isBuffer(request.body)) return { bytes: request.body, name: RAW_BODY_NAME };
  throw new HttpError(
    'ERR_UNSUPPORTED_MEDIA_TYPE',
    `Expected an image as multipart/form-data or as a raw body with Content-Type image/* or application/octet-stream, received Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')}`,
  );
}
