/** Checks request params from clients. Each failure is a -32602 ResponseError naming the field, the value and the expected type. */
import { ResponseError } from 'vscode-jsonrpc';

import { DaemonLimits, MODES, type AskParams, type CodeContext, type LoadModelParams } from '../protocol.ts';

const INVALID_PARAMS = -32602;

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  if (text.length > 80) return `${text.slice(0, 77)}...`;
  return text;
}

function invalid(field: string, expected: string, value: unknown): ResponseError<void> {
  return new ResponseError(INVALID_PARAMS, `Expected \`${field}\` to be ${expected}, got ${describe(value)}`);
}

function checkObject(value: unknown, field: string, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'an object', value);
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new ResponseError(INVALID_PARAMS, `Unknown field \`${field}.${key}\`; expected one of ${known.join(', ')}`);
    }
  }
  return object;
}

function checkString(value: unknown, field: string, options: { optional?: boolean; maxLength?: number; nonEmpty?: boolean } = {}): void {
  if (value === undefined && options.optional) return;
  if (typeof value !== 'string') throw invalid(field, 'a string', value);
  if (options.nonEmpty && value.trim() === '') throw invalid(field, 'a non-empty string', value);
  if (options.maxLength !== undefined && value.length > options.maxLength) {
    throw new ResponseError(INVALID_PARAMS, `\`${field}\` has ${value.length} characters, over the limit of ${options.maxLength}`);
  }
}

function checkInteger(value: unknown, field: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `an integer from ${min} to ${max}`, value);
  }
}

function checkNumber(value: unknown, field: string, min: number, max: number, minExclusive = false): void {
  if (value === undefined) return;
  const belowMin = typeof value === 'number' && (minExclusive ? value <= min : value < min);
  if (typeof value !== 'number' || !Number.isFinite(value) || belowMin || value > max) {
    throw invalid(field, `a number from ${min}${minExclusive ? ' (exclusive)' : ''} to ${max}`, value);
  }
}

function checkContext(value: unknown): void {
  if (value === undefined) return;
  const context = checkObject(value, 'context', ['path', 'languageId', 'selection', 'before', 'after']) as CodeContext & Record<string, unknown>;
  const limit = DaemonLimits.maxMessageBytes;
  checkString(context.path, 'context.path', { optional: true, maxLength: 4096 });
  checkString(context.languageId, 'context.languageId', { optional: true, maxLength: 100 });
  checkString(context.before, 'context.before', { optional: true, maxLength: limit });
  checkString(context.after, 'context.after', { optional: true, maxLength: limit });
  if (context.selection !== undefined) {
    const selection = checkObject(context.selection, 'context.selection', ['text', 'startLine', 'endLine']);
    checkString(selection.text, 'context.selection.text', { maxLength: limit });
    if (selection.startLine === undefined) throw invalid('context.selection.startLine', 'an integer of at least 1', undefined);
    if (selection.endLine === undefined) throw invalid('context.selection.endLine', 'an integer of at least 1', undefined);
    checkInteger(selection.startLine, 'context.selection.startLine', 1, Number.MAX_SAFE_INTEGER);
    checkInteger(selection.endLine, 'context.selection.endLine', selection.startLine as number, Number.MAX_SAFE_INTEGER);
  }
}

/** Checks `specexit/ask` params; throws -32602 on the first invalid field. */
export function checkAskParams(value: unknown): AskParams {
  const params = checkObject(value, 'params', ['askId', 'question', 'context', 'options']);
  checkString(params.askId, 'askId', { nonEmpty: true, maxLength: 200 });
  checkString(params.question, 'question', { nonEmpty: true, maxLength: DaemonLimits.maxQuestionChars });
  checkContext(params.context);
  if (params.options !== undefined) {
    const options = checkObject(params.options, 'options', ['mode', 'thinking', 'thinkingBudget', 'temperature', 'topP', 'seed', 'maxTokens', 'model', 'exit']);
    if (options.mode !== undefined && !MODES.includes(options.mode as never)) invalidMode(options.mode);
    if (options.thinking !== undefined && typeof options.thinking !== 'boolean') throw invalid('options.thinking', 'a boolean', options.thinking);
    checkInteger(options.thinkingBudget, 'options.thinkingBudget', 0, 1_000_000);
    checkNumber(options.temperature, 'options.temperature', 0, 2);
    checkNumber(options.topP, 'options.topP', 0, 1, true);
    checkInteger(options.seed, 'options.seed', 0, 0xffffffff);
    checkInteger(options.maxTokens, 'options.maxTokens', 1, 1_000_000);
    checkString(options.model, 'options.model', { optional: true, nonEmpty: true, maxLength: 200 });
    if (options.exit !== undefined) {
      const exit = checkObject(options.exit, 'options.exit', ['enabled', 'confidenceThreshold', 'progressThreshold', 'remainThreshold']);
      if (exit.enabled !== undefined && typeof exit.enabled !== 'boolean') throw invalid('options.exit.enabled', 'a boolean', exit.enabled);
      checkNumber(exit.confidenceThreshold, 'options.exit.confidenceThreshold', 0, 1);
      checkNumber(exit.progressThreshold, 'options.exit.progressThreshold', 0, 1);
      checkNumber(exit.remainThreshold, 'options.exit.remainThreshold', 0, 1_000_000);
    }
  }
  return params as unknown as AskParams;
}

function invalidMode(mode: unknown): never {
  throw invalid('options.mode', `one of ${MODES.join(', ')}`, mode);
}

/** Checks `specexit/loadModel` params; the spec itself is checked by `parseModelSpec`. */
export function checkLoadModelParams(value: unknown): LoadModelParams {
  if (value === undefined || value === null) return {};
  const params = checkObject(value, 'params', ['model', 'spec', 'makeDefault', 'source']);
  checkString(params.model, 'model', { optional: true, nonEmpty: true, maxLength: 200 });
  if (params.makeDefault !== undefined && typeof params.makeDefault !== 'boolean') throw invalid('makeDefault', 'a boolean', params.makeDefault);
  if (params.source !== undefined && params.source !== 'cli' && params.source !== 'client') throw invalid('source', '"cli" or "client"', params.source);
  return params as LoadModelParams;
}
