/**
 * Worker process of bench/engine.ts that times node-llama-cpp on the work our
 * engine's vanilla mode does: decode the prompt but its last token as one
 * prefill, then decode one token per step, greedily, until the requested
 * number of tokens is sampled.
 */
import { performance } from 'node:perf_hooks';

import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';

import { serveWorker, type PeerReady, type PeerWorkerInit, type RunMeasurement } from './protocol.ts';

let llama: Llama | undefined;
let model: LlamaModel | undefined;
let context: LlamaContext | undefined;
let sequence: LlamaContextSequence | undefined;
let settings: PeerWorkerInit | undefined;

async function load(init: PeerWorkerInit): Promise<PeerReady> {
  settings = init;
  // node-llama-cpp is an ES module, so this CommonJS package loads it with a dynamic import.
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  // build 'never' uses the prebuilt binaries in node_modules and never downloads or compiles llama.cpp.
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: init.threads, progressLogs: false });
  model = await llama.loadModel({ modelPath: init.modelPath });
  context = await model.createContext({
    contextSize: init.contextSize,
    batchSize: init.batchSize,
    threads: init.threads,
    flashAttention: init.flashAttention,
  });
  sequence = context.getSequence();

  await runOnce();

  return {
    ownPromptTokens: [...model.tokenize(init.promptText, true)],
    llamaCppRelease: llama.llamaCppRelease.release,
    contextSize: context.contextSize,
    batchSize: context.batchSize,
    threads: context.currentThreads,
    flashAttention: String(context.flashAttention),
  };
}

async function runOnce(): Promise<RunMeasurement> {
  // node-llama-cpp brands token ids; these come from the same vocabulary.
  const prompt = settings!.promptTokens as Token[];
  const requested = settings!.tokens;
  await sequence!.clearHistory();

  const prefillStart = performance.now();
  await sequence!.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  const decodeStart = performance.now();

  // Each iteration decodes the token yielded before it, so stopping after the
  // last requested token decodes `requested` tokens in all, as our engine does.
  const tokens: number[] = [];
  let decodeEnd = decodeStart;
  if (requested > 0) {
    for await (const token of sequence!.evaluate(prompt.slice(-1), { temperature: 0 })) {
      tokens.push(token);
      if (tokens.length >= requested) {
        decodeEnd = performance.now();
        break;
      }
    }
  }
  if (tokens.length < requested) {
    // The model sampled an end-of-generation token, which evaluate() does not yield.
    decodeEnd = performance.now();
  }

  const prefillMs = decodeStart - prefillStart;
  const decodeMs = decodeEnd - decodeStart;
  return {
    prefillTokens: prompt.length - 1,
    prefillMs,
    generatedTokens: tokens.length,
    decodeMs,
    decodeTokensPerSecond: decodeMs > 0 ? (tokens.length * 1000) / decodeMs : 0,
    tokens,
  };
}

async function dispose(): Promise<void> {
  await context?.dispose();
  await model?.dispose();
  await llama?.dispose();
}

serveWorker<PeerWorkerInit, PeerReady, RunMeasurement>({ load, run: () => runOnce(), dispose });
