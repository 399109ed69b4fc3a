/**
 * The SpecExit benchmark: every mode on the same prompts and engine, with accuracy, thinking and total tokens,
 * latency, time to answer, acceptance length and the probes' share of the time.
 */
import { performance } from 'node:perf_hooks';

import { sameFinalAnswer } from '../calibrate/answer.ts';
import type { PromptItem } from '../calibrate/prompts.ts';
import { ProgressBar, type ProgressStream } from '../calibrate/progress.ts';
import { ChatTemplate, renderThinkingPrompt } from '../calibrate/thinking-prompt.ts';
import type { Engine } from '../engine/engine.ts';
import type { ExitOptions, FinishReason, GenerateOptions, Mode } from '../engine/index.ts';

export type BenchMode = 'vanilla' | 'eagle3' | 'specexit' | 'probe' | 'budget-A' | 'budget-B';
export const BENCH_MODES: readonly BenchMode[] = ['vanilla', 'eagle3', 'specexit', 'probe', 'budget-A', 'budget-B'];

export interface BenchSettings {
  maxTokens: number;
  draftTokens: number;
  /** Thinking budgets of budget-A and budget-B as fractions of vanilla's mean thinking tokens, unless `budgetTokens` is set. */
  budgetFractions: [number, number];
  budgetTokens?: [number, number];
  probeThreshold?: number;
  /** Text the probe forces after `</think>`; the engine's default is DeepSeek's "**Final Answer**" heading. */
  probeAnswerPrefix?: string;
  /** Tokens each probe decodes (the engine's default otherwise). */
  probeTokens?: number;
  /** Exit-rule overrides for mode specexit. A field left out keeps the sidecar's value. */
  exit?: Pick<ExitOptions, 'alpha' | 'confidenceThreshold' | 'progressThreshold' | 'remainThreshold'>;
}

export interface PromptResult {
  mode: BenchMode;
  prompt: number;
  answer: string;
  correct: boolean;
  thinkingTokens: number;
  generatedTokens: number;
  latencyMs: number;
  /** From the generate call to the first answer text; the latency when no answer came. */
  timeToAnswerMs: number;
  meanAcceptedPerStep: number;
  probeMs: number;
  finishReason: FinishReason;
  /** Thinking tokens before a forced `</think>` (SpecExit, probe or budget exit). */
  exitPosition?: number;
}

export interface ModeSummary {
  mode: BenchMode;
  /** Set when the mode could not run, with the reason. */
  skipped?: string;
  /** Engine mode and thinking budget the row ran with. */
  engineMode?: Mode;
  thinkingBudget?: number;
  prompts: number;
  /** Share of correct answers, 0 to 1. */
  accuracy: number;
  meanThinkingTokens: number;
  meanTotalTokens: number;
  meanLatencyMs: number;
  meanTimeToAnswerMs: number;
  /** Mean tokens gained per verification step (1 for plain decoding). */
  meanAcceptanceLength: number;
  /** Probe time over the whole latency, 0 to 1. */
  probeShare: number;
  /** Prompts whose thinking was cut. */
  exits: number;
  /** This mode over eagle3 / vanilla: thinking tokens (lower is better) and speedup = their latency over this latency. */
  vsEagle3?: { thinkingTokens: number; speedup: number; accuracyPoints: number };
  vsVanilla?: { thinkingTokens: number; speedup: number; accuracyPoints: number };
}

export interface BenchReport {
  settings: BenchSettings & { prompts: number; model: string; draft?: string; signals?: string; threads?: number };
  modes: ModeSummary[];
  results: PromptResult[];
}

interface ModePlan {
  mode: BenchMode;
  options?: GenerateOptions;
  skipped?: string;
}

async function runOne(engine: Engine, tokens: Int32Array, startInThinking: boolean, options: GenerateOptions) {
  const started = performance.now();
  let answer = '';
  let firstAnswerMs: number | undefined;
  let exitPosition: number | undefined;
  let finishReason: FinishReason = 'eos';
  let stats;
  for await (const event of engine.generate(tokens, { ...options, startInThinking })) {
    if (event.type === 'delta' && event.phase === 'answer') {
      firstAnswerMs ??= performance.now() - started;
      answer += event.text;
    } else if (event.type === 'exit') {
      exitPosition = event.position;
    } else if (event.type === 'stats') {
      stats = event.stats;
    } else if (event.type === 'done') {
      finishReason = event.reason;
      if (event.reason === 'error') throw new Error(`generation failed in mode ${options.mode}: ${event.error ?? 'unknown error'}`);
    }
  }
  const latencyMs = performance.now() - started;
  if (!stats) throw new Error('the generation ended without statistics');
  return { answer, latencyMs, timeToAnswerMs: firstAnswerMs ?? latencyMs, stats, finishReason, exitPosition };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function summarize(mode: BenchMode, results: readonly PromptResult[], plan: ModePlan): ModeSummary {
  const rows = results.filter((result) => result.mode === mode);
  const totalLatency = rows.reduce((sum, row) => sum + row.latencyMs, 0);
  return {
    mode,
    ...(plan.skipped && { skipped: plan.skipped }),
    ...(plan.options?.mode && { engineMode: plan.options.mode }),
    ...(plan.options?.thinkingBudget !== undefined && { thinkingBudget: plan.options.thinkingBudget }),
    prompts: rows.length,
    accuracy: mean(rows.map((row) => (row.correct ? 1 : 0))),
    meanThinkingTokens: mean(rows.map((row) => row.thinkingTokens)),
    meanTotalTokens: mean(rows.map((row) => row.generatedTokens)),
    meanLatencyMs: mean(rows.map((row) => row.latencyMs)),
    meanTimeToAnswerMs: mean(rows.map((row) => row.timeToAnswerMs)),
    meanAcceptanceLength: mean(rows.map((row) => row.meanAcceptedPerStep)),
    probeShare: totalLatency > 0 ? rows.reduce((sum, row) => sum + row.probeMs, 0) / totalLatency : 0,
    exits: rows.filter((row) => row.exitPosition !== undefined).length,
  };
}

function compare(row: ModeSummary, base: ModeSummary | undefined) {
  if (!base || base.skipped || row.skipped) return undefined;
  return {
    thinkingTokens: row.meanThinkingTokens / base.meanThinkingTokens,
    speedup: base.meanLatencyMs / row.meanLatencyMs,
    accuracyPoints: (row.accuracy - base.accuracy) * 100,
  };
}

export interface RunBenchOptions {
  settings: BenchSettings;
  prompts: readonly PromptItem[];
  progress?: ProgressStream;
  signal?: AbortSignal;
}

/**
 * Runs every mode on every prompt. Vanilla, eagle3, specexit and probe run prompt by prompt; the budget modes
 * follow once vanilla's mean thinking is known. Budgets cut eagle3 decoding, so that they compare with SpecExit
 * on the same decoder. The reference of a prompt without an answer is vanilla's answer.
 */
export async function runBench(engine: Engine, options: RunBenchOptions): Promise<Pick<BenchReport, 'modes' | 'results'>> {
  const { settings, prompts } = options;
  const hasDraft = engine.description.draft !== undefined;
  const common = { maxTokens: settings.maxTokens, draftTokens: settings.draftTokens };
  const plans: ModePlan[] = [
    { mode: 'vanilla', options: { ...common, mode: 'vanilla' } },
    hasDraft ? { mode: 'eagle3', options: { ...common, mode: 'eagle3' } } : { mode: 'eagle3', skipped: 'no draft loaded (--draft)' },
    !hasDraft
      ? { mode: 'specexit', skipped: 'no draft loaded (--draft)' }
      : engine.sidecar
        ? { mode: 'specexit', options: { ...common, mode: 'specexit', ...(settings.exit && { exit: settings.exit }) } }
        : { mode: 'specexit', skipped: 'no signal sidecar loaded (--signals)' },
    { mode: 'probe', options: { ...common, mode: 'probe', probe: probeOptions(settings) } },
  ];

  const template = new ChatTemplate(engine);
  const rendered = prompts.map((prompt) => renderThinkingPrompt(template, engine, prompt.prompt));
  const results: PromptResult[] = [];
  const vanillaAnswers = new Map<number, string>();
  const runnable = plans.filter((plan) => plan.options).length + (hasDraft ? 2 : 0);
  const bar = new ProgressBar('bench', prompts.length * runnable, options.progress);
  let done = 0;

  // Warm-up: the first decode of a process pays one-time graph reservations.
  await runOne(engine, rendered[0]!.tokens, rendered[0]!.startInThinking, { ...common, mode: hasDraft ? 'eagle3' : 'vanilla', maxTokens: 8 });

  const record = async (plan: ModePlan, index: number) => {
    if (options.signal?.aborted) throw new Error('the benchmark was aborted');
    const prompt = prompts[index]!;
    const run = await runOne(engine, rendered[index]!.tokens, rendered[index]!.startInThinking, plan.options!);
    if (plan.mode === 'vanilla') vanillaAnswers.set(prompt.index, run.answer);
    const reference = prompt.answer ?? vanillaAnswers.get(prompt.index) ?? '';
    results.push({
      mode: plan.mode,
      prompt: prompt.index,
      answer: run.answer,
      correct: sameFinalAnswer(run.answer, reference),
      thinkingTokens: run.stats.thinkingTokens,
      generatedTokens: run.stats.generatedTokens,
      latencyMs: run.latencyMs,
      timeToAnswerMs: run.timeToAnswerMs,
      meanAcceptedPerStep: run.stats.steps > 0 ? run.stats.meanAcceptedPerStep : 1,
      probeMs: run.stats.probeMs,
      finishReason: run.finishReason,
      ...(run.exitPosition !== undefined && { exitPosition: run.exitPosition }),
    });
    bar.update(++done, `${plan.mode} prompt ${prompt.index}`);
  };

  for (let index = 0; index < prompts.length; index++) {
    for (const plan of plans) if (plan.options) await record(plan, index);
  }

  const vanillaThinking = mean(results.filter((result) => result.mode === 'vanilla').map((result) => result.thinkingTokens));
  const budgets = settings.budgetTokens ?? settings.budgetFractions.map((fraction) => Math.max(1, Math.round(vanillaThinking * fraction)));
  const budgetPlans: ModePlan[] = (['budget-A', 'budget-B'] as const).map((mode, k) =>
    hasDraft
      ? { mode, options: { ...common, mode: 'eagle3', thinkingBudget: budgets[k]! } }
      : { mode, options: { ...common, mode: 'vanilla', thinkingBudget: budgets[k]! } },
  );
  for (let index = 0; index < prompts.length; index++) {
    for (const plan of budgetPlans) await record(plan, index);
  }
  bar.finish();

  const modes = [...plans, ...budgetPlans].map((plan) => summarize(plan.mode, results, plan));
  const eagle3 = modes.find((row) => row.mode === 'eagle3');
  const vanilla = modes.find((row) => row.mode === 'vanilla');
  for (const row of modes) {
    const vsEagle3 = compare(row, eagle3);
    const vsVanilla = compare(row, vanilla);
    if (vsEagle3) row.vsEagle3 = vsEagle3;
    if (vsVanilla) row.vsVanilla = vsVanilla;
  }
  return { modes, results };
}

function probeOptions(settings: BenchSettings): { threshold?: number; answerPrefix?: string; tokens?: number } {
  return {
    ...(settings.probeThreshold !== undefined && { threshold: settings.probeThreshold }),
    ...(settings.probeAnswerPrefix !== undefined && { answerPrefix: settings.probeAnswerPrefix }),
    ...(settings.probeTokens !== undefined && { tokens: settings.probeTokens }),
  };
}
