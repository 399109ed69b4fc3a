/**
 * `specexit calibrate`: fits SpecExit signal heads for a target and its EAGLE-3 draft and writes the signal
 * sidecar. Run directly with `npm run calibrate -- ...`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

import { SIGNAL_SIDECAR_DEFAULTS } from '../engine/sidecar.ts';
import { runCalibration, type CalibrationReport, type FeatureSource } from './calibrate.ts';
import { DEFAULT_L2_GRID } from './heads.ts';
import { readPromptFile } from './prompts.ts';

const HELP = `Usage: specexit calibrate --model TARGET.gguf --draft DRAFT.gguf --prompts PROMPTS.jsonl --out SIGNALS.safetensors [options]

Fits SpecExit's three signal heads (confidence, progress, remaining thinking
tokens) on the target's own greedy traces and writes the signal sidecar, with
exit thresholds chosen on a validation split. Traces are saved in the work
directory as they finish, so a stopped run continues where it stopped.

PROMPTS.jsonl has one {"prompt": "...", "answer": "..."} object per line;
"answer" is optional (without it, the full trace's own answer is the reference).

Options:
  --model PATH              target GGUF (required)
  --draft PATH              EAGLE-3 draft GGUF; its target layers are the ones fitted (required)
  --prompts PATH            prompt set in JSONL (required)
  --out PATH                sidecar to write (required)
  --work-dir DIR            traces and run settings (default: OUT with ".work" appended)
  --seed N                  seed of the train/validation/held-out split (default 0)
  --limit N                 use only the first N prompts
  --max-tokens N            generated tokens per trace, thinking and answer (default 2048)
  --answer-tokens N         greedy tokens of each forced answer (default 32)
  --answer-prefix TEXT      text forced after </think> before each forced answer (default none)
  --features segment|boundary
                            rows the heads are fitted on: the mean of each segment between
                            boundaries, or the boundary token's own (default segment)
  --l2 LIST                 comma-separated L2 penalties tried per head (default ${DEFAULT_L2_GRID.join(',')})
  --validation-fraction F   share of prompts for choosing penalties and thresholds (default 0.15)
  --heldout-fraction F      share of prompts for the reported quality (default 0.15)
  --max-accuracy-loss P     accuracy the thresholds may cost, in points (default 1)
  --alpha A                 EWMA weight of the newest step, stored in the sidecar (default ${SIGNAL_SIDECAR_DEFAULTS.ewmaAlpha})
  --tokens-per-step N       the draft's mean tokens per verification step, for replaying the
                            exit rule (default: measured with the draft on 3 prompts)
  --include-unfinished      also fit traces that hit --max-tokens before closing their thinking
  --threads N               CPU threads (default: half the cores)
  --context-size N          KV cache size in tokens (default: max-tokens plus 1024)
  --no-gpu                  do not load GPU backends
  --json                    print the report as JSON
  -h, --help                show this help
`;

function parseNumberOption(name: string, value: string | undefined, fallback: number, check: (n: number) => boolean, range: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) {
    throw new UsageError(`Expected --${name} to be ${range}, got "${value}".`);
  }
  return n;
}

class UsageError extends Error {
  override name = 'UsageError';
}

const isCount = (n: number) => Number.isInteger(n) && n >= 1;

/** Runs `specexit calibrate` with `argv` (the arguments after "calibrate") and returns the exit code. */
export async function runCalibrateCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        draft: { type: 'string' },
        prompts: { type: 'string' },
        out: { type: 'string' },
        'work-dir': { type: 'string' },
        seed: { type: 'string' },
        limit: { type: 'string' },
        'max-tokens': { type: 'string' },
        'answer-tokens': { type: 'string' },
        'answer-prefix': { type: 'string' },
        features: { type: 'string' },
        l2: { type: 'string' },
        'validation-fraction': { type: 'string' },
        'heldout-fraction': { type: 'string' },
        'max-accuracy-loss': { type: 'string' },
        alpha: { type: 'string' },
        'tokens-per-step': { type: 'string' },
        'include-unfinished': { type: 'boolean' },
        threads: { type: 'string' },
        'context-size': { type: 'string' },
        'no-gpu': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return 0;
  }

  try {
    for (const name of ['model', 'draft', 'prompts', 'out'] as const) {
      if (!parsed[name]) throw new UsageError(`Missing --${name}.`);
    }
    const features = (parsed.features ?? 'segment') as FeatureSource;
    if (features !== 'segment' && features !== 'boundary') throw new UsageError(`Expected --features to be segment or boundary, got "${parsed.features}".`);
    const l2Grid = parsed.l2 === undefined ? DEFAULT_L2_GRID : parsed.l2.split(',').map((part) => parseNumberOption('l2', part, 0, (n) => n >= 0, 'a list of non-negative numbers'));
    const maxTokens = parseNumberOption('max-tokens', parsed['max-tokens'], 2048, isCount, 'a positive integer');
    const limit = parseNumberOption('limit', parsed.limit, Number.POSITIVE_INFINITY, isCount, 'a positive integer');
    const fraction = (n: number) => n > 0 && n < 0.5;
    const tokensPerStep = parsed['tokens-per-step'] === undefined ? undefined : parseNumberOption('tokens-per-step', parsed['tokens-per-step'], 1, (n) => n >= 1, 'a number of at least 1');

    const seed = parseNumberOption('seed', parsed.seed, 0, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'an integer from 0 to 4294967295');
    const answerTokens = parseNumberOption('answer-tokens', parsed['answer-tokens'], 32, (n) => isCount(n) && n <= 4096, 'an integer from 1 to 4096');
    const validationFraction = parseNumberOption('validation-fraction', parsed['validation-fraction'], 0.15, fraction, 'a number in (0, 0.5)');
    const heldoutFraction = parseNumberOption('heldout-fraction', parsed['heldout-fraction'], 0.15, fraction, 'a number in (0, 0.5)');
    const maxAccuracyLossPoints = parseNumberOption('max-accuracy-loss', parsed['max-accuracy-loss'], 1, (n) => n >= 0 && n <= 100, 'a number of points from 0 to 100');
    const alpha = parseNumberOption('alpha', parsed.alpha, SIGNAL_SIDECAR_DEFAULTS.ewmaAlpha, (n) => n > 0 && n <= 1, 'a number in (0, 1]');
    const threads = parsed.threads === undefined ? undefined : parseNumberOption('threads', parsed.threads, 1, isCount, 'a positive integer');
    const contextSize = parseNumberOption('context-size', parsed['context-size'], maxTokens + 1024, isCount, 'a positive integer');

    const prompts = (await readPromptFile(parsed.prompts!)).slice(0, limit);
    const controller = new AbortController();
    const onInterrupt = () => {
      process.stderr.write('\nstopping after the current prompt; rerun the same command to continue\n');
      controller.abort();
    };
    process.once('SIGINT', onInterrupt);
    let report: CalibrationReport | undefined;
    try {
      report = await runCalibration({
        targetPath: parsed.model!,
        draftPath: parsed.draft!,
        promptsPath: parsed.prompts!,
        prompts,
        outPath: parsed.out!,
        workDir: parsed['work-dir'] ?? `${parsed.out}.work`,
        seed,
        maxTokens,
        answerTokens,
        answerPrefix: parsed['answer-prefix'] ?? '',
        features,
        l2Grid,
        validationFraction,
        heldoutFraction,
        maxAccuracyLossPoints,
        alpha,
        ...(tokensPerStep !== undefined && { tokensPerStep }),
        includeUnfinished: parsed['include-unfinished'] ?? false,
        ...(threads !== undefined && { threads }),
        contextSize,
        ...(parsed['no-gpu'] && { gpu: false }),
        signal: controller.signal,
      });
    } finally {
      process.removeListener('SIGINT', onInterrupt);
    }
    if (!report) {
      process.stderr.write('calibration stopped before all prompts were traced; rerun the same command to continue\n');
      return 130;
    }
    process.stdout.write(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, parsed.out!));
    return 0;
  } catch (error) {
    process.stderr.write(`specexit calibrate: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function formatFigure(value: number, digits: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

export function formatReport(report: CalibrationReport, outPath: string): string {
  const { thresholds: t } = report;
  const lines = [
    `traces: ${report.traces.used} used of ${report.traces.total} (${report.traces.unfinished} unfinished, ${report.traces.withoutReference} without a reference)`,
    `split (seed ${report.seed}): ${report.split.train} train, ${report.split.validation} validation, ${report.split.heldout} held-out prompts; ` +
      `${report.samples.train} / ${report.samples.validation} / ${report.samples.heldout} boundaries`,
    `L2 penalties: confidence ${report.l2.confidence}, progress ${report.l2.progress}, remain ${report.l2.remain} (fitted on ${report.features} features)`,
    '',
    'held-out quality        validation   held-out',
    `  AUC confidence        ${formatFigure(report.validation.aucConfidence, 3).padStart(10)} ${formatFigure(report.heldout.aucConfidence, 3).padStart(10)}`,
    `  MAE progress          ${formatFigure(report.validation.maeProgress, 3).padStart(10)} ${formatFigure(report.heldout.maeProgress, 3).padStart(10)}`,
    `  MAE remain (tokens)   ${formatFigure(report.validation.maeRemain, 1).padStart(10)} ${formatFigure(report.heldout.maeRemain, 1).padStart(10)}`,
    '',
    t.found
      ? `thresholds: confidence > ${t.confidence}, progress > ${t.progress}, remain < ${t.remain} (EWMA alpha ${report.smoothing.alpha}, ${report.smoothing.tokensPerStep.toFixed(2)} tokens per step)`
      : `thresholds: no grid point saved thinking within ${t.maxAccuracyLossPoints} point(s) of accuracy; the sidecar's thresholds never exit`,
    `  validation: ${percent(t.validation.thinkingSaved)} thinking saved, accuracy ${percent(t.validation.accuracy)} vs ${percent(t.validation.baselineAccuracy)} with full thinking`,
    `  held-out:   ${percent(t.heldout.thinkingSaved)} thinking saved, accuracy ${percent(t.heldout.accuracy)} vs ${percent(t.heldout.baselineAccuracy)} with full thinking`,
    '',
    `wrote ${path.resolve(outPath)}`,
  ];
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  runCalibrateCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
