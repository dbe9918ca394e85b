/** Timing and reporting helpers shared by the benchmark sections. */
import os from 'node:os';

export interface BenchContext {
  quick: boolean;
  /** Folder of labelled photos for accuracy sections, or undefined when absent. */
  datasetDir: string | undefined;
  /** Folder of the page being written, where sections put their plots. */
  pageDir: string;
  log: (message: string) => void;
}

export interface Section {
  title: string;
  /** Markdown for the benchmark page. */
  markdown: string;
}

/** Runs `fn` `warmup` times untimed, then `repeats` times; returns each run's milliseconds. */
export async function timeRuns(fn: () => Promise<unknown> | unknown, repeats: number, warmup = 2): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${os.platform()} ${os.arch()}`;
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}
