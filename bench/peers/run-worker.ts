/** Starts `bench/peer-worker.ts` in a child process and reads back its JSON result. */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerName, PeerTask } from './adapter.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = path.join(root, 'bench', 'peer-worker.ts');

/**
 * Runs one toolkit on one task in a fresh Node process. The child's stdout and stderr go
 * to this process's stderr, where the benchmark logs. Rejects when the child exits with
 * an error, naming the toolkit, task and exit status.
 */
export async function runPeerWorker<Result>(peer: PeerName, task: PeerTask, job: object, workDir: string): Promise<Result> {
  const jobFile = path.join(workDir, `${peer}-${task}-job.json`);
  const resultFile = path.join(workDir, `${peer}-${task}-result.json`);
  await writeFile(jobFile, JSON.stringify(job));
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, peer, task, jobFile, resultFile], {
      cwd: root,
      stdio: ['ignore', 2, 2],
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (status.code !== 0) {
    throw new Error(`peer-worker ${peer} ${task} failed with ${status.signal ? `signal ${status.signal}` : `exit code ${status.code}`}; its output is in the log above`);
  }
  return JSON.parse(await readFile(resultFile, 'utf8')) as Result;
}

/** Runs `tasks` with at most `limit` of them at once; results keep the input order. */
export async function runLimited<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<Array<PromiseSettledResult<T>>> {
  const results: Array<PromiseSettledResult<T>> = new Array(tasks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await tasks[index]!() };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}
