/**
 * Server-sent events (`text/event-stream`) on a hijacked Fastify reply. The server keeps
 * every open stream in one set, so shutdown can end them: an open stream would otherwise
 * keep `close()` waiting.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Seconds between comment lines that keep idle connections open through proxies. */
const HEARTBEAT_SECONDS = 15;

export class EventStream {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly closeHandlers: Array<() => void> = [];

  constructor(
    request: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly registry: Set<EventStream>,
  ) {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Tells EventSource clients to wait 2 s before reconnecting.
    reply.raw.write('retry: 2000\n\n');
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_SECONDS * 1000);
    this.heartbeat.unref();
    registry.add(this);
    request.raw.on('close', () => this.close());
  }

  /** Sends one event; `data` is serialised as JSON on a single `data:` line. */
  send(data: unknown, options: { event?: string; id?: number } = {}): void {
    let text = '';
    if (options.event) text += `event: ${options.event}\n`;
    if (options.id !== undefined) text += `id: ${options.id}\n`;
    text += `data: ${JSON.stringify(data)}\n\n`;
    this.write(text);
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Ends the response and runs the close handlers once; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.registry.delete(this);
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
    for (const handler of this.closeHandlers) handler();
  }

  private write(text: string): void {
    if (!this.closed && !this.reply.raw.writableEnded) this.reply.raw.write(text);
  }
}
