/**
 * Daemon settings, merged from defaults, the config file, environment variables and command-line flags (later
 * sources win). The config file is JSON:
 *
 *     { "models": [{ "name": "qwen3-4b", "target": "…gguf", "draft": "…gguf", "signals": "…safetensors" }],
 *       "defaultModel": "qwen3-4b", "idleTimeoutSeconds": 600, "threads": 4, "gpu": true, "contextSize": 4096,
 *       "logLevel": "info", "logFile": "/path/daemon.log" }
 *
 * Relative model paths in the file resolve against the file's folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { LOG_LEVELS, type LogLevel } from './log.ts';
import { DaemonLimits, type ModelSpec } from './protocol.ts';

export interface DaemonConfig {
  /** Models besides the embedded one. */
  models: ModelSpec[];
  /** The model of `specexit serve --target/--draft/--signals`, registered with source `cli`. */
  commandLineModel?: ModelSpec;
  /** Model for asks that name none. Default: the embedded model. */
  defaultModel?: string;
  /** Exit after this long with no client and no work; 0 never exits. Default `DaemonLimits.idleTimeoutMs`. */
  idleTimeoutMs: number;
  /** Decoding threads. Default: the engine's (half the cores). */
  threads?: number;
  /** Load GPU backends. Default true. */
  gpu: boolean;
  /** KV cache size in tokens for models whose spec sets none. Default: the engine's (4096). */
  contextSize?: number;
  logLevel?: LogLevel;
  logFile?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Returns `~/x` with the home folder expanded, and other paths resolved against `base`. */
export function resolveUserPath(value: string, base: string): string {
  if (value === '~' || value.startsWith('~/')) return path.join(os.homedir(), value.slice(1));
  return path.resolve(base, value);
}

function expectType(value: unknown, type: 'string' | 'number' | 'boolean', where: string): void {
  if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) {
    throw new ConfigError(`Expected \`${where}\` to be a ${type}, got ${JSON.stringify(value)}`);
  }
}

/** Checks one model spec from an untrusted source and returns it with its paths resolved against `base`. */
export function parseModelSpec(value: unknown, where: string, base: string): ModelSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`Expected \`${where}\` to be an object with name and target, got ${JSON.stringify(value)}`);
  }
  const spec = value as Record<string, unknown>;
  const known = ['name', 'target', 'draft', 'signals', 'contextSize'];
  for (const key of Object.keys(spec)) {
    if (!known.includes(key)) throw new ConfigError(`Unknown field \`${where}.${key}\`; expected one of ${known.join(', ')}`);
  }
  expectType(spec.name, 'string', `${where}.name`);
  expectType(spec.target, 'string', `${where}.target`);
  if ((spec.name as string).trim() === '') throw new ConfigError(`\`${where}.name\` must not be empty`);
  const result: ModelSpec = { name: spec.name as string, target: resolveUserPath(spec.target as string, base) };
  for (const key of ['draft', 'signals'] as const) {
    if (spec[key] === undefined || spec[key] === null) continue;
    expectType(spec[key], 'string', `${where}.${key}`);
    result[key] = resolveUserPath(spec[key] as string, base);
  }
  if (spec.contextSize !== undefined) {
    expectType(spec.contextSize, 'number', `${where}.contextSize`);
    const contextSize = spec.contextSize as number;
    if (!Number.isInteger(contextSize) || contextSize < 256) {
      throw new ConfigError(`Expected \`${where}.contextSize\` to be an integer of at least 256 tokens, got ${contextSize}`);
    }
    result.contextSize = contextSize;
  }
  return result;
}

/** Reads a config file. A missing file gives the defaults; an unreadable or invalid one throws a ConfigError naming it. */
export function readConfigFile(file: string): Partial<DaemonConfig> {
  if (!existsSync(file)) return {};
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`invalid config file ${file}: ${(error as Error).message}`);
  }
  try {
    return parseConfigObject(data, path.dirname(file));
  } catch (error) {
    throw new ConfigError(`invalid config file ${file}: ${(error as Error).message}`);
  }
}

function parseConfigObject(data: unknown, base: string): Partial<DaemonConfig> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`expected a JSON object, got ${JSON.stringify(data)}`);
  }
  const raw = data as Record<string, unknown>;
  const known = ['models', 'defaultModel', 'idleTimeoutSeconds', 'threads', 'gpu', 'contextSize', 'logLevel', 'logFile'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new ConfigError(`unknown field \`${key}\`; expected one of ${known.join(', ')}`);
  }

  const config: Partial<DaemonConfig> = {};
  if (raw.models !== undefined) {
    if (!Array.isArray(raw.models)) throw new ConfigError(`Expected \`models\` to be an array, got ${JSON.stringify(raw.models)}`);
    config.models = raw.models.map((spec, index) => parseModelSpec(spec, `models[${index}]`, base));
  }
  if (raw.defaultModel !== undefined) {
    expectType(raw.defaultModel, 'string', 'defaultModel');
    config.defaultModel = raw.defaultModel as string;
  }

  if (raw.idleTimeoutSeconds !== undefined) config.idleTimeoutMs = parseIdleTimeout(raw.idleTimeoutSeconds, 'idleTimeoutSeconds');
  if (raw.threads !== undefined) config.threads = parsePositiveInteger(raw.threads, 'threads');
  if (raw.contextSize !== undefined) config.contextSize = parsePositiveInteger(raw.contextSize, 'contextSize');
  if (raw.gpu !== undefined) {
    expectType(raw.gpu, 'boolean', 'gpu');
    config.gpu = raw.gpu as boolean;
  }

  if (raw.logLevel !== undefined) config.logLevel = parseLogLevel(raw.logLevel, 'logLevel');
  if (raw.logFile !== undefined) {
    expectType(raw.logFile, 'string', 'logFile');
    config.logFile = resolveUserPath(raw.logFile as string, base);
  }
  return config;
}

/** Parses a number of seconds (0 disables the timeout) into milliseconds. */
export function parseIdleTimeout(value: unknown, where: string): number {
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`Expected \`${where}\` to be a number of seconds of at least 0, got ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}

export function parsePositiveInteger(value: unknown, where: string): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) {
    throw new ConfigError(`Expected \`${where}\` to be a positive integer, got ${JSON.stringify(value)}`);
  }
  return number;
}

export function parseLogLevel(value: unknown, where: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === value);
  if (!level) throw new ConfigError(`Expected \`${where}\` to be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return level;
}

/** Settings from the environment: `SPECEXIT_IDLE_TIMEOUT` (seconds), `SPECEXIT_THREADS`, `SPECEXIT_GPU=0`. */
function readEnvironment(): Partial<DaemonConfig> {
  const config: Partial<DaemonConfig> = {};
  const env = process.env;
  if (env.SPECEXIT_IDLE_TIMEOUT) config.idleTimeoutMs = parseIdleTimeout(env.SPECEXIT_IDLE_TIMEOUT, 'SPECEXIT_IDLE_TIMEOUT');
  if (env.SPECEXIT_THREADS) config.threads = parsePositiveInteger(env.SPECEXIT_THREADS, 'SPECEXIT_THREADS');
  if (env.SPECEXIT_GPU === '0' || env.SPECEXIT_GPU === 'false') config.gpu = false;
  return config;
}

/** Merges the config file, the environment and `overrides` (from command-line flags) over the defaults. */
export function loadConfig(configFile: string, overrides: Partial<DaemonConfig> = {}): DaemonConfig {
  const fromFile = readConfigFile(configFile);
  const fromEnv = readEnvironment();
  const defined = <T extends object>(value: T) => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  const merged: DaemonConfig = {
    idleTimeoutMs: DaemonLimits.idleTimeoutMs,
    gpu: true,
    ...defined(fromFile),
    ...defined(fromEnv),
    ...defined(overrides),
    models: [...(fromFile.models ?? []), ...(overrides.models ?? [])],
  };
  return merged;
}
