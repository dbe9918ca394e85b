/**
 * The trained models in the `--models` folder and the one active recogniser. Requests
 * borrow the active recogniser; replacing it disposes the old one once the last request
 * that borrowed it has returned it.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { FacekitError } from '../errors.js';
import { type Recognizer, createRecognizer } from '../recognize/recognizer.js';
import { MANIFEST_FILE, loadModel } from '../store/model-store.js';
import { HttpError } from './errors.js';
import { resolveInside } from './paths.js';

/** One entry of `GET /api/models`. */
export type ModelSummary =
  | {
      name: string;
      valid: true;
      active: boolean;
      createdAt: string;
      classNames: string[];
      backbone: string;
      architecture: string;
      /** Closed-set validation accuracy, 0–1. */
      accuracy: number;
    }
  | { name: string; valid: false; active: false; error: { code: string; message: string } };

/** A borrowed recogniser. Call `release` when the request is done with it; later calls do nothing. */
export interface RecognizerLease {
  name: string;
  recognizer: Recognizer;
  release(): void;
}

interface ActiveEntry {
  name: string;
  recognizer: Recognizer;
  leases: number;
  retired: boolean;
}

export interface ModelRegistryOptions {
  /** Absolute path of the models folder, or undefined when the server has none. */
  root: string | undefined;
  maxPixels: number;
  intraOpThreads: number | undefined;
  logger: FastifyBaseLogger;
}

export class ModelRegistry {
  private active: ActiveEntry | undefined;
  /** Serialises activations, so two loads never race to become active. */
  private activation: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: ModelRegistryOptions) {}

  get root(): string | undefined {
    return this.options.root;
  }

  /** Name of the active model, or null. */
  get activeName(): string | null {
    return this.active?.name ?? null;
  }

  /** Lists every sub-folder of the models folder that contains a manifest, newest first. Damaged models are listed with their error. */
  async list(root: string): Promise<ModelSummary[]> {
    const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const summaries: ModelSummary[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const directory = path.join(root, entry.name);
      const hasManifest = (await readdir(directory).catch(() => [] as string[])).includes(MANIFEST_FILE);
      if (!hasManifest) continue;
      summaries.push(await this.summarize(entry.name, directory));
    }
    return summaries.sort(compareSummaries);
  }

  private async summarize(name: string, directory: string): Promise<ModelSummary> {
    try {
      const model = await loadModel(directory);
      return {
        name,
        valid: true,
        active: this.active?.name === name,
        createdAt: model.createdAt,
        classNames: model.classNames,
        backbone: model.backbone.id,
        architecture: model.head.architecture,
        accuracy: model.metrics.accuracy,
      };
    } catch (error) {
      if (!(error instanceof FacekitError)) throw error;
      return { name, valid: false, active: false, error: { code: error.code, message: error.message } };
    }
  }

  /** Resolves a model name to its folder, raising ERR_NOT_FOUND when the folder contains no model. */
  async resolve(root: string, name: string): Promise<string> {
    const directory = await resolveInside(root, name, 'model name');
    const files = await readdir(directory).catch(() => [] as string[]);
    if (!files.includes(MANIFEST_FILE)) throw new HttpError('ERR_NOT_FOUND', `No model named ${JSON.stringify(name)} in ${root}`);
    return directory;
  }

  /**
   * Loads the model in `directory` and makes it the active one. The previous recogniser
   * is disposed when its last lease is released. A failed load leaves the active model as it was.
   */
  async activate(name: string, directory: string): Promise<{ name: string; classNames: string[] }> {
    const run = this.activation.then(async () => {
      if (this.closed) throw new HttpError('ERR_SHUTTING_DOWN', 'The server is shutting down; no model can be loaded');
      const started = performance.now();
      const recognizer = await createRecognizer({ model: directory, maxPixels: this.options.maxPixels, intraOpThreads: this.options.intraOpThreads });
      const previous = this.active;
      this.active = { name, recognizer, leases: 0, retired: false };
      this.options.logger.info({ model: name, directory, ms: Math.round(performance.now() - started) }, 'model loaded');
      if (previous) this.retire(previous);
      return { name, classNames: [...recognizer.classNames] };
    });
    this.activation = run.catch(() => undefined);
    return run;
  }

  /** Borrows the active recogniser, or raises ERR_NO_ACTIVE_MODEL. */
  lease(): RecognizerLease {
    const entry = this.active;
    if (!entry) {
      throw new HttpError('ERR_NO_ACTIVE_MODEL', 'No model is loaded; load one with POST /api/models/{name}/load or train one with POST /api/training');
    }
    entry.leases++;
    let released = false;
    return {
      name: entry.name,
      recognizer: entry.recognizer,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        if (entry.retired && entry.leases === 0) void this.disposeEntry(entry);
      },
    };
  }

  private retire(entry: ActiveEntry): void {
    entry.retired = true;
    if (entry.leases === 0) void this.disposeEntry(entry);
  }

  private async disposeEntry(entry: ActiveEntry): Promise<void> {
    try {
      await entry.recognizer.dispose();
      this.options.logger.info({ model: entry.name }, 'model unloaded');
    } catch (error) {
      this.options.logger.error({ err: error, model: entry.name }, 'disposing a recognizer failed');
    }
  }

  /** Waits for a pending load, then disposes the active recogniser. Requests still holding a lease were finished by the HTTP server before this runs. */
  async close(): Promise<void> {
    this.closed = true;
    await this.activation;
    const entry = this.active;
    this.active = undefined;
    if (entry) {
      entry.retired = true;
      await this.disposeEntry(entry);
    }
  }
}

/** Orders valid models newest first, then damaged ones by name. */
function compareSummaries(a: ModelSummary, b: ModelSummary): number {
  if (a.valid && b.valid) return b.createdAt.localeCompare(a.createdAt);
  if (a.valid !== b.valid) return a.valid ? -1 : 1;
  return a.name.localeCompare(b.name);
}
