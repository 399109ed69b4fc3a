/** The benchmark table, laid out like the SpecExit paper's (arXiv 2509.24248): one row per mode, absolute figures, then ratios. */
import type { BenchReport, ModeSummary } from './run.ts';

const COLUMNS = [
  ['mode', 10],
  ['acc %', 7],
  ['think tok', 10],
  ['total tok', 10],
  ['latency s', 10],
  ['answer s', 9],
  ['accept', 7],
  ['probe %', 8],
  ['tok/eagle3', 11],
  ['x eagle3', 9],
  ['tok/vanilla', 12],
  ['x vanilla', 10],
] as const;

function figure(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);
}

function cells(row: ModeSummary): string[] {
  if (row.skipped) return [row.mode, ...COLUMNS.slice(1).map(() => '-')];
  return [
    row.mode,
    figure(row.accuracy * 100, 1),
    figure(row.meanThinkingTokens, 1),
    figure(row.meanTotalTokens, 1),
    figure(row.meanLatencyMs / 1000, 3),
    figure(row.meanTimeToAnswerMs / 1000, 3),
    figure(row.meanAcceptanceLength, 2),
    figure(row.probeShare * 100, 1),
    figure(row.vsEagle3?.thinkingTokens, 2),
    figure(row.vsEagle3?.speedup, 2),
    figure(row.vsVanilla?.thinkingTokens, 2),
    figure(row.vsVanilla?.speedup, 2),
  ];
}

export function formatBenchTable(report: BenchReport): string {
  const pad = (values: readonly string[]) => values.map((value, i) => (i === 0 ? value.padEnd(COLUMNS[i]![1]) : value.padStart(COLUMNS[i]![1]))).join(' ');
  const lines = [pad(COLUMNS.map(([name]) => name)), ...report.modes.map((row) => pad(cells(row)))];
  const notes = report.modes.filter((row) => row.skipped).map((row) => `${row.mode} skipped: ${row.skipped}`);
  const budgets = report.modes
    .filter((row) => row.thinkingBudget !== undefined)
    .map((row) => `${row.mode}: ${row.engineMode} with a thinking budget of ${row.thinkingBudget} tokens`);
  const s = report.settings;
  return [
    `${s.prompts} prompts, max ${s.maxTokens} tokens, ${s.draftTokens} draft tokens per step; model ${s.model}`,
    '',
    ...lines,
    '',
    'tok/X: mean thinking tokens over mode X\'s; x X: speedup, mode X\'s mean latency over this one\'s.',
    'answer s: time to the first answer text. accept: tokens per verification step. probe %: probe time in the latency.',
    ...budgets,
    ...notes,
  ].join('\n') + '\n';
}
