/**
 * Request guards for `/api` routes: the bearer token, and two checks that keep web pages
 * of other sites from driving a server on this machine through the user's browser.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';
import { isLoopbackHost } from './options.js';

/**
 * Returns a check that raises ERR_UNAUTHORIZED unless the request carries
 * `Authorization: Bearer <token>`. Both sides are hashed to SHA-256 first, so the
 * constant-time comparison gets inputs of equal length and the token's length does not leak.
 */
export function createTokenCheck(token: string): (request: FastifyRequest) => void {
  const expected = sha256(token);
  return (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match) throw new HttpError('ERR_UNAUTHORIZED', 'Missing bearer token; send the header "Authorization: Bearer <token>" with the token the server was started with');
    if (!timingSafeEqual(sha256(match[1]!), expected)) {
      throw new HttpError('ERR_UNAUTHORIZED', 'Invalid bearer token; use the token the server was started with (--token or FACEKIT_TOKEN)');
    }
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Rejects, with ERR_FORBIDDEN, browser requests sent by a page of another origin, and
 * requests to a loopback-bound server whose `Host` header names another host. The second
 * check stops DNS rebinding, where a remote name is made to resolve to 127.0.0.1.
 * Requests without an `Origin` header (curl, scripts) pass the origin check.
 */
export function checkRequestOrigin(request: FastifyRequest, loopbackOnly: boolean): void {
  const host = request.headers.host;
  if (loopbackOnly && (typeof host !== 'string' || !isLoopbackHost(stripPort(host)))) {
    throw new HttpError('ERR_FORBIDDEN', `Host ${JSON.stringify(host ?? '')} is not a loopback name; open the server as http://127.0.0.1:PORT or http://localhost:PORT`);
  }
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') {
    if (origin === 'null') throw new HttpError('ERR_FORBIDDEN', 'Requests from opaque origins are not accepted; open the web UI from this server');
    return;
  }
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new HttpError('ERR_FORBIDDEN', `Invalid Origin header ${JSON.stringify(origin)}`);
  }
  if (typeof host !== 'string' || originHost.toLowerCase() !== host.toLowerCase()) {
    throw new HttpError('ERR_FORBIDDEN', `Cross-origin request from ${origin} rejected; the API only accepts requests from its own web UI or from clients without an Origin header`);
  }
}

/** Returns the host part of a `Host` header value: `[::1]:7860` → `[::1]`, `localhost:80` → `localhost`. */
export function stripPort(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end === -1 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}
