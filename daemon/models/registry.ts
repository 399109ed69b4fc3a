/** The models the daemon can load: the embedded one, the config file's, and those that clients register. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { ResponseError } from 'vscode-jsonrpc';

import { SpecExitErrorCodes, type Mode, type ModelFileMissingData, type ModelInfo, type ModelSpec } from '../protocol.ts';

/** Name of the model shipped in `models/`, which asks use unless settings choose another. */
export const EMBEDDED_MODEL_NAME = 'embedded';

export type ModelSource = ModelInfo['source'];

export interface RegisteredModel {
  spec: ModelSpec;
  source: ModelSource;
}

/** File names of the embedded model, relative to `models/`, as `models/embedded.json` lists them. */
interface EmbeddedManifest {
  name: string;
  description?: string;
  target: string;
  draft?: string;
  signals?: string;
}

/** Reads `models/embedded.json` under `root` and returns the embedded model's spec with absolute paths. */
export function readEmbeddedSpec(root: string): ModelSpec {
  const manifestPath = path.join(root, 'models', 'embedded.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as EmbeddedManifest;
  if (typeof manifest.target !== 'string') throw new Error(`${manifestPath} names no target file`);
  const resolve = (file: string | undefined) => (file === undefined ? undefined : path.join(root, 'models', file));
  return {
    name: EMBEDDED_MODEL_NAME,
    target: resolve(manifest.target)!,
    draft: resolve(manifest.draft),
    signals: resolve(manifest.signals),
  };
}

/** Usable files of one model, after the checks in `ModelRegistry.checkFiles`. */
export interface ModelFiles {
  /** A draft is configured and present. */
  hasDraft: boolean;
  /** A signal sidecar is configured and present. */
  hasSignals: boolean;
  /** Set when a configured sidecar file is missing, so `specexit` runs as `eagle3`. */
  signalsMissing?: string;
  /** Set when the draft failed to load and the target was loaded alone: the engine's error message and the fix. */
  draftError?: string;
  /** Set when the sidecar failed to load and the target and draft were loaded without it: the engine's error message and the fix. */
  signalsError?: string;
}

export class ModelRegistry {
  private readonly models = new Map<string, RegisteredModel>();
  private readonly defaultContextSize: number;
  private defaultName: string;

  constructor(embedded: ModelSpec | undefined, defaultContextSize: number) {
    this.defaultContextSize = defaultContextSize;
    if (embedded) this.models.set(embedded.name, { spec: embedded, source: 'embedded' });
    this.defaultName = embedded?.name ?? '';
  }

  get defaultModel(): string {
    return this.defaultName;
  }

  /** Adds or replaces a model. The embedded model's name cannot be taken. */
  register(spec: ModelSpec, source: ModelSource): void {
    if (spec.name === EMBEDDED_MODEL_NAME && source !== 'embedded') {
      throw new ResponseError(-32602, `the model name "${EMBEDDED_MODEL_NAME}" is reserved for the embedded model; choose another name`);
    }
    this.models.set(spec.name, { spec, source });
  }

  setDefault(name: string): void {
    this.get(name);
    this.defaultName = name;
  }

  /** Returns the model called `name`, or the default model. Throws `modelNotFound` for an unknown name. */
  get(name: string | undefined): RegisteredModel {
    const wanted = name ?? this.defaultName;
    const model = this.models.get(wanted);
    if (!model) {
      const known = [...this.models.keys()].join(', ') || 'none';
      throw new ResponseError(
        SpecExitErrorCodes.modelNotFound,
        `no model named "${wanted}" is registered (registered: ${known}); use one of those names, or register the model in the config file, ` +
          "in the specexit.models setting, or with specexit's --target flag",
      );
    }
    return model;
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  contextSize(model: RegisteredModel): number {
    return model.spec.contextSize ?? this.defaultContextSize;
  }

  /**
   * Checks that the model's files exist. A missing target or a configured draft that is missing throws
   * `modelFileMissing` naming the file and the fix; a missing signal sidecar only disables `specexit`.
   */
  checkFiles(model: RegisteredModel): ModelFiles {
    const { spec } = model;
    for (const role of ['target', 'draft'] as const) {
      const file = spec[role];
      if (file !== undefined && !existsSync(file)) throw missingFileError(model, role, file);
    }
    const files: ModelFiles = { hasDraft: spec.draft !== undefined, hasSignals: false };
    if (spec.signals !== undefined) {
      if (existsSync(spec.signals)) files.hasSignals = true;
      else files.signalsMissing = spec.signals;
    }
    return files;
  }

  list(loadedName: string | undefined): ModelInfo[] {
    return [...this.models.values()].map((model) => this.describe(model, loadedName === model.spec.name));
  }

  describe(model: RegisteredModel, loaded: boolean): ModelInfo {
    const { spec } = model;
    const missing = [spec.target, spec.draft, spec.signals].filter((file): file is string => file !== undefined && !existsSync(file));
    const hasDraft = spec.draft !== undefined && !missing.includes(spec.draft);
    const hasSignals = spec.signals !== undefined && !missing.includes(spec.signals);
    const modes: Mode[] = missing.includes(spec.target) ? [] : ['vanilla'];
    if (modes.length > 0 && hasDraft) modes.push('eagle3', 'probe');
    if (modes.length > 0 && hasDraft && hasSignals) modes.push('specexit');
    return {
      name: spec.name,
      source: model.source,
      target: spec.target,
      draft: spec.draft ?? null,
      signals: spec.signals ?? null,
      contextSize: this.contextSize(model),
      missing,
      loaded,
      isDefault: spec.name === this.defaultName,
      modes,
    };
  }
}

/**
 * Returns what to fix when a file of `model` is missing or invalid: the flag, the config file or the editor
 * setting it came from. `role` names the flag of a CLI model; without it, the hint covers target and draft.
 */
export function modelPathFix(model: RegisteredModel, role?: 'target' | 'draft' | 'signals'): string {
  switch (model.source) {
    case 'embedded':
      return 'build it with the steps in training/README.md, or choose another model with --target or the specexit.models setting';
    case 'cli':
      return role ? `fix the --${role} flag` : 'fix the --target or --draft flag';
    case 'config':
      return 'fix the path in the config file';
    case 'client':
      return 'fix the path in the specexit.models setting';
  }
}

function missingFileError(model: RegisteredModel, role: 'target' | 'draft', file: string): ResponseError<ModelFileMissingData> {
  const data: ModelFileMissingData = { path: file, role };
  const fileDescription = model.source === 'embedded' ? `the embedded model's ${role} file ${file}` : `the ${role} file ${file} of model "${model.spec.name}"`;
  return new ResponseError(SpecExitErrorCodes.modelFileMissing, `${fileDescription} does not exist; ${modelPathFix(model, role)}`, data);
}
