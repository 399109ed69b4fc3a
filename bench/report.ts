/** Medians, ratios and the printed table of bench/engine.ts. */
import type { Mode } from '../daemon/engine/index.ts';
import type { ModeMeasurement, RunMeasurement } from './protocol.ts';

/** Our vanilla decode speed must reach this share of node-llama-cpp's. */
export const DECODE_GOAL = 0.95;

/** The rows of the table: node-llama-cpp, then our modes. */
export type RowName = 'node-llama-cpp' | Mode;

/** Medians over the rounds of one row. */
export interface RowSummary {
  name: RowName;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  generatedTokens: number;
  /** 1 for node-llama-cpp and vanilla, which decode one token per step. */
  meanAcceptedPerStep: number;
  thinkingTokens: number | undefined;
  probes: number | undefined;
  probeMs: number | undefined;
  /** Rounds in which thinking was cut, and the median position of the cut. */
  exits: { rounds: number; medianPosition: number | undefined } | undefined;
}

export interface Ratios {
  /** Our vanilla over node-llama-cpp, medians over medians. */
  vanillaPrefillOverPeer: number;
  vanillaDecodeOverPeer: number;
  /** Decode speed of each speculative mode over our vanilla, medians over medians. */
  decodeOverVanilla: Partial<Record<Mode, number>>;
  /** The same decode ratios within each round, which show how much the rounds disagree. */
  perRound: {
    vanillaDecodeOverPeer: number[];
    decodeOverVanilla: Partial<Record<Mode, number[]>>;
  };
}

export interface TokenAgreement {
  /** Rounds in which node-llama-cpp's greedy tokens equal our vanilla tokens. */
  peerMatchesVanilla: number;
  /** Rounds in which eagle3's tokens equal vanilla's (speculative decoding must not change greedy output). */
  eagle3MatchesVanilla: number | undefined;
  rounds: number;
  /** First position where node-llama-cpp and vanilla differ, in the first round that differs. */
  firstPeerDifference: number | undefined;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function prefillRate(run: RunMeasurement): number {
  return run.prefillMs > 0 ? (run.prefillTokens * 1000) / run.prefillMs : 0;
}

export function summarizePeer(runs: readonly RunMeasurement[]): RowSummary {
  return {
    name: 'node-llama-cpp',
    prefillTokensPerSecond: median(runs.map(prefillRate)),
    decodeTokensPerSecond: median(runs.map((run) => run.decodeTokensPerSecond)),
    generatedTokens: median(runs.map((run) => run.generatedTokens)),
    meanAcceptedPerStep: 1,
    thinkingTokens: undefined,
    probes: undefined,
    probeMs: undefined,
    exits: undefined,
  };
}

export function summarizeMode(mode: Mode, runs: readonly ModeMeasurement[]): RowSummary {
  const exitPositions = runs.flatMap((run) => (run.exit ? [run.exit.position] : []));
  return {
    name: mode,
    prefillTokensPerSecond: median(runs.map(prefillRate)),
    decodeTokensPerSecond: median(runs.map((run) => run.decodeTokensPerSecond)),
    generatedTokens: median(runs.map((run) => run.generatedTokens)),
    meanAcceptedPerStep: median(runs.map((run) => run.meanAcceptedPerStep)),
    thinkingTokens: mode === 'specexit' || mode === 'probe' ? median(runs.map((run) => run.thinkingTokens)) : undefined,
    probes: mode === 'probe' ? median(runs.map((run) => run.probes)) : undefined,
    probeMs: mode === 'probe' ? median(runs.map((run) => run.probeMs)) : undefined,
    exits:
      mode === 'specexit' || mode === 'probe'
        ? { rounds: exitPositions.length, medianPosition: exitPositions.length > 0 ? median(exitPositions) : undefined }
        : undefined,
  };
}

export function computeRatios(
  peer: RowSummary,
  modes: readonly RowSummary[],
  peerRuns: readonly RunMeasurement[],
  modeRuns: readonly ModeMeasurement[][],
): Ratios {
  const vanilla = modes.find((row) => row.name === 'vanilla');
  if (!vanilla) throw new Error('the vanilla mode is missing from the results');
  const vanillaRate = (round: number) => modeRuns[round]!.find((run) => run.mode === 'vanilla')!.decodeTokensPerSecond;

  const decodeOverVanilla: Partial<Record<Mode, number>> = {};
  const perRoundOverVanilla: Partial<Record<Mode, number[]>> = {};
  for (const row of modes) {
    if (row.name === 'vanilla' || row.name === 'node-llama-cpp') continue;
    const mode = row.name;
    decodeOverVanilla[mode] = row.decodeTokensPerSecond / vanilla.decodeTokensPerSecond;
    perRoundOverVanilla[mode] = modeRuns.map(
      (runs, round) => runs.find((run) => run.mode === mode)!.decodeTokensPerSecond / vanillaRate(round),
    );
  }
  return {
    vanillaPrefillOverPeer: vanilla.prefillTokensPerSecond / peer.prefillTokensPerSecond,
    vanillaDecodeOverPeer: vanilla.decodeTokensPerSecond / peer.decodeTokensPerSecond,
    decodeOverVanilla,
    perRound: {
      vanillaDecodeOverPeer: peerRuns.map((run, round) => vanillaRate(round) / run.decodeTokensPerSecond),
      decodeOverVanilla: perRoundOverVanilla,
    },
  };
}

export function compareTokens(peerRuns: readonly RunMeasurement[], modeRuns: readonly ModeMeasurement[][]): TokenAgreement {
  let peerMatchesVanilla = 0;
  let eagle3Matches = 0;
  let eagle3Rounds = 0;
  let firstPeerDifference: number | undefined;
  peerRuns.forEach((peerRun, round) => {
    const vanilla = modeRuns[round]!.find((run) => run.mode === 'vanilla')!;
    const difference = firstDifference(peerRun.tokens, vanilla.tokens);
    if (difference === undefined) peerMatchesVanilla++;
    else firstPeerDifference ??= difference;

    const eagle3 = modeRuns[round]!.find((run) => run.mode === 'eagle3');
    if (eagle3) {
      eagle3Rounds++;
      if (firstDifference(eagle3.tokens, vanilla.tokens) === undefined) eagle3Matches++;
    }
  });
  return {
    peerMatchesVanilla,
    eagle3MatchesVanilla: eagle3Rounds > 0 ? eagle3Matches : undefined,
    rounds: peerRuns.length,
    firstPeerDifference,
  };
}

/** Returns the first index where the sequences differ (a length difference counts), or undefined when equal. */
function firstDifference(a: readonly number[], b: readonly number[]): number | undefined {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? undefined : length;
}

/** Formats the headline lines: the ratios and the token agreement. */
export function formatHeadline(ratios: Ratios, agreement: TokenAgreement): string[] {
  const goalMet = ratios.vanillaDecodeOverPeer >= DECODE_GOAL;
  const lines = [
    `vanilla / node-llama-cpp: decode ${formatRatio(ratios.vanillaDecodeOverPeer)}` +
      `${formatRange(ratios.perRound.vanillaDecodeOverPeer)}, prefill ${formatRatio(ratios.vanillaPrefillOverPeer)} ` +
      `(goal: decode >= ${DECODE_GOAL.toFixed(2)}x, ${goalMet ? 'met' : 'NOT met'})`,
  ];
  for (const [mode, ratio] of Object.entries(ratios.decodeOverVanilla)) {
    // The probe exits thinking early, so its tokens differ from vanilla's after the exit.
    const note = mode === 'probe' ? ' (different tokens after its exit)' : '';
    lines.push(`${mode} / vanilla: decode ${formatRatio(ratio)}${formatRange(ratios.perRound.decodeOverVanilla[mode as Mode] ?? [])}${note}`);
  }
  const peerLine =
    `greedy tokens, node-llama-cpp vs vanilla: ${agreement.peerMatchesVanilla === agreement.rounds ? 'match' : 'DIFFER'} ` +
    `in ${agreement.peerMatchesVanilla} of ${plural(agreement.rounds, 'round')}` +
    (agreement.firstPeerDifference !== undefined ? ` (first difference at token ${agreement.firstPeerDifference})` : '');
  lines.push(peerLine);
  if (agreement.eagle3MatchesVanilla !== undefined) {
    lines.push(
      `greedy tokens, eagle3 vs vanilla: ${agreement.eagle3MatchesVanilla === agreement.rounds ? 'match' : 'DIFFER'} ` +
        `in ${agreement.eagle3MatchesVanilla} of ${plural(agreement.rounds, 'round')}`,
    );
  }
  return lines;
}

/** Formats the rows as a Markdown table with padded columns. */
export function formatTable(peer: RowSummary, modes: readonly RowSummary[], ratios: Ratios): string {
  const header = ['mode', 'prefill t/s', 'decode t/s', 'tokens', 'accepted/step', 'decode ratio', 'notes'];
  const rows: string[][] = [
    [
      peer.name,
      formatRate(peer.prefillTokensPerSecond),
      formatRate(peer.decodeTokensPerSecond),
      String(peer.generatedTokens),
      '1.00',
      '1.00x',
      'reference for vanilla',
    ],
  ];
  for (const row of modes) {
    const ratio =
      row.name === 'vanilla' ? ratios.vanillaDecodeOverPeer : (ratios.decodeOverVanilla[row.name as Mode] ?? Number.NaN);
    const against = row.name === 'vanilla' ? 'against node-llama-cpp' : 'against vanilla';
    rows.push([
      row.name,
      formatRate(row.prefillTokensPerSecond),
      formatRate(row.decodeTokensPerSecond),
      String(row.generatedTokens),
      row.meanAcceptedPerStep.toFixed(2),
      formatRatio(ratio),
      [against, ...describeRow(row)].join('; '),
    ]);
  }

  const numeric = [false, true, true, true, true, true, false];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const formatLine = (cells: string[]) =>
    '| ' + cells.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((width, column) => (numeric[column] ? '-'.repeat(width + 1) + ':' : '-'.repeat(width + 2))).join('|') + '|';
  return [formatLine(header), rule, ...rows.map(formatLine)].join('\n');
}

function describeRow(row: RowSummary): string[] {
  const notes: string[] = [];
  if (row.thinkingTokens !== undefined) notes.push(`${row.thinkingTokens} of ${row.generatedTokens} tokens thinking`);
  if (row.exits) {
    notes.push(
      row.exits.medianPosition === undefined ? 'no exit' : `exit in ${plural(row.exits.rounds, 'round')}, at token ${row.exits.medianPosition}`,
    );
  }
  if (row.probes !== undefined && row.probeMs !== undefined) {
    notes.push(`${row.probes} ${row.probes === 1 ? 'probe' : 'probes'} taking ${row.probeMs.toFixed(1)} ms`);
  }
  return notes;
}

function formatRate(value: number): string {
  return value.toFixed(1);
}

function formatRatio(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** Formats the spread of per-round ratios with a leading space, for example " (rounds 0.91x to 1.12x)". */
function formatRange(values: readonly number[]): string {
  if (values.length < 2) return '';
  return ` (rounds ${formatRatio(Math.min(...values))} to ${formatRatio(Math.max(...values))})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
