/**
 * Messages between bench/engine.ts and its two worker processes, sent over
 * Node's child-process IPC channel. Each worker loads one runtime and replies
 * to `init` with `ready` after one untimed warm-up run. It then replies to
 * every `run` with `result`, until the parent disconnects.
 */
import type { FinishReason, Mode } from '../daemon/engine/index.ts';

/** Settings both workers share, so that they do the same work. */
export interface WorkloadSettings {
  modelPath: string;
  threads: number;
  /** KV cache size in tokens. */
  contextSize: number;
  /** Largest batch handed to llama_decode, in tokens. */
  batchSize: number;
  /** Tokens to generate after the prompt. */
  tokens: number;
  /** Flash attention in both runtimes. */
  flashAttention: boolean;
}

export interface EngineWorkerInit extends WorkloadSettings {
  draftPath: string | undefined;
  signalsPath: string | undefined;
  /** Chat-formatted prompt text, tokenized with special tokens parsed. */
  promptText: string;
  modes: Mode[];
}

export interface PeerWorkerInit extends WorkloadSettings {
  /** The engine worker's tokenization of the prompt, which the peer decodes as it is. */
  promptTokens: number[];
  /** The same prompt text, which the peer tokenizes only to report whether its tokenizer agrees. */
  promptText: string;
}

/** A timed run. `modes` selects the engine worker's modes (default: all it was given) and is ignored by the peer. */
export interface RunRequest {
  round: number;
  modes?: Mode[];
}

export type ParentMessage<Init> = { type: 'init'; settings: Init } | ({ type: 'run' } & RunRequest);

/** One timed generation. */
export interface RunMeasurement {
  /** Prompt tokens decoded before the first step: the prompt without its last token. */
  prefillTokens: number;
  prefillMs: number;
  generatedTokens: number;
  decodeMs: number;
  /** generatedTokens per second of decodeMs. */
  decodeTokensPerSecond: number;
  /** Generated token ids in order. */
  tokens: number[];
}

export interface ModeMeasurement extends RunMeasurement {
  mode: Mode;
  finishReason: FinishReason;
  meanAcceptedPerStep: number;
  thinkingTokens: number;
  answerTokens: number;
  probes: number;
  probeMs: number;
  /** Reason and position (in generated tokens) of the thinking cut, if there was one. */
  exit: { reason: string; position: number } | undefined;
}

export interface EngineReady {
  promptTokens: number[];
  targetDescription: string;
  draftDescription: string | undefined;
}

export interface PeerReady {
  /** node-llama-cpp's own tokenization of the prompt text. */
  ownPromptTokens: number[];
  llamaCppRelease: string;
  contextSize: number;
  batchSize: number;
  threads: number;
  flashAttention: string;
}

export type WorkerMessage<Ready, Result> =
  | { type: 'ready'; ready: Ready }
  | { type: 'result'; round: number; result: Result }
  | { type: 'failed'; message: string };

export type EngineWorkerMessage = WorkerMessage<EngineReady, ModeMeasurement[]>;
export type PeerWorkerMessage = WorkerMessage<PeerReady, RunMeasurement>;

/**
 * Runs the worker side of the protocol in this process. `load` handles the
 * init message (warm-up included) and `run` handles each round. Any error is
 * sent to the parent as `failed`, and the worker then exits with code 1.
 */
export function serveWorker<Init, Ready, Result>(handlers: {
  load(settings: Init): Promise<Ready>;
  run(request: RunRequest): Promise<Result>;
  dispose(): Promise<void>;
}): void {
  if (!process.send) {
    console.error('this file is a worker of bench/engine.ts; run `npm run bench:engine` instead');
    process.exit(2);
  }
  const send = (message: WorkerMessage<Ready, Result>) => process.send!(message);

  // Messages are handled one at a time, in order.
  let queue = Promise.resolve();
  process.on('message', (message: ParentMessage<Init>) => {
    queue = queue
      .then(async () => {
        if (message.type === 'init') {
          send({ type: 'ready', ready: await handlers.load(message.settings) });
        } else {
          send({ type: 'result', round: message.round, result: await handlers.run(message) });
        }
      })
      .catch((error: unknown) => {
        const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.exitCode = 1;
        // Disconnecting from the send callback lets the message reach the parent first.
        process.send!({ type: 'failed', message: text }, undefined, {}, () => process.disconnect());
      });
  });
  process.on('disconnect', () => {
    void queue.then(() => handlers.dispose()).finally(() => process.exit());
  });
}
