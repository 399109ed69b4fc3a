/** Keeps at most one model loaded: loads on first use, and unloads the previous model when another is needed. */
import { ResponseError } from 'vscode-jsonrpc';

import { Engine } from '../engine/engine.ts';
import type { StructuredLogger } from '../log.ts';
import { SpecExitErrorCodes, type LoadedModelInfo } from '../protocol.ts';
import type { ModelFiles, ModelRegistry, RegisteredModel } from './registry.ts';

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
    let engine: Engine;
    try {
      engine = await Engine.load({
        targetPath: spec.target,
        draftPath: files.hasDraft ? spec.draft : undefined,
        signalsPath: files.hasSignals ? spec.signals : undefined,
        contextSize: this.registry.contextSize(model),
        threads: this.options.threads,
        gpu: this.options.gpu,
        logger: log.child({ module: 'engine' }),
      });
    } catch (error) {
      const elapsedMs = Date.now() - started;
      const message = `loading model "${spec.name}" failed: ${(error as Error).message}`;
      log.error('model load failed', { model: spec.name, err: error });
      this.options.onLoadProgress({ model: spec.name, kind: 'failed', message, elapsedMs });
      throw new ResponseError(SpecExitErrorCodes.modelInvalid, message);
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

  unload(): void {
    if (!this.loaded) return;
    this.options.logger.info('unloading model', { model: this.loaded.name });
    this.loaded.engine.dispose();
    this.loaded = undefined;
  }
}
