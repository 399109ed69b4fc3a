/**
 * Child process for the corrupted-file tests: loads the models named on the command line, runs a short
 * generation, and prints one JSON line with the outcome. A crash shows up in the parent as a signal.
 */
import { Engine } from '../../daemon/engine/engine.ts';
import { silentLogger } from './helpers.ts';

async function main(): Promise<void> {
  const [targetPath, draftPath, signalsPath] = process.argv.slice(2);
  if (!targetPath) throw new Error('usage: load-child.ts TARGET [DRAFT|-] [SIGNALS|-]');
  const optional = (value: string | undefined) => (value && value !== '-' ? value : undefined);
  try {
    const engine = await Engine.load({
      targetPath,
      draftPath: optional(draftPath),
      signalsPath: optional(signalsPath),
      threads: 1,
      contextSize: 256,
      gpu: false,
      logger: silentLogger,
    });
    let reason = '';
    const mode = optional(signalsPath) ? 'specexit' : optional(draftPath) ? 'eagle3' : 'vanilla';
    for await (const event of engine.generate(engine.tokenize('hello\n\nworld'), { mode, maxTokens: 8 })) {
      if (event.type === 'done') reason = event.error ?? event.reason;
    }
    engine.dispose();
    console.log(JSON.stringify({ loaded: true, reason }));
  } catch (error) {
    console.log(JSON.stringify({ loaded: false, message: (error as Error).message }));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
