/**
 * TF.js setup shared by the peer toolkits: the WASM backend with its binaries read from
 * node_modules, and a `file://` model loader. The peers' Node builds rely on
 * @tensorflow/tfjs-node to read `file://` URLs. Its install script downloads
 * libtensorflow, so it cannot be installed offline, and without this loader the peers
 * could only fetch their models over HTTP.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfCore from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/** Folder of the tfjs-backend-wasm `.wasm` binaries, with a trailing separator as `setWasmPaths` expects. */
export function wasmBinaryFolder(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

/** Reads a TF.js graph model (`model.json` and its weight shards) from disk as load artifacts. */
export async function readModelArtifacts(modelJsonPath: string): Promise<tfCore.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tfCore.io.WeightsManifestEntry[] }>;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    signature?: object;
    userDefinedMetadata?: Record<string, object>;
  };
  const folder = path.dirname(modelJsonPath);
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    for (const shard of group.paths) shards.push(await readFile(path.join(folder, shard)));
  }
  const all = Buffer.concat(shards);
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  };
}

/**
 * Registers a load router that serves `file://…/model.json` URLs from disk, in the given
 * TF.js `io` namespace (it must be the tfjs-core instance the peer library uses). Every
 * other URL is left to the routers already registered.
 */
export function registerFileModelLoader(io: typeof tfCore.io): void {
  const router = (url: string | string[]) => {
    const first = Array.isArray(url) ? url[0] : url;
    if (typeof first !== 'string' || !first.startsWith('file://')) return null;
    return { load: () => readModelArtifacts(fileURLToPath(first)) };
  };
  // The router type promises a handler, but the registry drops a null result and keeps
  // the handlers of the other routers (tfjs-core 4.22, dist/io/router_registry.js).
  io.registerLoadRouter(router as Parameters<typeof io.registerLoadRouter>[0]);
}
