/**
 * Turns names from URLs into paths inside a configured folder. Every name is checked as
 * one path segment, and the resolved path, with symbolic links followed when it exists,
 * must stay inside the folder.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { FacekitError, describeValue } from '../errors.js';
import { HttpError } from './errors.js';

/**
 * Raises ERR_INVALID_ARGUMENT unless `name` is one non-hidden path segment: no `/` or
 * `\`, not `.` or `..`, no leading dot, no control characters.
 */
export function checkSegment(name: unknown, description: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) {
    throw new FacekitError('ERR_INVALID_ARGUMENT', `Invalid ${description}: expected a name of 1 to 255 characters, received ${describeValue(name)}`);
  }
  if (name.includes('/') || name.includes('\\') || name.startsWith('.') || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new FacekitError(
      'ERR_INVALID_ARGUMENT',
      `Invalid ${description}: expected a single file or folder name without "/", "\\", control characters or a leading ".", received ${describeValue(name)}`,
    );
  }
  return name;
}

/**
 * Joins `root` and the checked `name` and verifies that the result lies directly inside
 * `root`, also after resolving symbolic links when the path exists. Raises
 * ERR_INVALID_ARGUMENT for a name that escapes `root`.
 */
export async function resolveInside(root: string, name: string, description: string): Promise<string> {
  checkSegment(name, description);
  const resolvedRoot = path.resolve(root);
  const target = path.resolve(resolvedRoot, name);
  if (path.dirname(target) !== resolvedRoot) {
    throw new FacekitError('ERR_INVALID_ARGUMENT', `Invalid ${description}: ${describeValue(name)} resolves outside ${resolvedRoot}`);
  }
  const realTarget = await realpathOrNull(target);
  if (realTarget !== null) {
    const realRoot = (await realpathOrNull(resolvedRoot)) ?? resolvedRoot;
    const relative = path.relative(realRoot, realTarget);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new FacekitError('ERR_INVALID_ARGUMENT', `Invalid ${description}: ${describeValue(name)} links to ${realTarget}, outside ${realRoot}`);
    }
  }
  return target;
}

async function realpathOrNull(file: string): Promise<string | null> {
  try {
    return await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Returns `folder`, or raises ERR_NOT_CONFIGURED naming the command-line flag that sets it. */
export function requireConfigured(folder: string | undefined, flag: '--dataset' | '--models'): string {
  if (folder === undefined) {
    throw new HttpError('ERR_NOT_CONFIGURED', `This server has no ${flag === '--dataset' ? 'dataset' : 'models'} folder; restart it with ${flag} DIR`);
  }
  return folder;
}
