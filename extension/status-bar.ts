/**
 * The status-bar item: the daemon's state as an icon, the latency of the last answer, and details in the
 * tooltip. A click opens the chat; in the error state it offers a restart and the log.
 */
import * as vscode from 'vscode';

import type { DaemonState } from '../media/messages.ts';

/** Latency of the last answer. */
export interface LastAnswerLatency {
  /** Milliseconds from the ask to the first answer token. */
  timeToAnswerMs: number;
  decodeTokensPerSecond: number;
  /** Thinking saved by an early exit, 0 to 1; 0 without an exit. */
  thinkingSavedShare: number;
}

export interface StatusBarModel {
  state: DaemonState;
  /** The error message in state `error`, or other detail. */
  detail?: string;
  model?: string;
  backend?: string;
  devices?: string[];
  queueLength?: number;
  lastAnswer?: LastAnswerLatency;
}

export interface StatusBarView {
  text: string;
  /** Markdown. */
  tooltip: string;
  command: string;
  isError: boolean;
}

export const SHOW_ERROR_COMMAND = 'specexit.showDaemonError';

const ICONS: Record<DaemonState, string> = {
  starting: '$(loading~spin)',
  loading: '$(loading~spin)',
  ready: '$(check)',
  thinking: '$(loading~spin)',
  answering: '$(comment-discussion)',
  error: '$(error)',
  stopped: '$(circle-slash)',
};

const LABELS: Record<DaemonState, string> = {
  starting: 'starting',
  loading: 'loading model',
  ready: 'ready',
  thinking: 'thinking',
  answering: 'answering',
  error: 'error',
  stopped: 'stopped',
};

/** Returns the item's text, tooltip and click command for a state. */
export function describeStatusBar(model: StatusBarModel): StatusBarView {
  const latency = model.lastAnswer ? formatLatency(model.lastAnswer) : '';
  const text = model.state === 'ready' && latency ? `${ICONS.ready} SpecExit ${latency}` : `${ICONS[model.state]} SpecExit: ${LABELS[model.state]}`;

  const lines = [`**SpecExit**: ${LABELS[model.state]}${model.detail ? ` (${escapeMarkdown(model.detail)})` : ''}`];
  if (model.model) lines.push(`Model: ${escapeMarkdown(model.model)}`);
  if (model.backend) lines.push(`Backend: ${model.backend}${model.devices?.length ? ` (${escapeMarkdown(model.devices.join(', '))})` : ''}`);
  if (model.queueLength !== undefined) lines.push(`Queue: ${model.queueLength} ${model.queueLength === 1 ? 'ask' : 'asks'}`);
  if (model.lastAnswer) {
    const { timeToAnswerMs, decodeTokensPerSecond, thinkingSavedShare } = model.lastAnswer;
    lines.push(
      `Last answer: after ${(timeToAnswerMs / 1000).toFixed(1)} s, ${decodeTokensPerSecond.toFixed(1)} tokens/s, ` +
        `${Math.round(thinkingSavedShare * 100)}% of thinking saved`,
    );
  }
  const isError = model.state === 'error';
  lines.push(isError ? 'Click to restart the daemon or show the log.' : 'Click to open the chat.');
  return { text, tooltip: lines.join('\n\n'), command: isError ? SHOW_ERROR_COMMAND : 'specexit.openChat', isError };
}

/** Formats the last answer for the status bar: time to answer, tokens/s, and the share of thinking saved. */
export function formatLatency(latency: LastAnswerLatency): string {
  const parts = [`${(latency.timeToAnswerMs / 1000).toFixed(1)} s`, `${latency.decodeTokensPerSecond.toFixed(0)} tok/s`];
  if (latency.thinkingSavedShare > 0) parts.push(`−${Math.round(latency.thinkingSavedShare * 100)}% thinking`);
  return parts.join(' · ');
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (character) => `\\${character}`);
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private model: StatusBarModel = { state: 'starting' };

  constructor() {
    this.item = vscode.window.createStatusBarItem('specexit.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'SpecExit';
    this.render();
    this.item.show();
  }

  get current(): StatusBarModel {
    return this.model;
  }

  update(change: Partial<StatusBarModel>): void {
    this.model = { ...this.model, ...change };
    this.render();
  }

  dispose(): void {
    this.item.dispose();
  }

  private render(): void {
    const view = describeStatusBar(this.model);
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(view.tooltip);
    tooltip.isTrusted = false;
    this.item.tooltip = tooltip;
    this.item.command = view.command;
    this.item.backgroundColor = view.isError ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.accessibilityInformation = { label: `SpecExit ${view.text.replace(/\$\([^)]*\)\s*/g, '')}` };
  }
}
