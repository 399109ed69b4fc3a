/**
 * Child process for the shutdown tests: starts a long generation and then ends the process while it runs, by
 * process.exit or by an uncaught exception, as an editor host may do at any time.
 */
import { chatPrompt, loadFixtureEngine, QUESTIONS } from './helpers.ts';

async function main(): Promise<void> {
  const ending = process.argv[2];
  const engine = await loadFixtureEngine({ contextSize: 4096 });
  const stream = engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3', maxTokens: 4000 });
  setTimeout(() => {
    if (ending === 'exit') process.exit(0);
    throw new Error('uncaught on purpose');
  }, 50);
  for await (const event of stream) void event;
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
