/**
 * Terminal output for the CLI: results on stdout (text or JSON lines), progress bars and
 * messages on stderr, so `--json` output stays machine-readable.
 */
import cliProgress from 'cli-progress';
import { FacekitError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface OutputOptions {
  json: boolean;
  quiet?: boolean;
  /** Prints the human-readable lines on stderr, for when stdout carries other data (`--csv -`). */
  textToStderr?: boolean;
}

export class Output {
  readonly json: boolean;
  private readonly quiet: boolean;
  private readonly textStream: NodeJS.WriteStream;
  private bar: cliProgress.SingleBar | undefined;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet ?? false;
    this.textStream = options.textToStderr ? process.stderr : process.stdout;
  }

  /** Prints a line of human-readable text to stdout, or stderr with `textToStderr` (suppressed with --json). */
  text(line = ''): void {
    if (!this.json) this.withBarPaused(() => this.textStream.write(`${line}\n`));
  }

  /** Prints one JSON object per line to stdout (only with --json). */
  record(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Prints a message to stderr. */
  info(line: string): void {
    if (!this.quiet) this.withBarPaused(() => process.stderr.write(`${line}\n`));
  }

  warn(line: string): void {
    this.withBarPaused(() => process.stderr.write(`warning: ${line}\n`));
  }

  error(error: unknown): void {
    const message = error instanceof FacekitError ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error);
    this.withBarPaused(() => process.stderr.write(`error: ${message}\n`));
  }

  /** Starts a progress bar on stderr when it is a terminal; `payload` fields can appear in `format`. */
  startProgress(total: number, label: string, format?: string): void {
    if (this.quiet || !process.stderr.isTTY) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: format ?? `${label} [{bar}] {value}/{total} {eta_formatted} {detail}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { detail: '' });
  }

  progress(value: number, payload: Record<string, unknown> = {}): void {
    this.bar?.update(value, { detail: '', ...payload });
  }

  stopProgress(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  /** Returns a logger that prints the library's warnings and errors to stderr. */
  logger(verbose = false): Logger {
    const write = (level: string, fields: object, message?: string): void => {
      const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
      this.withBarPaused(() => process.stderr.write(`${level}: ${message ?? ''}${extra}\n`));
    };
    return {
      debug: (fields, message) => verbose && write('debug', fields, message),
      info: (fields, message) => verbose && write('info', fields, message),
      warn: (fields, message) => write('warning', fields, message),
      error: (fields, message) => write('error', fields, message),
    };
  }

  private withBarPaused(fn: () => void): void {
    if (!this.bar) return fn();
    process.stderr.write('\r\x1b[K');
    fn();
    this.bar.render();
  }
}
