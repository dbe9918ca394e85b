/**
 * The dataset folder as the server manages it: people (top-level sub-folders), their
 * samples (image files directly inside each person's folder) and one `SampleCollector` per
 * person. Collectors live across requests, so the near-duplicate check compares each new
 * frame with every sample its collector kept.
 */
import { readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SampleCollector, type OfferResult, validatePersonName } from '../dataset/capture.js';
import { IMAGE_EXTENSIONS } from '../dataset/scan.js';
import type { FacePipeline } from '../embed/face-pipeline.js';
import { FacekitError } from '../errors.js';
import type { RgbImage } from '../types.js';
import { HttpError } from './errors.js';
import { checkSegment, requireConfigured, resolveInside } from './paths.js';

/** Side of the square sample thumbnails, in pixels. */
export const THUMBNAIL_PX = 128;

export interface PersonSummary {
  name: string;
  /** Image files directly inside the person's folder. */
  samples: number;
}

export interface SampleSummary {
  /** File name inside the person's folder. */
  id: string;
  bytes: number;
  modifiedAt: string;
  url: string;
  thumbnailUrl: string;
}

export interface PeopleStoreOptions {
  /** Absolute dataset folder, or undefined when the server has none. */
  root: string | undefined;
  pipeline: () => Promise<FacePipeline>;
  maxPixels: number;
}

export class PeopleStore {
  private readonly collectors = new Map<string, SampleCollector>();

  constructor(private readonly options: PeopleStoreOptions) {}

  private get root(): string {
    return requireConfigured(this.options.root, '--dataset');
  }

  /** Lists the people, sorted by name; hidden folders are skipped. A missing dataset folder lists no one. */
  async listPeople(): Promise<PersonSummary[]> {
    const root = this.root;
    const entries = await readdirOrEmpty(root);
    const people: PersonSummary[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      people.push({ name: entry.name, samples: (await this.sampleFiles(path.join(root, entry.name))).length });
    }
    return people.sort((a, b) => compareCodePoints(a.name, b.name));
  }

  /** Resolves an existing person's folder; raises ERR_NOT_FOUND when there is none. */
  async personFolder(name: string): Promise<string> {
    const folder = await resolveInside(this.root, checkSegment(name, 'person name'), 'person name');
    const info = await stat(folder).catch(() => undefined);
    if (!info?.isDirectory()) throw new HttpError('ERR_NOT_FOUND', `No person named ${JSON.stringify(name)} in the dataset`);
    return folder;
  }

  async listSamples(name: string): Promise<SampleSummary[]> {
    const folder = await this.personFolder(name);
    const files = await this.sampleFiles(folder);
    const samples: SampleSummary[] = [];
    for (const file of files) {
      const info = await stat(path.join(folder, file)).catch(() => undefined);
      if (!info) continue;
      const url = `/api/people/${encodeURIComponent(name)}/samples/${encodeURIComponent(file)}`;
      samples.push({ id: file, bytes: info.size, modifiedAt: info.mtime.toISOString(), url, thumbnailUrl: `${url}/thumbnail` });
    }
    return samples;
  }

  /** Resolves a sample file; raises ERR_NOT_FOUND unless it is an image file directly inside the person's folder. */
  async samplePath(name: string, sample: string): Promise<string> {
    const folder = await this.personFolder(name);
    const file = await resolveInside(folder, checkSegment(sample, 'sample id'), 'sample id');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || !IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) {
      throw new HttpError('ERR_NOT_FOUND', `Person ${JSON.stringify(name)} has no sample ${JSON.stringify(sample)}`);
    }
    return file;
  }

  /** Returns a JPEG thumbnail of a sample, cropped to a square of `THUMBNAIL_PX`. */
  async thumbnail(name: string, sample: string): Promise<Buffer> {
    const file = await this.samplePath(name, sample);
    try {
      return await sharp(file, { limitInputPixels: this.options.maxPixels })
        .rotate()
        .resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'cover' })
        .jpeg({ quality: 80 })
        .toBuffer();
    } catch (error) {
      throw new FacekitError('ERR_CORRUPT_IMAGE', `Sample ${sample} of ${name} could not be read: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Deletes a sample. The person's collector is dropped too, because it would otherwise
   * reject new frames as near duplicates of the deleted sample.
   */
  async deleteSample(name: string, sample: string): Promise<void> {
    const file = await this.samplePath(name, sample);
    await unlink(file);
    this.forgetCollector(name);
  }

  /**
   * Runs one frame through the person's collector, creating the person's folder and
   * collector on first use. The name is checked by `validatePersonName`.
   */
  async addSample(name: string, image: RgbImage): Promise<{ result: OfferResult; counts: SampleCollector['counts']; person: string }> {
    const person = validatePersonName(name);
    await resolveInside(this.root, person, 'person name');
    let collector = this.collectors.get(person);
    if (!collector) {
      collector = new SampleCollector(await this.options.pipeline(), { dataset: this.root, name: person });
      this.collectors.set(person, collector);
    }
    const result = await collector.offer(image);
    return { result, counts: collector.counts, person };
  }

  /** Renames a person's folder. The new name is checked by `validatePersonName`; an existing folder of that name raises ERR_ALREADY_EXISTS. */
  async renamePerson(name: string, newName: unknown): Promise<string> {
    const from = await this.personFolder(name);
    const target = validatePersonName(newName);
    const to = await resolveInside(this.root, target, 'new person name');
    if (target === name) return target;
    const existing = await stat(to).catch(() => undefined);
    if (existing) throw new FacekitError('ERR_ALREADY_EXISTS', `A person named ${JSON.stringify(target)} already exists; choose another name or delete that person first`, { path: to });
    await rename(from, to);
    // A collector writes to the folder it was made for, so both names start afresh.
    this.forgetCollector(name);
    this.forgetCollector(target);
    return target;
  }

  async deletePerson(name: string): Promise<void> {
    const folder = await this.personFolder(name);
    await rm(folder, { recursive: true });
    this.forgetCollector(name);
  }

  /** Drops a person's collector; collectors are keyed by the trimmed NFC name that `validatePersonName` returns. */
  private forgetCollector(name: string): void {
    this.collectors.delete(name);
    this.collectors.delete(name.trim().normalize('NFC'));
  }

  /** Image files directly inside `folder`, sorted; hidden files are skipped. */
  private async sampleFiles(folder: string): Promise<string[]> {
    const entries = await readdirOrEmpty(folder);
    return entries
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(entry.name).toLowerCase()))
      .map((entry) => entry.name)
      .sort(compareCodePoints);
  }
}

/** Orders strings by UTF-16 code units, as `scanDataset` orders class names, independent of the locale. */
function compareCodePoints(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

async function readdirOrEmpty(folder: string) {
  try {
    return await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
