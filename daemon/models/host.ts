/** Keeps at most one model loaded: loads on first use, and unloads the previous model when another is needed. */
import { ResponseError } from 'vscode-jsonrpc';

import { Engine } from '../engine/engine.ts';
import type { StructuredLogger } from '../log.ts';
import { SpecExitErrorCodes, type LoadedModelInfo } from '../protocol.ts';
import { modelPathFix, type ModelFiles, type ModelRegistry, type RegisteredModel } from './registry.ts';

export interface LoadedModel {
  name: string;
  engine: Engine;
  files: ModelFiles;
  info: LoadedModelInfo;
}

export interface HostOptions {
  threads?: number;
  gpu: boolean;
  logger: StructuredLogger;
  /** Called when a load begins, ends or fails. */
  onLoadProgress(event: { model: string; kind: 'begin' | 'end' | 'failed'; message: string; elapsedMs?: number }): void;
}

export class EngineHost {
  private loaded: LoadedModel | undefined;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly options: HostOptions,
  ) {}

  get current(): LoadedModel | undefined {
    return this.loaded;
  }

  /**
   * Returns the loaded engine for `model`, loading it first when needed. Only the scheduler calls this, so no
   * generation runs while the previous model is freed. Throws a ResponseError for missing or invalid files.
   */
  async ensure(model: RegisteredModel): Promise<LoadedModel> {
    if (this.loaded?.name === model.spec.name) return this.loaded;

    const files = this.registry.checkFiles(model);
    const { spec } = model;
    const log = this.options.logger;
    this.unload();

    const started = Date.now();
    this.options.onLoadProgress({ model: spec.name, kind: 'begin', message: `loading ${spec.name} from ${spec.target}` });
    log.info('loading model', { model: spec.name, target: spec.target, draft: spec.draft, signals: files.hasSignals ? spec.signals : undefined });
    const load = (withDraft: boolean, withSignals = withDraft) =>
      Engine.load({
        targetPath: spec.target,
        draftPath: withDraft && files.hasDraft ? spec.draft : undefined,
        signalsPath: withSignals && files.hasSignals ? spec.signals : undefined,
        contextSize: this.registry.contextSize(model),
        threads: this.options.threads,
        gpu: this.options.gpu,
        logger: log.child({ module: 'engine' }),
      });
    let engine: Engine;
    try {
      engine = await this.loadWithoutBadSidecar(load, files, model);
    } catch (error) {
      // A draft that fails to load (made for another target, corrupt) must not cost the user the target:
      // retry without it, and let each ask report why it runs without speculative decoding.
      const draftError = files.hasDraft ? await this.retryWithoutDraft(load, spec.name, error) : undefined;
      if (!draftError) {
        const elapsedMs = Date.now() - started;
        const message = `loading model "${spec.name}" failed: ${(error as Error).message}; ${modelPathFix(model)}`;
        log.error('model load failed', { model: spec.name, err: error });
        this.options.onLoadProgress({ model: spec.name, kind: 'failed', message, elapsedMs });
        throw new ResponseError(SpecExitErrorCodes.modelInvalid, message);
      }
      engine = draftError.engine;
      files.hasDraft = false;
      files.hasSignals = false;
      files.draftError = `${draftError.message}; ${modelPathFix(model, 'draft')}`;
    }

    const loadMs = Date.now() - started;
    const { target, gpuLayers } = engine.description;
    this.loaded = {
      name: spec.name,
      engine,
      files,
      info: {
        ...this.registry.describe(model, true),
        architecture: target.architecture,
        layers: target.layers,
        vocabularySize: target.vocabularySize,
        gpuLayers,
        loadMs,
      },
    };
    this.options.onLoadProgress({ model: spec.name, kind: 'end', message: `loaded ${spec.name} in ${loadMs} ms`, elapsedMs: loadMs });
    return this.loaded;
  }

  /** Device names llama.cpp registered for the loaded model, and whether any layer runs on a GPU. */
  backend(): { backend: 'cpu' | 'gpu' | 'none'; devices: string[] } {
    if (!this.loaded) return { backend: 'none', devices: [] };
    const { engine } = this.loaded;
    return {
      backend: engine.description.gpuLayers > 0 ? 'gpu' : 'cpu',
      devices: engine.backends.devices.map((device) => device.name),
    };
  }

  /**
   * Loads target, draft and sidecar. When only the sidecar is at fault, a load without it keeps speculative
   * decoding, and asks in mode specexit run as eagle3 with a notice.
   */
  private async loadWithoutBadSidecar(load: (withDraft: boolean, withSignals?: boolean) => Promise<Engine>, files: ModelFiles, model: RegisteredModel): Promise<Engine> {
    try {
      return await load(true);
    } catch (error) {
      if (!files.hasSignals) throw error;
      this.options.logger.warn('loading with the signal sidecar failed; retrying without it', { model: model.spec.name, err: error });
      const engine = await load(true, false).catch(() => {
        throw error;
      });
      files.hasSignals = false;
      files.signalsError = `${(error as Error).message}; ${modelPathFix(model, 'signals')}`;
      return engine;
    }
  }

  /** Loads the target alone after a load with the draft failed; returns undefined when that fails too. */
  private async retryWithoutDraft(load: (withDraft: boolean) => Promise<Engine>, name: string, draftFailure: unknown): Promise<{ engine: Engine; message: string } | undefined> {
    const message = (draftFailure as Error).message;
    this.options.logger.warn('loading with the draft failed; retrying without it', { model: name, err: draftFailure });
    try {
      return { engine: await load(false), message };
    } catch (error) {
      this.options.logger.debug('the target alone failed too', { model: name, err: error });
      return undefined;
    }
  }

  unload(): void {
    if (!this.loaded) return;
    this.options.logger.info('unloading model', { model: this.loaded.name });
    this.loaded.engine.dispose();
    this.loaded = undefined;
  }
}
