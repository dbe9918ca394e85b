/** Names and helpers shared by the peer sections' tables and plots. */
import type { PeerName } from './adapter.js';

/** Row labels of the toolkits. */
export const PEER_LABELS: Record<PeerName, string> = {
  facekit: 'facekit',
  'facekit-1-thread': 'facekit, 1 thread',
  'facekit-mobilefacenet': 'facekit (mobilefacenet)',
  human: 'human',
  'face-api': 'face-api',
};

/** Formats `os.loadavg()` as "1-min, 5-min, 15-min". */
export function formatLoad(load: readonly number[]): string {
  return load.map((value) => value.toFixed(2)).join(', ');
}

/** Shortens an installed file's path to the part after the last `node_modules/`. */
export function relativeToNodeModules(file: string): string {
  const parts = file.split(/[\\/]/);
  const index = parts.lastIndexOf('node_modules');
  return index >= 0 ? parts.slice(index + 1).join('/') : file;
}
