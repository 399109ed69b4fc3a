/** Errors of the `specexit` command: a stable code, a message and an exit status, printed as text or as JSON. */
import { ResponseError } from 'vscode-jsonrpc';

import { ConfigError } from '../config.ts';
import { LspErrorCodes, SpecExitErrorCodes } from '../protocol.ts';
import { DaemonStartError } from '../transport/spawn.ts';

/** A wrong command line: a missing argument, a bad flag value, a file a flag names that cannot be used. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The connection to the daemon closed before a request had its response. */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
}

/** Exit status of a command the user interrupted with Ctrl+C, as shells report SIGINT. */
export const INTERRUPTED_EXIT_STATUS = 130;

/** Names of the JSON-RPC error codes the daemon returns. */
const RPC_CODE_NAMES: Record<number, string> = {
  [-32700]: 'parseError',
  [-32600]: 'invalidRequest',
  [-32601]: 'methodNotFound',
  [-32602]: 'invalidParams',
  [-32603]: 'internalError',
  ...Object.fromEntries(Object.entries(LspErrorCodes).map(([name, code]) => [code, name])),
  ...Object.fromEntries(Object.entries(SpecExitErrorCodes).map(([name, code]) => [code, name])),
};

/** One failed command, as `--json` prints it under `error`. */
export interface CliError {
  /**
   * A stable name: `usage`, `config`, `daemonStart`, `connectionLost`, the name of a JSON-RPC or SpecExit error
   * code the daemon returned (`invalidParams`, `modelFileMissing`, `requestCancelled`), or a Node.js error code
   * such as `EACCES`.
   */
  code: string;
  message: string;
  /** The JSON-RPC error code, for errors the daemon returned. */
  rpcCode?: number;
  /** The error's `data` from the daemon: the missing file of `modelFileMissing`, the partial result of a cancelled ask. */
  data?: unknown;
  /** 2 for usage and config errors, 130 for a cancelled ask, else 1. */
  exitStatus: number;
}

/** Classifies an error a command threw. */
export function describeCliError(error: unknown): CliError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ResponseError) {
    const cancelled = error.code === LspErrorCodes.requestCancelled;
    const described: CliError = { code: RPC_CODE_NAMES[error.code] ?? 'rpcError', message, rpcCode: error.code, exitStatus: cancelled ? INTERRUPTED_EXIT_STATUS : 1 };
    if (error.data !== undefined) described.data = error.data;
    return described;
  }
  const nodeCode = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof UsageError || (typeof nodeCode === 'string' && nodeCode.startsWith('ERR_PARSE_ARGS'))) return { code: 'usage', message, exitStatus: 2 };
  if (error instanceof ConfigError) return { code: 'config', message, exitStatus: 2 };
  if (error instanceof DaemonStartError) return { code: 'daemonStart', message, exitStatus: 1 };
  if (error instanceof ConnectionLostError) return { code: 'connectionLost', message, exitStatus: 1 };
  return { code: typeof nodeCode === 'string' ? nodeCode : 'error', message, exitStatus: 1 };
}

/** Prints a failure: one `{"type": "error", "error": {...}}` line on stdout with `json`, else `error: …` on stderr. */
export function printCliError(failure: CliError, json: boolean): void {
  if (json) {
    const { exitStatus: _exitStatus, ...error } = failure;
    process.stdout.write(JSON.stringify({ type: 'error', error }) + '\n');
  } else if (failure.code === 'requestCancelled') {
    process.stderr.write('cancelled\n');
  } else {
    process.stderr.write(`error: ${failure.message}\n`);
  }
}
