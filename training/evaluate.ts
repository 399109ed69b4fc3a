/**
 * Held-out accuracy of the embedded model with full thinking, through the engine (llama.cpp), greedy.
 *
 * Usage: node --import tsx training/evaluate.ts [--model F] [--draft F] [--prompts F] [--limit N] [--json]
 *
 * With a draft it decodes with EAGLE-3, which gives the same greedy tokens as the target alone, and also
 * reports the acceptance length (tokens gained per verification step).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { extractFinalAnswer } from '../daemon/calibrate/answer.ts';
import { ChatTemplate, renderThinkingPrompt } from '../daemon/calibrate/thinking-prompt.ts';
import { Engine } from '../daemon/engine/index.ts';

interface HeldOut {
  prompt: string;
  answer: string;
  family?: string;
}

export interface EvaluationResult {
  prompts: number;
  correct: number;
  accuracy: number;
  byFamily: Record<string, { prompts: number; correct: number }>;
  meanThinkingTokens: number;
  meanAcceptedPerStep: number;
  unfinished: number;
  /** Up to 10 wrong answers, for reading. */
  wrong: { prompt: string; expected: string; got: string }[];
}

export async function evaluate(options: {
  model: string;
  draft?: string;
  prompts: string;
  limit?: number;
  threads?: number;
  maxTokens?: number;
  onProgress?: (done: number, total: number, correct: number) => void;
}): Promise<EvaluationResult> {
  const items: HeldOut[] = readFileSync(options.prompts, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HeldOut)
    .slice(0, options.limit ?? Infinity);
  const engine = await Engine.load({ targetPath: options.model, draftPath: options.draft, threads: options.threads ?? 1 });
  const template = new ChatTemplate(engine);
  const result: EvaluationResult = {
    prompts: 0, correct: 0, accuracy: 0, byFamily: {}, meanThinkingTokens: 0, meanAcceptedPerStep: 0, unfinished: 0, wrong: [],
  };
  let thinkingTokens = 0;
  let accepted = 0;
  try {
    for (const item of items) {
      const rendered = renderThinkingPrompt(template, engine, item.prompt);
      let answer = '';
      let finished = false;
      for await (const event of engine.generate(rendered.tokens, {
        mode: options.draft ? 'eagle3' : 'vanilla',
        maxTokens: options.maxTokens ?? 1024,
        startInThinking: rendered.startInThinking,
      })) {
        if (event.type === 'delta' && event.phase === 'answer') answer += event.text;
        if (event.type === 'stats') {
          thinkingTokens += event.stats.thinkingTokens;
          accepted += event.stats.meanAcceptedPerStep;
        }
        if (event.type === 'done') finished = event.reason === 'eos';
      }
      const got = extractFinalAnswer(answer);
      const ok = got === item.answer;
      const family = item.family ?? 'all';
      const entry = (result.byFamily[family] ??= { prompts: 0, correct: 0 });
      entry.prompts += 1;
      result.prompts += 1;
      if (ok) {
        entry.correct += 1;
        result.correct += 1;
      } else if (result.wrong.length < 10) {
        result.wrong.push({ prompt: item.prompt, expected: item.answer, got });
      }
      if (!finished) result.unfinished += 1;
      options.onProgress?.(result.prompts, items.length, result.correct);
    }
  } finally {
    engine.dispose();
  }
  result.accuracy = result.correct / Math.max(1, result.prompts);
  result.meanThinkingTokens = thinkingTokens / Math.max(1, result.prompts);
  result.meanAcceptedPerStep = accepted / Math.max(1, result.prompts);
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/pytrace-target.gguf' },
      draft: { type: 'string' },
      'no-draft': { type: 'boolean', default: false },
      prompts: { type: 'string', default: 'training/data/heldout.jsonl' },
      limit: { type: 'string' },
      threads: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const draft = values['no-draft'] ? undefined : (values.draft ?? values.model.replace(/-target\.gguf$/, '-draft.gguf'));
  const result = await evaluate({
    model: values.model,
    draft: draft && draft !== values.model ? draft : undefined,
    prompts: values.prompts,
    limit: values.limit ? Number(values.limit) : undefined,
    threads: Number(values.threads),
    onProgress: (done, total, correct) => {
      if (done % 25 === 0 || done === total) process.stderr.write(`${done}/${total} prompts, ${correct} correct\n`);
    },
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const pct = (n: number, d: number) => `${((100 * n) / Math.max(1, d)).toFixed(1)} %`;
  console.log(`accuracy ${pct(result.correct, result.prompts)} (${result.correct}/${result.prompts}), unfinished ${result.unfinished}`);
  console.log(`mean thinking tokens ${result.meanThinkingTokens.toFixed(1)}, mean accepted per step ${result.meanAcceptedPerStep.toFixed(2)}`);
  for (const [family, entry] of Object.entries(result.byFamily).sort()) {
    console.log(`  ${family.padEnd(12)} ${pct(entry.correct, entry.prompts).padStart(8)} of ${entry.prompts}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
