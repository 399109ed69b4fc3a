/**
 * Worker process of bench/engine.ts that times our engine: one generation per
 * mode and round, on a single engine loaded with the draft and sidecar given.
 */
import { Engine, type GenerationStats, type Mode } from '../daemon/engine/index.ts';
import { serveWorker, type EngineReady, type EngineWorkerInit, type ModeMeasurement } from './protocol.ts';

const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

let engine: Engine | undefined;
let settings: EngineWorkerInit | undefined;
let prompt: Int32Array | undefined;

async function load(init: EngineWorkerInit): Promise<EngineReady> {
  settings = init;
  engine = await Engine.load({
    targetPath: init.modelPath,
    draftPath: init.draftPath,
    signalsPath: init.signalsPath,
    threads: init.threads,
    threadsBatch: init.threads,
    contextSize: init.contextSize,
    batchSize: init.batchSize,
    flashAttention: init.flashAttention ? 'on' : 'off',
    gpu: false,
    logger: silentLogger,
  });
  prompt = engine.tokenize(init.promptText, { parseSpecial: true });
  if (prompt.length < 2) {
    throw new Error(`the prompt tokenizes to ${prompt.length} token(s), but the benchmark needs at least 2 (one to prefill, one to start decoding)`);
  }

  // Warm-up: page the weights in and let every mode allocate its buffers once.
  await runModes();

  const { target, draft } = engine.description;
  return {
    promptTokens: [...prompt],
    targetDescription: `${target.architecture}, ${target.layers} layers, hidden ${target.hiddenSize}, vocabulary ${target.vocabularySize}, ${formatMegabytes(target.sizeBytes)}`,
    draftDescription: draft && `${draft.architecture}, hidden ${draft.hiddenSize}, ${formatMegabytes(draft.sizeBytes)}`,
  };
}

async function runModes(modes: Mode[] = settings!.modes): Promise<ModeMeasurement[]> {
  const measurements: ModeMeasurement[] = [];
  for (const mode of modes) {
    measurements.push(await runMode(mode));
  }
  return measurements;
}

async function runMode(mode: Mode): Promise<ModeMeasurement> {
  const tokens: number[] = [];
  let stats: GenerationStats | undefined;
  let exit: ModeMeasurement['exit'];
  let finishReason: ModeMeasurement['finishReason'] | undefined;
  let error: string | undefined;

  // The prompt ends inside an opened <think>, so that specexit and probe have thinking to cut.
  const stream = engine!.generate(prompt!, { mode, maxTokens: settings!.tokens, reportTokens: true, startInThinking: true });
  for await (const event of stream) {
    if (event.type === 'tokens') tokens.push(...event.tokens);
    else if (event.type === 'exit') exit = { reason: event.reason, position: event.position };
    else if (event.type === 'stats') stats = event.stats;
    else if (event.type === 'done') {
      finishReason = event.reason;
      error = event.error;
    }
  }
  if (!stats || !finishReason) {
    throw new Error(`mode ${mode} failed: the stream ended without stats and done events`);
  }
  if (finishReason === 'error') {
    throw new Error(`mode ${mode} failed: ${error ?? 'no error message'}`);
  }
  if (finishReason === 'aborted') {
    // The benchmark never aborts, so this is the engine's fault.
    throw new Error(`mode ${mode} ended with reason aborted after ${stats.generatedTokens} tokens, but nothing aborted it`);
  }

  return {
    mode,
    finishReason,
    prefillTokens: stats.promptTokens - 1,
    prefillMs: stats.prefillMs,
    generatedTokens: stats.generatedTokens,
    decodeMs: stats.decodeMs,
    decodeTokensPerSecond: stats.decodeTokensPerSecond,
    tokens,
    meanAcceptedPerStep: stats.meanAcceptedPerStep,
    thinkingTokens: stats.thinkingTokens,
    answerTokens: stats.answerTokens,
    probes: stats.probes,
    probeMs: stats.probeMs,
    exit,
  };
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

serveWorker<EngineWorkerInit, EngineReady, ModeMeasurement[]>({
  load,
  run: (request) => runModes(request.modes),
  dispose: async () => engine?.dispose(),
});
