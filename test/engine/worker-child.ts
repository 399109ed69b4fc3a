/**
 * Worker-thread checks: an engine in a worker thread, one on the main thread at the same time, and a worker
 * terminated while it generates. Prints one line per check; a crash or hang fails the parent test.
 */
import path from 'node:path';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

import { chatPrompt, collect, loadFixtureEngine, QUESTIONS } from './helpers.ts';

async function generateSome(tokens: number): Promise<number> {
  const engine = await loadFixtureEngine({ contextSize: 4096 });
  const run = await collect(engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: tokens }));
  engine.dispose();
  return run.stats.generatedTokens;
}

async function inWorker(): Promise<void> {
  const engine = await loadFixtureEngine({ contextSize: 4096 });
  parentPort!.postMessage('generating');
  for await (const event of engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: 4000 })) void event;
}

async function main(): Promise<void> {
  const mainTokens = await generateSome(20);
  console.log(`main ${mainTokens}`);

  // Worker threads do not inherit tsx's loader, so the worker registers it first.
  const entry = JSON.stringify(path.join(__dirname, 'worker-child.ts'));
  const worker = new Worker(`require('tsx/cjs/api').register(); require(${entry});`, { eval: true });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', () => resolve());
    worker.on('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await worker.terminate();
  console.log('terminated');

  console.log(`main again ${await generateSome(20)}`);
}

if (isMainThread) {
  main().catch((error) => {
    console.error(error);
    process.exit(2);
  });
} else {
  inWorker().catch((error) => {
    console.error(error);
    process.exit(3);
  });
}
