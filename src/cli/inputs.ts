/** Expands the CLI's file and folder arguments into image and video files. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { listImages } from '../dataset/scan.js';
import { isVideoFile } from '../video/ffmpeg.js';

export interface InputFile {
  path: string;
  kind: 'image' | 'video';
}

export interface ExpandedInputs {
  files: InputFile[];
  /** Arguments that could not be used, with the reason. */
  missing: Array<{ path: string; reason: string }>;
}

/** Folders are walked recursively for images (and videos when `videos` is set). */
export async function expandInputs(args: readonly string[], options: { videos: boolean }): Promise<ExpandedInputs> {
  const files: InputFile[] = [];
  const missing: ExpandedInputs['missing'] = [];
  for (const arg of args) {
    let info;
    try {
      info = await stat(arg);
    } catch {
      missing.push({ path: arg, reason: 'does not exist' });
      continue;
    }
    if (info.isDirectory()) {
      const ignored: Array<{ path: string; reason: string }> = [];
      for (const file of await listImages(arg, ignored)) files.push({ path: file, kind: 'image' });
      if (options.videos) for (const item of ignored) if (isVideoFile(item.path)) files.push({ path: item.path, kind: 'video' });
    } else if (options.videos && (isVideoFile(arg) || info.isCharacterDevice())) {
      // A character device such as /dev/video0 is a V4L2 camera, read through ffmpeg.
      files.push({ path: arg, kind: 'video' });
    } else {
      // A single named file is tried whatever its extension; the decoder reports non-images.
      files.push({ path: arg, kind: 'image' });
    }
  }
  return { files, missing };
}

/** Derives an output file name from an input path, unique within one run. */
export function outputName(input: string, used: Set<string>, suffix: string, extension: string): string {
  const base = path.basename(input, path.extname(input)).replace(/[\\/:*?"<>|\x00-\x1f]/g, '_') || 'image';
  let name = `${base}${suffix}${extension}`;
  for (let n = 2; used.has(name); n++) name = `${base}${suffix}-${n}${extension}`;
  used.add(name);
  return name;
}

/** Splits files into runs of the same kind, in order, so a run of photos can be read ahead. */
export function consecutiveRuns(files: readonly InputFile[]): Array<{ kind: InputFile['kind']; files: InputFile[] }> {
  const runs: Array<{ kind: InputFile['kind']; files: InputFile[] }> = [];
  for (const file of files) {
    const last = runs[runs.length - 1];
    if (last?.kind === file.kind) last.files.push(file);
    else runs.push({ kind: file.kind, files: [file] });
  }
  return runs;
}
