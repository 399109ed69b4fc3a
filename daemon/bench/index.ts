/**
 * `specexit bench`: the SpecExit benchmark over a prompt file, every mode on the same prompts and engine. Run
 * directly with `npm run bench:specexit -- ...`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { readPromptFile } from '../calibrate/prompts.ts';
import { Engine } from '../engine/engine.ts';
import { runBench, type BenchReport, type BenchSettings } from './run.ts';
import { formatBenchTable } from './table.ts';

const ROOT = path.join(__dirname, '..', '..');
/** The embedded model's held-out prompts, written by the training pipeline. */
const HELDOUT_PROMPTS = path.join(ROOT, 'training', 'data', 'heldout.jsonl');
const FIXTURE_PROMPTS = path.join(ROOT, 'test', 'fixtures', 'prompts.jsonl');
const QUICK_PROMPTS = 3;
const QUICK_MAX_TOKENS = 192;

const HELP = `Usage: specexit bench [options]

Runs vanilla, eagle3, specexit, probe and two thinking budgets on the same
prompts and prints accuracy, mean thinking and total tokens, latency, time to
answer, acceptance length, the probes' share of the time, and ratios against
eagle3 and vanilla from the same run.

Options:
  --model PATH          target GGUF (default: the embedded model in models/)
  --draft PATH          EAGLE-3 draft GGUF (default: the embedded model's, with the default --model)
  --signals PATH        signal sidecar (default: the embedded model's, with the default --model)
  --prompts PATH        JSONL prompts, {"prompt": "...", "answer": "..."} per line
                        (default: training/data/heldout.jsonl)
  --limit N             use only the first N prompts
  --max-tokens N        generated tokens per run (default 1024)
  --draft-tokens N      draft tokens per step (default 4)
  --budgets A,B         budget-A and budget-B as fractions of vanilla's mean thinking (default 0.5,0.25)
  --budget-tokens A,B   fixed thinking budgets in tokens instead
  --probe-threshold P   probe exit threshold, mean probability of the probe tokens (default 0.9)
  --probe-prefix TEXT   text forced after </think> before the probe tokens, \\n for a newline
                        (default: the engine's "\\n\\n**Final Answer**\\n")
  --probe-tokens N      tokens each probe decodes (default: the engine's)
  --exit-confidence P   SpecExit exits only above this smoothed confidence, 0 to 1
  --exit-progress P     ... and above this smoothed progress, 0 to 1
  --exit-remain N       ... and below this smoothed count of remaining thinking tokens
  --exit-alpha A        weight of the newest step in the smoothing, above 0 up to 1
                        (the four --exit flags default to the signal sidecar's values)
  --threads N           CPU threads (default: half the cores)
  --context-size N      KV cache size in tokens (default: max-tokens plus 1024)
  --quick               ${QUICK_PROMPTS} prompts, ${QUICK_MAX_TOKENS} max tokens; without --model, the random-weight test fixtures
  --no-gpu              do not load GPU backends
  --json                print the report as JSON
  --out PATH            also write the JSON report to PATH
  -h, --help            show this help
`;

class UsageError extends Error {
  override name = 'UsageError';
}

function parseCount(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`Expected --${name} to be a positive integer, got "${value}".`);
  return n;
}

function parsePair(name: string, value: string, check: (n: number) => boolean, range: string): [number, number] {
  const parts = value.split(',').map(Number);
  if (parts.length !== 2 || !parts.every(check)) throw new UsageError(`Expected --${name} to be two ${range}, comma-separated, got "${value}".`);
  return parts as [number, number];
}

/** Parses a numeric flag, or returns undefined when it is absent. An empty string is invalid, not 0. */
function parseNumber(name: string, value: string | undefined, check: (n: number) => boolean, range: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !check(n)) throw new UsageError(`Expected --${name} to be ${range}, got "${value}".`);
  return n;
}

type ExitSettings = NonNullable<BenchSettings['exit']>;

/** The `--exit-*` flags: the exit-rule field each one sets, its check, and the range its error names. */
const EXIT_FLAGS: readonly [flag: 'exit-confidence' | 'exit-progress' | 'exit-remain' | 'exit-alpha', key: keyof ExitSettings, check: (n: number) => boolean, range: string][] = [
  ['exit-confidence', 'confidenceThreshold', (n) => n >= 0 && n <= 1, 'a number from 0 to 1'],
  ['exit-progress', 'progressThreshold', (n) => n >= 0 && n <= 1, 'a number from 0 to 1'],
  ['exit-remain', 'remainThreshold', (n) => n > 0 && Number.isFinite(n), 'a number above 0'],
  ['exit-alpha', 'alpha', (n) => n > 0 && n <= 1, 'a number above 0 up to 1'],
];

interface ModelPaths {
  model: string;
  draft?: string;
  signals?: string;
}

async function defaultModels(quick: boolean): Promise<ModelPaths> {
  if (quick) {
    const { generateFixtures } = await import('../../test/fixtures/generate.ts');
    const fixtures = await generateFixtures(path.join(ROOT, 'test', 'fixtures', 'generated'));
    return { model: fixtures.target, draft: fixtures.draft, signals: fixtures.signals };
  }
  const card = JSON.parse(readFileSync(path.join(ROOT, 'models', 'embedded.json'), 'utf8')) as { target: string; draft: string; signals: string };
  const resolved = { model: path.join(ROOT, 'models', card.target), draft: path.join(ROOT, 'models', card.draft), signals: path.join(ROOT, 'models', card.signals) };
  if (!existsSync(resolved.model)) {
    throw new UsageError(`The embedded model ${resolved.model} was not found; pass --model (and --draft, --signals), or --quick for the test fixtures.`);
  }
  return {
    model: resolved.model,
    ...(existsSync(resolved.draft) && { draft: resolved.draft }),
    ...(existsSync(resolved.signals) && { signals: resolved.signals }),
  };
}

/** Runs `specexit bench` with `argv` (the arguments after "bench") and returns the exit code. */
export async function runBenchCli(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        draft: { type: 'string' },
        signals: { type: 'string' },
        prompts: { type: 'string' },
        limit: { type: 'string' },
        'max-tokens': { type: 'string' },
        'draft-tokens': { type: 'string' },
        budgets: { type: 'string' },
        'budget-tokens': { type: 'string' },
        'probe-threshold': { type: 'string' },
        'probe-prefix': { type: 'string' },
        'probe-tokens': { type: 'string' },
        'exit-confidence': { type: 'string' },
        'exit-progress': { type: 'string' },
        'exit-remain': { type: 'string' },
        'exit-alpha': { type: 'string' },
        threads: { type: 'string' },
        'context-size': { type: 'string' },
        quick: { type: 'boolean' },
        'no-gpu': { type: 'boolean' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }

  try {
    const quick = values.quick ?? false;
    const maxTokens = parseCount('max-tokens', values['max-tokens'], quick ? QUICK_MAX_TOKENS : 1024);
    const limit = parseCount('limit', values.limit, quick ? QUICK_PROMPTS : Number.POSITIVE_INFINITY);
    const draftTokens = parseCount('draft-tokens', values['draft-tokens'], 4);
    const threads = values.threads === undefined ? undefined : parseCount('threads', values.threads, 1);
    const contextSize = parseCount('context-size', values['context-size'], maxTokens + 1024);
    const settings: BenchSettings = {
      maxTokens,
      draftTokens,
      budgetFractions: values.budgets ? parsePair('budgets', values.budgets, (n) => n > 0 && n <= 1, 'fractions in (0, 1]') : [0.5, 0.25],
      ...(values['budget-tokens'] && { budgetTokens: parsePair('budget-tokens', values['budget-tokens'], (n) => Number.isInteger(n) && n >= 0, 'token counts') }),
    };
    const probeThreshold = parseNumber('probe-threshold', values['probe-threshold'], (n) => n >= 0 && n <= 2, 'a number from 0 to 2');
    if (probeThreshold !== undefined) settings.probeThreshold = probeThreshold;
    if (values['probe-prefix'] !== undefined) settings.probeAnswerPrefix = values['probe-prefix'].replace(/\\n/g, '\n');
    if (values['probe-tokens'] !== undefined) settings.probeTokens = parseCount('probe-tokens', values['probe-tokens'], 1);
    const exit: ExitSettings = {};
    for (const [flag, key, check, range] of EXIT_FLAGS) {
      const value = parseNumber(flag, values[flag], check, range);
      if (value !== undefined) exit[key] = value;
    }
    if (Object.keys(exit).length > 0) settings.exit = exit;

    const models: ModelPaths = values.model
      ? { model: values.model, ...(values.draft && { draft: values.draft }), ...(values.signals && { signals: values.signals }) }
      : { ...(await defaultModels(quick)), ...(values.draft && { draft: values.draft }), ...(values.signals && { signals: values.signals }) };
    const promptsPath = values.prompts ?? (quick && !values.model ? FIXTURE_PROMPTS : HELDOUT_PROMPTS);
    if (!values.prompts && !existsSync(promptsPath)) {
      throw new UsageError(`The held-out prompts ${promptsPath} were not found; pass --prompts.`);
    }
    const prompts = (await readPromptFile(promptsPath)).slice(0, limit);

    const engine = await Engine.load({
      targetPath: models.model,
      ...(models.draft && { draftPath: models.draft }),
      ...(models.signals && { signalsPath: models.signals }),
      contextSize,
      ...(threads !== undefined && { threads }),
      ...(values['no-gpu'] && { gpu: false }),
    });
    let report: BenchReport;
    try {
      const { modes, results } = await runBench(engine, { settings, prompts });
      report = {
        settings: {
          ...settings,
          prompts: prompts.length,
          model: path.basename(models.model),
          ...(models.draft && { draft: path.basename(models.draft) }),
          ...(models.signals && { signals: path.basename(models.signals) }),
          ...(threads !== undefined && { threads }),
        },
        modes,
        results,
      };
    } finally {
      engine.dispose();
    }
    if (values.out) await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatBenchTable(report));
    return 0;
  } catch (error) {
    process.stderr.write(`specexit bench: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  runBenchCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
