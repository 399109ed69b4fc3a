/** Loads the native addon and registers llama.cpp's backends: the best CPU variant, plus a GPU backend where one loads. */
import { existsSync } from 'node:fs';
import path from 'node:path';

import type { EngineEvent } from './events.ts';

export interface BackendReport {
  devices: { name: string; description: string; type: 'cpu' | 'gpu' | 'igpu' | 'accel' | 'other' }[];
  /** GPU libraries that did not load, and why (usually a missing driver or CUDA runtime). */
  failures: { library: string; reason: string }[];
}

export interface NativeModelInfo {
  path: string;
  architecture: string;
  layers: number;
  hiddenSize: number;
  vocabularySize: number;
  trainContextSize: number;
  sizeBytes: number;
  parameters: number;
}

export interface NativeDescription {
  target: NativeModelInfo;
  draft?: NativeModelInfo & { targetLayers: number[] };
  hasSignalHead: boolean;
  contextSize: number;
  batchSize: number;
  gpuLayers: number;
  chatTemplate: string;
  eosToken: number;
  bosToken: number;
  /** -1 when the vocabulary has no single `<think>` token. */
  thinkStartToken: number;
  thinkEndToken: number;
  boundaryTokens: number[];
}

export interface NativeEngine {
  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(tokens: Int32Array | number[], special: boolean): string;
  describe(): NativeDescription;
  generate(prompt: Int32Array | number[], options: object, onEvents: (events: EngineEvent[]) => void): void;
  abort(): void;
  dispose(): void;
}

export interface NativeAddon {
  Engine: { load(options: object): Promise<NativeEngine> };
  loadBackends(cpuDir: string, gpuLibraries: string[]): BackendReport;
  takeLog(): { level: number; text: string }[];
  checkGguf(path: string, role: string): { architecture: string; tensors: number; tokens: number };
  /** Splits byte pieces into text deltas as generation does; one delta per piece, then the flushed rest. */
  utf8Deltas(pieces: Uint8Array[]): string[];
  /** Aborts and joins every running generation of this JavaScript environment. */
  stopAll(): void;
}

function findPackageDir(name: string, from: string): string | undefined {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(path.join(dir, name, 'package.json'))) return path.join(dir, name);
  }
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function findAddon(): string {
  const candidates = [
    process.env.SPECEXIT_ADDON,
    // From daemon/engine/ in the source tree, and from dist/daemon/ in the bundle.
    path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'specexit.node'),
    path.join(process.cwd(), 'native', 'build', 'Release', 'specexit.node'),
  ];
  for (const candidate of candidates) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  throw new Error(`the native addon is not built (looked in ${candidates.filter(Boolean).join(', ')}); run \`npm run build:native\``);
}

let addon: NativeAddon | undefined;
let backends: BackendReport | undefined;

/** Returns the addon with backends registered. `gpu: false` skips the GPU libraries (only honoured on the first call). */
export function loadNative(options: { gpu?: boolean } = {}): { addon: NativeAddon; backends: BackendReport } {
  if (addon && backends) return { addon, backends };

  const platform = `${process.platform}-${process.arch}`;
  const cpuPackage = findPackageDir(`@node-llama-cpp/${platform}`, __dirname);
  if (!cpuPackage) {
    throw new Error(`no prebuilt llama.cpp for ${platform}: @node-llama-cpp/${platform} is not installed; run \`npm ci\``);
  }
  const gpuLibraries: string[] = [];
  if (options.gpu !== false) {
    for (const [suffix, library] of [['cuda', 'libggml-cuda.so'], ['vulkan', 'libggml-vulkan.so']] as const) {
      const dir = findPackageDir(`@node-llama-cpp/${platform}-${suffix}`, __dirname);
      const file = dir && path.join(dir, 'bins', `${platform}-${suffix}`, library);
      if (file && existsSync(file)) gpuLibraries.push(file);
    }
  }

  // A .node file can only be loaded with require; its path is known at run time only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(findAddon()) as NativeAddon;
  backends = loaded.loadBackends(path.join(cpuPackage, 'bins', platform), gpuLibraries);
  // The failures are in the report; the same lines in the log would repeat them.
  loaded.takeLog();
  // A generation thread still decoding when exit() destroys ggml's static
  // objects crashes the process; the 'exit' event comes before that.
  process.on('exit', () => loaded.stopAll());
  addon = loaded;
  return { addon, backends };
}
