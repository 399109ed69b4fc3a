/**
 * Engine benchmark: our engine against node-llama-cpp on the same GGUF, prompt
 * and thread count, and our speculative modes against our vanilla mode.
 *
 * Usage: npm run bench:engine -- [--threads N] [--tokens N] [--rounds R]
 *          [--fixture tiny|large] [--model PATH [--draft PATH] [--signals PATH]] [--json]
 *
 * node-llama-cpp and our addon each register llama.cpp backends when they
 * load, so each runs in its own worker process (bench/peer-worker.ts and
 * bench/engine-worker.ts). Both load and warm up once. The rounds alternate
 * which worker goes first, and the report gives medians over the rounds and
 * ratios of those medians.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import type { Mode } from '../daemon/engine/index.ts';
import { generateFixtures } from '../test/fixtures/generate.ts';
import { generateLargeFixtures, LARGE_FIXTURE_DESCRIPTION } from './fixtures.ts';
import type {
  EngineReady,
  EngineWorkerInit,
  ModeMeasurement,
  ParentMessage,
  PeerReady,
  PeerWorkerInit,
  RunMeasurement,
  RunRequest,
  WorkerMessage,
} from './protocol.ts';
import {
  compareTokens,
  computeRatios,
  DECODE_GOAL,
  formatHeadline,
  formatTable,
  summarizeMode,
  summarizePeer,
} from './report.ts';

const ROOT = path.join(__dirname, '..');
const TINY_FIXTURE_DIR = path.join(ROOT, 'test', 'fixtures', 'generated');
const LARGE_FIXTURE_DIR = path.join(ROOT, 'bench', 'out', 'fixtures');

/** KV cache size of both runtimes, in tokens (the engine's default). */
const CONTEXT_SIZE = 4096;
/** Largest batch handed to llama_decode, in tokens (the default of the engine and of node-llama-cpp). */
const BATCH_SIZE = 512;

/**
 * The prompt: a chat turn whose assistant reply has opened `<think>`. With the
 * fixtures' byte-level vocabulary it is about 200 tokens long.
 */
const PROMPT_TEXT = [
  '<|im_start|>user',
  'What does this Python program print, and why?',
  '',
  'def total(values):',
  '    result = 0',
  '    for value in values:',
  '        if value % 2 == 0:',
  '            result += value * 2',
  '        else:',
  '            result -= value',
  '    return result',
  '',
  'print(total(range(10)))<|im_end|>',
  '<|im_start|>assistant',
  '<think>',
  '',
].join('\n');

const HELP = `Usage: npm run bench:engine -- [options]

Times node-llama-cpp and our engine (modes vanilla, eagle3, specexit, probe) on
the same model, prompt and threads, in separate worker processes, and prints
medians over the rounds and the ratios vanilla / node-llama-cpp and
speculative mode / vanilla.

Options:
  --threads N        threads for decoding and prompt batches (default 1)
  --flash-attention on|off
                     flash attention in both runtimes (default off, the
                     engine's own default on CPU)
  --tokens N         tokens to generate per run (default 256)
  --rounds R         timed rounds after one warm-up run per worker (default 5)
  --fixture NAME     generated models to use (default tiny):
                       tiny   the test fixtures, Qwen3 with hidden size 64
                       large  ${LARGE_FIXTURE_DESCRIPTION},
                              written to bench/out/fixtures/ on first use
  --model PATH       target GGUF instead of a fixture; then only --draft and
                     --signals, when given, add a draft and a signal head
  --draft PATH       EAGLE-3 draft GGUF for the target (modes eagle3, specexit)
  --signals PATH     signal-head sidecar (safetensors) for the target (mode specexit)
  --json             print one JSON object on stdout instead of the table
  --help             print this text

Exits with code 1 when a worker fails or the greedy tokens of node-llama-cpp
and vanilla, or of eagle3 and vanilla, differ.
`;

interface BenchOptions {
  threads: number;
  flashAttention: boolean;
  tokens: number;
  rounds: number;
  fixture: 'tiny' | 'large';
  modelPath: string | undefined;
  draftPath: string | undefined;
  signalsPath: string | undefined;
  json: boolean;
}

class UsageError extends Error {}

function parseOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string', default: '1' },
      'flash-attention': { type: 'string', default: 'off' },
      tokens: { type: 'string', default: '256' },
      rounds: { type: 'string', default: '5' },
      fixture: { type: 'string', default: 'tiny' },
      model: { type: 'string' },
      draft: { type: 'string' },
      signals: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;

  const fixture = values.fixture;
  if (fixture !== 'tiny' && fixture !== 'large') {
    throw new UsageError(`invalid --fixture ${JSON.stringify(fixture)}: expected tiny or large`);
  }
  if (values.model === undefined && (values.draft !== undefined || values.signals !== undefined)) {
    throw new UsageError('--draft and --signals need --model, because without --model the fixture models are used');
  }
  const flash = values['flash-attention'];
  if (flash !== 'on' && flash !== 'off') {
    throw new UsageError(`invalid --flash-attention ${JSON.stringify(flash)}: expected on or off`);
  }
  const tokens = parsePositiveInteger('--tokens', values.tokens);
  if (tokens >= CONTEXT_SIZE) {
    throw new UsageError(`invalid --tokens ${tokens}: the prompt and the generated tokens must fit in the context of ${CONTEXT_SIZE} tokens`);
  }
  return {
    threads: parsePositiveInteger('--threads', values.threads),
    flashAttention: flash === 'on',
    tokens,
    rounds: parsePositiveInteger('--rounds', values.rounds),
    fixture,
    modelPath: values.model && path.resolve(values.model),
    draftPath: values.draft && path.resolve(values.draft),
    signalsPath: values.signals && path.resolve(values.signals),
    json: values.json,
  };
}

function parsePositiveInteger(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`invalid ${name} ${JSON.stringify(text)}: expected a whole number of at least 1`);
  }
  return value;
}

/** Returns the model files to load, generating the fixtures when they are used. */
async function resolveModels(options: BenchOptions): Promise<{ model: string; draft?: string; signals?: string }> {
  if (options.modelPath) {
    const models = { model: options.modelPath, draft: options.draftPath, signals: options.signalsPath };
    for (const [option, file] of Object.entries(models)) {
      if (file !== undefined && !existsSync(file)) throw new UsageError(`--${option} file ${file} not found`);
    }
    return models;
  }
  if (options.fixture === 'large') {
    progress(`generating the large fixture in ${path.relative(ROOT, LARGE_FIXTURE_DIR)} if missing`);
    const large = await generateLargeFixtures(LARGE_FIXTURE_DIR);
    return { model: large.target, draft: large.draft, signals: large.signals };
  }
  const tiny = await generateFixtures(TINY_FIXTURE_DIR);
  return { model: tiny.target, draft: tiny.draft, signals: tiny.signals };
}

/** A worker process that handles one request at a time. */
class Worker<Init, Ready, Result> {
  private readonly child: ChildProcess;
  private pending: { resolve(message: WorkerMessage<Ready, Result>): void; reject(error: Error): void } | undefined;
  private exited = false;

  constructor(
    private readonly name: string,
    script: string,
  ) {
    this.child = fork(path.join(__dirname, script), [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      // Worker output goes to stderr, so that --json leaves stdout to the result.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child.stdout!.pipe(process.stderr);
    this.child.stderr!.pipe(process.stderr);
    this.child.on('message', (message: WorkerMessage<Ready, Result>) => {
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) return;
      if (message.type === 'failed') pending.reject(new Error(`the ${this.name} worker failed: ${message.message}`));
      else pending.resolve(message);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.pending?.reject(new Error(`the ${this.name} worker exited (${signal ?? `code ${code}`}) before it responded`));
      this.pending = undefined;
    });
  }

  async start(settings: Init): Promise<Ready> {
    const message = await this.request({ type: 'init', settings });
    if (message.type !== 'ready') throw new Error(`the ${this.name} worker responded to init with ${message.type}`);
    return message.ready;
  }

  async run(request: RunRequest): Promise<Result> {
    const message = await this.request({ type: 'run', ...request });
    if (message.type !== 'result' || message.round !== request.round) {
      throw new Error(`the ${this.name} worker responded to round ${request.round} with ${message.type}`);
    }
    return message.result;
  }

  /** Disconnects, which makes the worker free its models and exit. */
  close(): void {
    if (!this.exited && this.child.connected) this.child.disconnect();
  }

  private request(message: ParentMessage<Init>): Promise<WorkerMessage<Ready, Result>> {
    if (this.exited || !this.child.connected) {
      return Promise.reject(new Error(`the ${this.name} worker is not running`));
    }
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(message);
    });
  }
}

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function readPackageVersion(packageName: string): string {
  // The package's exports do not include package.json, so find it from the entry point.
  let dir = path.dirname(require.resolve(packageName));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`bench:engine: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    throw error;
  }
  if (!options) {
    process.stdout.write(HELP);
    return 0;
  }

  const models = await resolveModels(options);
  const modes: Mode[] = ['vanilla'];
  if (models.draft) modes.push('eagle3');
  if (models.draft && models.signals) modes.push('specexit');
  modes.push('probe');

  const workload = {
    modelPath: models.model,
    threads: options.threads,
    contextSize: CONTEXT_SIZE,
    batchSize: BATCH_SIZE,
    tokens: options.tokens,
    flashAttention: options.flashAttention,
  };
  const engineWorker = new Worker<EngineWorkerInit, EngineReady, ModeMeasurement[]>('engine', 'engine-worker.ts');
  let peerWorker: Worker<PeerWorkerInit, PeerReady, RunMeasurement> | undefined;
  try {
    progress(`loading ${path.relative(ROOT, models.model)} in our engine (${options.threads} threads) and warming up ${modes.join(', ')}`);
    const engineReady = await engineWorker.start({
      ...workload,
      draftPath: models.draft,
      signalsPath: models.signals,
      promptText: PROMPT_TEXT,
      modes,
    });
    const promptTokens = engineReady.promptTokens;
    if (promptTokens.length + options.tokens + 1 > CONTEXT_SIZE) {
      throw new UsageError(
        `the prompt (${promptTokens.length} tokens) and --tokens ${options.tokens} exceed the context of ${CONTEXT_SIZE} tokens, so lower --tokens`,
      );
    }

    progress('loading the same model in node-llama-cpp and warming up');
    peerWorker = new Worker<PeerWorkerInit, PeerReady, RunMeasurement>('node-llama-cpp', 'peer-worker.ts');
    const peerReady = await peerWorker.start({ ...workload, promptTokens, promptText: PROMPT_TEXT });
    const tokenizersAgree = peerReady.ownPromptTokens.join(',') === promptTokens.join(',');
    if (!tokenizersAgree) {
      progress("note: node-llama-cpp tokenizes the prompt differently, so both decode our engine's tokens");
    }

    const peerRuns: RunMeasurement[] = [];
    const modeRuns: ModeMeasurement[][] = [];
    const speculativeModes = modes.filter((mode) => mode !== 'vanilla');
    for (let round = 1; round <= options.rounds; round++) {
      // node-llama-cpp and vanilla run back to back, in alternating order, so
      // that slow phases of a noisy machine tend to hit both.
      let peerRun: RunMeasurement;
      let vanillaRun: ModeMeasurement[];
      if (round % 2 === 1) {
        peerRun = await peerWorker.run({ round });
        vanillaRun = await engineWorker.run({ round, modes: ['vanilla'] });
      } else {
        vanillaRun = await engineWorker.run({ round, modes: ['vanilla'] });
        peerRun = await peerWorker.run({ round });
      }
      const engineRun = [...vanillaRun, ...(await engineWorker.run({ round, modes: speculativeModes }))];
      peerRuns.push(peerRun);
      modeRuns.push(engineRun);
      const rates = engineRun.map((run) => `${run.mode} ${run.decodeTokensPerSecond.toFixed(1)}`).join(', ');
      progress(`round ${round}/${options.rounds}: decode t/s node-llama-cpp ${peerRun.decodeTokensPerSecond.toFixed(1)}, ${rates}`);
    }

    const peer = summarizePeer(peerRuns);
    const rows = modes.map((mode) => summarizeMode(mode, modeRuns.map((runs) => runs.find((run) => run.mode === mode)!)));
    const ratios = computeRatios(peer, rows, peerRuns, modeRuns);
    const agreement = compareTokens(peerRuns, modeRuns);
    const tokensAgree =
      agreement.peerMatchesVanilla === agreement.rounds &&
      (agreement.eagle3MatchesVanilla === undefined || agreement.eagle3MatchesVanilla === agreement.rounds);

    const setup = {
      model: models.model,
      draft: models.draft,
      signals: models.signals,
      target: engineReady.targetDescription,
      draftModel: engineReady.draftDescription,
      promptTokens: promptTokens.length,
      tokens: options.tokens,
      rounds: options.rounds,
      threads: options.threads,
      flashAttention: options.flashAttention,
      contextSize: CONTEXT_SIZE,
      batchSize: BATCH_SIZE,
      nodeLlamaCpp: {
        version: readPackageVersion('node-llama-cpp'),
        llamaCppRelease: peerReady.llamaCppRelease,
        contextSize: peerReady.contextSize,
        batchSize: peerReady.batchSize,
        threads: peerReady.threads,
        flashAttention: peerReady.flashAttention,
        tokenizerAgrees: tokenizersAgree,
      },
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        logicalCpus: availableParallelism(),
        memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
        node: process.version,
      },
    };

    if (options.json) {
      const strip = <T extends RunMeasurement>({ tokens: _tokens, ...rest }: T) => rest;
      const result = {
        setup,
        decodeGoal: DECODE_GOAL,
        ratios,
        tokenAgreement: agreement,
        rows: [peer, ...rows],
        rounds: peerRuns.map((peerRun, index) => ({
          nodeLlamaCpp: strip(peerRun),
          engine: modeRuns[index]!.map(strip),
        })),
      };
      process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const lines = [
        `model: ${path.relative(ROOT, models.model)} (${engineReady.targetDescription})`,
        models.draft ? `draft: ${path.relative(ROOT, models.draft)} (${engineReady.draftDescription})` : 'draft: none',
        `prompt ${promptTokens.length} tokens (${promptTokens.length - 1} prefilled), ${options.tokens} generated, ` +
          `${options.threads} thread(s), ${options.rounds} round(s), medians; node-llama-cpp ${setup.nodeLlamaCpp.version} ` +
          `(llama.cpp ${peerReady.llamaCppRelease})`,
        '',
        ...formatHeadline(ratios, agreement),
        '',
        formatTable(peer, rows, ratios),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }

    if (!tokensAgree) {
      process.stderr.write(
        'bench:engine: the greedy tokens differ (see above), so the runtimes did not do the same work; the speeds are not comparable\n',
      );
      return 1;
    }
    return 0;
  } finally {
    engineWorker.close();
    peerWorker?.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`bench:engine: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bench:engine failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
