/**
 * The HTTP API's recognitions per second on loopback, measured by
 * scripts/measure-server.ts in a child process (its own RSS and event loop).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchContext, type Section, table } from './util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface ServerRun {
  name: string;
  requests: number;
  concurrency: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number };
  statuses: Record<string, number>;
}

export async function benchServer(context: BenchContext): Promise<Section> {
  const requests = context.quick ? 40 : 200;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'scripts', 'measure-server.ts'), '--requests', String(requests), '--concurrency', '4'],
      { cwd: root, maxBuffer: 16 * 2 ** 20 },
      (error, out, err) => (error ? reject(new Error(`measure-server failed: ${err || error.message}`)) : resolve(out)),
    );
  });
  const runs = stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as ServerRun);
  for (const run of runs) context.log(`server: ${run.name} concurrency ${run.concurrency}: ${run.requestsPerSecond} req/s`);
  const markdown = [
    '`POST /api/recognize` on 127.0.0.1 (scripts/measure-server.ts): a model trained on three demo faces, one 384×288 JPEG webcam',
    'frame (the Live page sends frames of this width, one request in flight) and one 1920-px group photo, after 5 warm-up requests.',
    'The server runs at most 2 inferences at once by default; the rest queue.',
    '',
    table(
      ['body', 'concurrent requests', 'requests', 'recognitions/s', 'p50 ms', 'p95 ms', 'statuses'],
      runs.map((run) => [run.name, run.concurrency, run.requests, run.requestsPerSecond, run.latencyMs.p50, run.latencyMs.p95, JSON.stringify(run.statuses)]),
    ),
    '',
    'The Live page itself, in real Chromium with a fake camera, is measured in the section "Live page" (target ≥ 5 frames per second).',
  ].join('\n');
  return { title: 'HTTP API throughput', markdown };
}
