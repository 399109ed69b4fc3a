/** Output of `specexit status` and `specexit models`. */
import type { ModelsResult, StatusResult } from '../protocol.ts';

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`;
}

export function printStatus(status: StatusResult, json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    return 0;
  }
  const lines = [
    `state:      ${status.state}`,
    `pid:        ${status.pid}, up ${(status.uptimeMs / 1000).toFixed(0)} s, socket ${status.socketPath ?? '(stdio only)'}`,
    `model:      ${status.model ? `${status.model.name} (${status.model.architecture}, ${status.model.layers} layers, loaded in ${status.model.loadMs} ms)` : 'none loaded'}`,
    `backend:    ${status.backend}${status.devices.length > 0 ? ` (${status.devices.join(', ')})` : ''}`,
    `queue:      ${status.queueLength}, clients ${status.clients}`,
    `memory:     ${megabytes(status.memory.rssBytes)} resident, ${megabytes(status.memory.heapUsedBytes)} JS heap`,
  ];
  const latency = status.lastLatency;
  if (latency) {
    lines.push(
      `last ask:   answer after ${(latency.timeToAnswerMs / 1000).toFixed(2)} s, ${latency.decodeTokensPerSecond.toFixed(1)} tokens/s, ` +
        `${latency.thinkingTokens} thinking tokens, ${(latency.thinkingSavedShare * 100).toFixed(0)} % of thinking saved (predicted)`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

export function printModels(result: ModelsResult, json: boolean): number {
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  for (const model of result.models) {
    const flags = [model.isDefault ? 'default' : '', model.loaded ? 'loaded' : '', model.source].filter(Boolean).join(', ');
    process.stdout.write(`${model.name} (${flags})\n`);
    process.stdout.write(`  target   ${model.target}\n`);
    if (model.draft) process.stdout.write(`  draft    ${model.draft}\n`);
    if (model.signals) process.stdout.write(`  signals  ${model.signals}\n`);
    process.stdout.write(`  modes    ${model.modes.length > 0 ? model.modes.join(', ') : 'none: the target file is missing'}\n`);
    if (model.missing.length > 0) process.stdout.write(`  missing  ${model.missing.join(', ')}\n`);
  }
  return 0;
}
