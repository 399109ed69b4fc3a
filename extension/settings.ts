/**
 * The `specexit.*` settings, read into one typed object, and what the daemon gets from them: its command-line
 * arguments, its initialization options and each ask's options. No `vscode` import, so tests call it directly.
 */
import type { AskOptions, ExitRuleSettings, InitializationOptions, Mode, ModelSpec } from '../daemon/protocol.ts';
import { MODES } from '../daemon/protocol.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface ExtensionSettings {
  /** GGUF of the target model; empty uses the daemon's default (the embedded model). */
  targetPath: string;
  draftPath: string;
  signalsPath: string;
  mode: Mode;
  /** Thinking tokens before the wrap-up is forced; 0 means no budget. */
  thinkingBudget: number;
  keepThinkingExpanded: boolean;
  /** Advanced overrides of the exit rule; undefined keeps the signal sidecar's values. */
  exitConfidence?: number;
  exitProgress?: number;
  exitRemain?: number;
  logLevel: LogLevel;
  /** Minutes the shared daemon stays up with no client and no work; 0 keeps it running. */
  idleShutdownMinutes: number;
}

/** Largest `exit.remain` the daemon accepts as `remainThreshold`; a larger value counts as unset. */
const MAX_REMAIN_THRESHOLD = 1_000_000;

/** Name under which the model of the `specexit.model.*` settings is registered with the daemon. */
export const SETTINGS_MODEL_NAME = 'vscode-settings';

/** Reads a setting below `specexit`, such as `get('thinking.budget')`. */
export type SettingGetter = (key: string) => unknown;

/** Reads the settings, replacing each invalid value by its default. */
export function readSettings(get: SettingGetter): ExtensionSettings {
  return {
    targetPath: readString(get('model.targetPath')),
    draftPath: readString(get('model.draftPath')),
    signalsPath: readString(get('model.signalsPath')),
    mode: MODES.includes(get('mode') as Mode) ? (get('mode') as Mode) : 'specexit',
    thinkingBudget: readNumber(get('thinking.budget'), 0) ?? 0,
    keepThinkingExpanded: get('thinking.keepExpanded') === true,
    exitConfidence: readNumber(get('exit.confidence'), 0, 1),
    exitProgress: readNumber(get('exit.progress'), 0, 1),
    exitRemain: readNumber(get('exit.remain'), 0, MAX_REMAIN_THRESHOLD),
    logLevel: LOG_LEVELS.includes(get('logLevel') as LogLevel) ? (get('logLevel') as LogLevel) : 'info',
    idleShutdownMinutes: readNumber(get('daemon.idleShutdownMinutes'), 0) ?? 10,
  };
}

function readString(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** Returns the value when it is a finite number within the bounds, else undefined. */
function readNumber(value: unknown, min: number, max = Infinity): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : undefined;
}

/** Returns the model the settings name, or undefined when no target path is set. */
export function settingsModel(settings: ExtensionSettings): ModelSpec | undefined {
  if (!settings.targetPath) return undefined;
  return {
    name: SETTINGS_MODEL_NAME,
    target: settings.targetPath,
    ...(settings.draftPath ? { draft: settings.draftPath } : {}),
    ...(settings.signalsPath ? { signals: settings.signalsPath } : {}),
  };
}

export function initializationOptions(settings: ExtensionSettings): InitializationOptions {
  const model = settingsModel(settings);
  return model ? { models: [model] } : {};
}

/**
 * Returns the options of an ask. `model` is the model the user selected; without one, the settings' model when
 * set, else the daemon's default.
 */
export function askOptions(settings: ExtensionSettings, model?: string): AskOptions {
  const options: AskOptions = { mode: settings.mode };
  if (settings.thinkingBudget > 0) options.thinkingBudget = Math.round(settings.thinkingBudget);
  const name = model ?? (settings.targetPath ? SETTINGS_MODEL_NAME : undefined);
  if (name) options.model = name;
  const exit = exitRuleSettings(settings);
  if (exit) options.exit = exit;
  return options;
}

/** Returns the exit thresholds the user set, or undefined when none is set, so the sidecar's calibrated ones apply. */
function exitRuleSettings(settings: ExtensionSettings): ExitRuleSettings | undefined {
  const exit: ExitRuleSettings = {};
  if (settings.exitConfidence !== undefined) exit.confidenceThreshold = settings.exitConfidence;
  if (settings.exitProgress !== undefined) exit.progressThreshold = settings.exitProgress;
  if (settings.exitRemain !== undefined) exit.remainThreshold = settings.exitRemain;
  return Object.keys(exit).length > 0 ? exit : undefined;
}

/** Returns the `specexit serve` arguments for a daemon this extension starts. */
export function serveArguments(settings: ExtensionSettings, socketPath: string, logFile: string): string[] {
  return [
    'serve',
    '--socket', socketPath,
    '--log-file', logFile,
    '--log-level', settings.logLevel,
    '--idle-timeout', String(Math.round(settings.idleShutdownMinutes * 60)),
  ];
}
