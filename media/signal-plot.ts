/**
 * A small inline SVG plot of the smoothed SpecExit signals over the thinking steps. Confidence and progress are
 * drawn on a 0 to 1 scale; remain (tokens) is scaled to its largest value, which the legend states.
 */
import type { ExitInfo, SignalPoint } from './turn.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 240;
const HEIGHT = 64;
const PADDING = 2;

export const SIGNAL_SERIES = ['confidence', 'progress', 'remain'] as const;
export type SignalSeries = (typeof SIGNAL_SERIES)[number];

/** Returns a figure with the plot and its legend, or undefined when there are no signals to plot. */
export function createSignalPlot(points: readonly SignalPoint[], exit?: ExitInfo): HTMLElement | undefined {
  if (points.length === 0) return undefined;
  const maxRemain = Math.max(1, ...points.map((point) => point.remain));
  const lastStep = points[points.length - 1]!.step;
  const firstStep = points[0]!.step;
  const stepSpan = Math.max(1, Math.max(lastStep, exit?.step ?? lastStep) - firstStep);

  const x = (step: number) => PADDING + ((step - firstStep) / stepSpan) * (WIDTH - 2 * PADDING);
  const y = (value: number) => PADDING + (1 - clamp01(value)) * (HEIGHT - 2 * PADDING);
  const scaled: Record<SignalSeries, (point: SignalPoint) => number> = {
    confidence: (point) => point.confidence,
    progress: (point) => point.progress,
    remain: (point) => point.remain / maxRemain,
  };

  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('class', 'signal-plot');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', describePlot(points, maxRemain, exit));
  svg.dataset.testid = 'signal-plot';

  for (const series of SIGNAL_SERIES) {
    const line = document.createElementNS(SVG_NS, 'polyline');
    line.setAttribute('class', `signal-line signal-${series}`);
    line.setAttribute('fill', 'none');
    line.setAttribute('points', points.map((point) => `${round(x(point.step))},${round(y(scaled[series](point)))}`).join(' '));
    line.dataset.series = series;
    svg.append(line);
  }

  if (exit) {
    const marker = document.createElementNS(SVG_NS, 'line');
    marker.setAttribute('class', 'signal-exit');
    marker.setAttribute('x1', String(round(x(exit.step))));
    marker.setAttribute('x2', String(round(x(exit.step))));
    marker.setAttribute('y1', '0');
    marker.setAttribute('y2', String(HEIGHT));
    svg.append(marker);
  }

  const figure = document.createElement('figure');
  figure.className = 'signal-figure';
  figure.append(svg, createLegend(maxRemain, points.length));
  return figure;
}

function createLegend(maxRemain: number, steps: number): HTMLElement {
  const legend = document.createElement('figcaption');
  legend.className = 'signal-legend';
  const labels: Record<SignalSeries, string> = {
    confidence: 'confidence',
    progress: 'progress',
    remain: `remain (max ${Math.round(maxRemain)} tokens)`,
  };
  for (const series of SIGNAL_SERIES) {
    const item = document.createElement('span');
    item.className = `signal-key signal-${series}`;
    item.textContent = labels[series];
    legend.append(item);
  }
  const count = document.createElement('span');
  count.className = 'signal-steps';
  count.textContent = `${steps} steps`;
  legend.append(count);
  return legend;
}

function describePlot(points: readonly SignalPoint[], maxRemain: number, exit?: ExitInfo): string {
  const last = points[points.length - 1]!;
  const parts = [
    `SpecExit signals over ${points.length} steps`,
    `last confidence ${last.confidence.toFixed(2)}`,
    `progress ${last.progress.toFixed(2)}`,
    `remain ${Math.round(last.remain)} tokens (largest ${Math.round(maxRemain)})`,
  ];
  if (exit) parts.push(`thinking stopped at step ${exit.step}`);
  return parts.join(', ');
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
