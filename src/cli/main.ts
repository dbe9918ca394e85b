/**
 * The `facekit` command line. A thin adapter: flags become the same options objects the
 * library takes; only this layer prints, catches errors and chooses exit codes.
 */
import { Command, CommanderError } from 'commander';
import { FacekitError } from '../errors.js';
import { VERSION } from '../version.js';
import { EXIT, EXIT_CODE_FOR_ERROR } from './exit-codes.js';
import { Output } from './output.js';
import { registerCommands } from './commands.js';

/** Runs the CLI with `argv` (without the node and script paths) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // `facekit … --json | head` closes stdout early; that ends the output, not in a crash.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  let exitCode: number = EXIT.ok;
  const program = new Command('facekit')
    .description('Teach a computer the faces you care about, then recognise them.')
    .version(VERSION, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), writeOut: (text) => process.stdout.write(text) });

  registerCommands(program, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    return exitCodeFor(error);
  }
  return exitCode;
}

/** Maps an error that reached the top to an exit code, printing it once. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander already printed the message; help and version exit with 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  new Output({ json: false }).error(error);
  if (error instanceof FacekitError) return EXIT_CODE_FOR_ERROR[error.code];
  if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT.internal;
}
