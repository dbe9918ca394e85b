/** `facekit serve`: the HTTP API and web UI until SIGINT or SIGTERM, then a graceful shutdown. */
import type { Command } from 'commander';
import { pino } from 'pino';
import { SERVER_DEFAULTS, isLoopbackHost } from '../../server/options.js';
import { createServer } from '../../server/server.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice, parseInteger } from '../options.js';
import { Output } from '../output.js';

interface ServeFlags {
  dataset?: string;
  models?: string;
  host: string;
  port: number;
  token?: string;
  maxBodyMb: number;
  maxPixels: number;
  maxConcurrent: number;
  maxQueued: number;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const MEBIBYTE = 1024 * 1024;

export function register(program: Command, setExitCode: (code: number) => void): void {
  const limits = SERVER_DEFAULTS.limits;
  program
    .command('serve')
    .description('Serve the JSON API and the web UI (capture, dataset, training, live recognition) until Ctrl-C')
    .option('--dataset <dir>', 'dataset folder, one sub-folder per person; enables the dataset, capture and training routes')
    .option('--models <dir>', 'folder of trained models; enables model loading, recognition and training')
    .option('--host <address>', 'interface to listen on; anything but loopback exposes the API to the network', SERVER_DEFAULTS.host)
    .option('--port <n>', 'TCP port (0 picks a free one)', parseInteger(0, 65535), SERVER_DEFAULTS.port)
    .option('--token <token>', 'require "Authorization: Bearer <token>" on every /api request (default: $FACEKIT_TOKEN; prefer the variable, because other local users can read command lines)')
    .option('--max-body-mb <n>', 'largest request body in MiB', parseInteger(1, 1024), limits.bodyBytes / MEBIBYTE)
    .option('--max-pixels <n>', 'largest decoded image in pixels (width × height)', parseInteger(1), limits.maxPixels)
    .option('--max-concurrent <n>', 'detections and recognitions run at the same time', parseInteger(1, 64), limits.maxConcurrentInference)
    .option('--max-queued <n>', 'requests waiting for a slot before the server answers 503', parseInteger(0, 10000), limits.maxQueuedInference)
    .option('--log-level <level>', `pino log level on stderr: ${LOG_LEVELS.join(', ')}`, parseChoice(LOG_LEVELS), 'info')
    .action(async (flags: ServeFlags) => {
      setExitCode(await runServe(flags));
    });
}

async function runServe(flags: ServeFlags): Promise<number> {
  const output = new Output({ json: false });
  const token = flags.token ?? (process.env.FACEKIT_TOKEN || undefined);
  const logger = pino({ level: flags.logLevel, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));

  if (!isLoopbackHost(flags.host)) {
    output.warn(
      `listening on ${flags.host}, not on loopback: other machines can reach the API${token ? '' : ' and, without --token or FACEKIT_TOKEN, use it with no authentication'}. ` +
        'Traffic is plain HTTP, so put a TLS proxy in front of it on untrusted networks.',
    );
  }

  const server = await createServer({
    dataset: flags.dataset,
    models: flags.models,
    host: flags.host,
    port: flags.port,
    token,
    logger,
    limits: {
      bodyBytes: flags.maxBodyMb * MEBIBYTE,
      maxPixels: flags.maxPixels,
      maxConcurrentInference: flags.maxConcurrent,
      maxQueuedInference: flags.maxQueued,
    },
  });
  logger.info({ url: server.url, dataset: flags.dataset ?? null, models: flags.models ?? null, auth: token !== undefined }, 'server listening');
  output.info(`facekit serving the web UI and API on ${server.url}/${token ? ' (token required)' : ''}; press Ctrl-C to stop`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (received: NodeJS.Signals): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      resolve(received);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const forceExit = (second: NodeJS.Signals): void => {
    logger.warn({ signal: second }, 'second signal during shutdown: exiting without waiting for requests to finish');
    process.exit(EXIT.cancelled);
  };
  process.once('SIGINT', forceExit);
  process.once('SIGTERM', forceExit);

  logger.info({ signal }, 'signal received: shutting down (send it again to exit at once)');
  const started = performance.now();
  await server.close();
  logger.info({ ms: Math.round(performance.now() - started) }, 'shutdown complete');
  process.removeListener('SIGINT', forceExit);
  process.removeListener('SIGTERM', forceExit);
  return EXIT.ok;
}
