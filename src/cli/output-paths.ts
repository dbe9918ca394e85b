/**
 * Output folders and files named on the command line (`--out`, `--csv`): checked and opened
 * before any work starts, with errors that name the option, the path and what to do.
 */
import { type WriteStream } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { FacekitError } from '../errors.js';

/** Creates the folder that `option` names, unless it exists. */
export async function prepareOutputFolder(folder: string, option: string): Promise<void> {
  const existing = await stat(folder).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    throw new FacekitError('ERR_WRITE_FAILED', `${option} ${folder} is a file, not a folder. Give a folder for the output files.`, { path: folder });
  }
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw writeFailed(option, folder, error, 'Choose a folder you can write to.');
  }
}

/** A text file that `option` names, or stdout for `-`. */
export interface OutputFile {
  /** Destination of the text. */
  stream: NodeJS.WritableStream;
  /** Finishes the file, and rejects if a write failed on the way. */
  close(): Promise<void>;
}

/** Opens the file that `option` names for writing and replaces its contents. `-` means stdout. */
export async function openOutputFile(file: string, option: string): Promise<OutputFile> {
  if (file === '-') {
    return { stream: process.stdout, close: async () => undefined };
  }
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw new FacekitError('ERR_WRITE_FAILED', `${option} ${file} is a folder. Give a file name, such as ${file.replace(/\/+$/, '')}/faces.csv.`, { path: file });
  }
  let stream: WriteStream;
  try {
    stream = (await open(file, 'w')).createWriteStream();
  } catch (error) {
    throw writeFailed(option, file, error, 'Check that its folder exists and that you can write to it.');
  }
  // A failed write (a full disk, say) is reported when the file is closed, not as an unhandled event.
  let failure: unknown;
  stream.on('error', (error) => {
    failure ??= error;
  });
  return {
    stream,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stream.end((error?: Error | null) => {
          const problem = failure ?? error;
          if (problem) reject(writeFailed(option, file, problem, 'Check the free space and try again.'));
          else resolve();
        });
      }),
  };
}

function writeFailed(option: string, target: string, error: unknown, advice: string): FacekitError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return new FacekitError('ERR_WRITE_FAILED', `Cannot write ${option} ${target} (${code}). ${advice}`, { path: target, cause: error });
}
