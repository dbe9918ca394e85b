/** Registers every `facekit` sub-command; each lives in its own file under commands/. */
import type { Command } from 'commander';
import * as capture from './commands/capture.js';
import * as dataset from './commands/dataset.js';
import * as detect from './commands/detect.js';
import * as evaluate from './commands/evaluate.js';
import * as models from './commands/models.js';
import * as recognize from './commands/recognize.js';
import * as serve from './commands/serve.js';
import * as train from './commands/train.js';

export function registerCommands(program: Command, setExitCode: (code: number) => void): void {
  for (const command of [capture, dataset, detect, train, evaluate, recognize, serve, models]) command.register(program, setExitCode);
}
