import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runBenchCli } from '../../daemon/bench/index.ts';
import { BENCH_MODES, type BenchReport } from '../../daemon/bench/run.ts';
import { readSignalSidecar, writeSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { getFixtures } from '../engine/helpers.ts';

/** Runs the command with stdout and stderr captured. */
async function runQuiet(argv: string[]): Promise<{ code: number; output: string }> {
  const write = process.stdout.write;
  const writeError = process.stderr.write;
  let output = '';
  process.stdout.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stderr.write;
  try {
    return { code: await runBenchCli(argv), output };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeError;
  }
}

describe('specexit bench --quick', () => {
  let dir: string;
  let report: BenchReport;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-bench-'));
    // Thresholds every signal passes, so that SpecExit exits on the random-weight fixture.
    const fixtures = await getFixtures();
    const signals = path.join(dir, 'eager.safetensors');
    const sidecar = await readSignalSidecar(fixtures.signals);
    await writeSignalSidecar(signals, { ...sidecar, confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e12 });
    const out = path.join(dir, 'report.json');
    const { code, output } = await runQuiet(['--quick', '--threads', '1', '--no-gpu', '--signals', signals, '--probe-threshold', '0', '--json', '--out', out]);
    assert.equal(code, 0, output);
    report = JSON.parse(await readFile(out, 'utf8')) as BenchReport;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('every mode has a row', () => {
    assert.deepEqual(report.modes.map((row) => row.mode), [...BENCH_MODES]);
    for (const row of report.modes) {
      assert.equal(row.skipped, undefined, row.mode);
      assert.equal(row.prompts, 3, row.mode);
      for (const key of ['accuracy', 'meanThinkingTokens', 'meanTotalTokens', 'meanLatencyMs', 'meanTimeToAnswerMs', 'meanAcceptanceLength', 'probeShare'] as const) {
        assert.equal(typeof row[key], 'number', `${row.mode}.${key}`);
        assert.ok(Number.isFinite(row[key]), `${row.mode}.${key}`);
      }
      assert.ok(row.vsEagle3, `${row.mode} vs eagle3`);
      assert.ok(row.vsVanilla, `${row.mode} vs vanilla`);
    }
  });

  test('ratios come from the same run', () => {
    const eagle3 = report.modes.find((row) => row.mode === 'eagle3')!;
    const vanilla = report.modes.find((row) => row.mode === 'vanilla')!;
    assert.equal(eagle3.vsEagle3!.speedup, 1);
    assert.ok(Math.abs(eagle3.vsVanilla!.speedup - vanilla.meanLatencyMs / eagle3.meanLatencyMs) < 1e-9);
    assert.ok(eagle3.meanAcceptanceLength > 1, 'the fixture draft is accepted');
    assert.equal(vanilla.meanAcceptanceLength, 1);
  });

  test('every mode produced results', () => {
    assert.equal(report.results.length, BENCH_MODES.length * 3);
    for (const result of report.results) assert.equal(typeof result.answer, 'string');
    // The fixture never closes its thinking by itself, so only the modes that cut it reach an answer.
    for (const mode of ['specexit', 'probe', 'budget-A', 'budget-B'] as const) {
      for (const result of report.results.filter((row) => row.mode === mode)) {
        assert.ok(result.answer.length > 0, `${mode} prompt ${result.prompt} has no answer`);
        assert.ok(result.exitPosition !== undefined, `${mode} prompt ${result.prompt} did not exit`);
      }
    }
    for (const result of report.results.filter((row) => row.mode === 'vanilla')) assert.equal(result.finishReason, 'max_tokens');
  });

  test('probe share only in probe mode', () => {
    for (const row of report.modes) {
      if (row.mode === 'probe') assert.ok(row.probeShare > 0);
      else assert.equal(row.probeShare, 0, row.mode);
    }
  });

  test('budgets follow vanilla thinking', () => {
    const vanilla = report.modes.find((row) => row.mode === 'vanilla')!;
    assert.equal(report.modes.find((row) => row.mode === 'budget-A')!.thinkingBudget, Math.round(vanilla.meanThinkingTokens * 0.5));
    assert.equal(report.modes.find((row) => row.mode === 'budget-B')!.thinkingBudget, Math.round(vanilla.meanThinkingTokens * 0.25));
  });
});

describe('bench command line', () => {
  test('table output and usage errors', async () => {
    const help = await runQuiet(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.output, /Usage: specexit bench/);
    const bad = await runQuiet(['--budgets', '0.5']);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /Expected --budgets to be two fractions/);
    const table = await runQuiet(['--quick', '--threads', '1', '--no-gpu', '--limit', '1', '--max-tokens', '24']);
    assert.equal(table.code, 0, table.output);
    assert.match(table.output, /mode +acc % +think tok/);
    assert.match(table.output, /^specexit /m);
  });

  test('--exit flags override sidecar thresholds', async () => {
    const bad = await runQuiet(['--exit-confidence', '1.5']);
    assert.equal(bad.code, 2);
    assert.match(bad.output, /Expected --exit-confidence to be a number from 0 to 1, got "1.5"/);
    // Every signal passes these thresholds, so even the fixture's own sidecar exits at a step boundary.
    const passing = ['--exit-confidence', '0', '--exit-progress', '0', '--exit-remain', '1e12', '--exit-alpha', '1'];
    const dir = await mkdtemp(path.join(tmpdir(), 'specexit-bench-exit-'));
    let report: BenchReport;
    try {
      const out = path.join(dir, 'report.json');
      const run = await runQuiet(['--quick', '--threads', '1', '--no-gpu', '--limit', '2', '--max-tokens', '48', '--out', out, ...passing]);
      assert.equal(run.code, 0, run.output);
      report = JSON.parse(await readFile(out, 'utf8')) as BenchReport;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(report.settings.exit, { confidenceThreshold: 0, progressThreshold: 0, remainThreshold: 1e12, alpha: 1 });
    const specexit = report.results.filter((row) => row.mode === 'specexit');
    assert.equal(specexit.length, 2);
    for (const row of specexit) assert.ok(row.exitPosition !== undefined, `specexit prompt ${row.prompt} did not exit`);
  });
});
