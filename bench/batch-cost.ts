/**
 * Times one llama_decode of k tokens for several k, with flash attention on
 * and off, through node-llama-cpp. Speculative decoding pays off only when a
 * verification batch of k tokens costs much less than k single-token decodes,
 * so this shows whether it can on a given machine and model.
 *
 * Usage: node --import tsx bench/batch-cost.ts [--model PATH] [--threads N] [--context N]
 *
 * Each time includes node-llama-cpp's scheduling, about a millisecond per call
 * on a small model. No logits are requested, so the output head is skipped.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import type { Token } from 'node-llama-cpp';

import { generateFixtures } from '../test/fixtures/generate.ts';

const BATCH_SIZES = [1, 2, 3, 5, 9, 19, 64];
const REPETITIONS = 6;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      threads: { type: 'string', default: '1' },
      context: { type: 'string', default: '320' },
    },
  });
  const threads = Number(values.threads);
  const contextTokens = Number(values.context);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`invalid --threads ${values.threads}: expected a whole number of at least 1`);
  if (!Number.isInteger(contextTokens) || contextTokens < 1 || contextTokens > 3000) {
    throw new Error(`invalid --context ${values.context}: expected a whole number from 1 to 3000`);
  }
  const modelPath = values.model
    ? path.resolve(values.model)
    : (await generateFixtures(path.join(__dirname, '..', 'test', 'fixtures', 'generated'))).target;

  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads, progressLogs: false });
  const model = await llama.loadModel({ modelPath });
  // Filler tokens put `contextTokens` tokens in the KV cache before each timed batch.
  const filler = model.tokenize('ab '.repeat(contextTokens)).slice(0, contextTokens);
  console.log(`${path.basename(modelPath)}, ${threads} threads, ${filler.length} tokens in context, mean of ${REPETITIONS} decodes`);

  for (const flashAttention of [true, false]) {
    const context = await model.createContext({ contextSize: 4096, batchSize: 512, threads, flashAttention });
    const sequence = context.getSequence();
    await sequence.evaluateWithoutGeneratingNewTokens(filler);

    const cells: string[] = [];
    for (const size of BATCH_SIZES) {
      const batch = Array.from({ length: size }, (_, i) => filler[i % filler.length]!) as Token[];
      // One untimed decode first, so that each batch shape has its graph built once.
      await sequence.evaluateWithoutGeneratingNewTokens(batch);
      await sequence.eraseContextTokenRanges([{ start: filler.length, end: filler.length + size }]);

      let totalMs = 0;
      for (let repetition = 0; repetition < REPETITIONS; repetition++) {
        const start = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(batch);
        totalMs += performance.now() - start;
        await sequence.eraseContextTokenRanges([{ start: filler.length, end: filler.length + size }]);
      }
      cells.push(`k=${size} ${(totalMs / REPETITIONS).toFixed(1)} ms`);
    }
    console.log(`flash attention ${flashAttention ? 'on ' : 'off'}: ${cells.join(', ')}`);
    await context.dispose();
  }

  await model.dispose();
  await llama.dispose();
}

main().catch((error: unknown) => {
  console.error(`bench/batch-cost.ts failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
