/** Entry point of the `specexit` command: parses the arguments and runs one subcommand. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { DaemonClient } from '../client/daemon-client.ts';
import { ConfigError, loadConfig, parseIdleTimeout, parseLogLevel, parsePositiveInteger, resolveUserPath, type DaemonConfig } from '../config.ts';
import { defaultConfigFile, defaultLogFile, defaultSocketPath } from '../paths.ts';
import { MODES, type AskOptions, type Mode, type ModelSpec } from '../protocol.ts';
import { readFileContext, runAsk } from './ask.ts';
import { describeCliError, printCliError, UsageError } from './errors.ts';
import { checkModelFile } from './model-files.ts';
import { runServe } from './serve.ts';
import { printModels, printStatus } from './status.ts';
import { connectSocket } from '../transport/socket.ts';
import { connectOrSpawn } from '../transport/spawn.ts';

const USAGE = `Usage: specexit <command> [options]

Commands:
  ask "question"     Ask the shared daemon (started in the background when none runs)
  serve              Run the daemon in the foreground on the per-user socket
  status             Show the daemon's state, model, backend, queue and memory
  models             List the embedded model and the configured ones
  stop               Stop the shared daemon
  bench              Run the benchmarks (see specexit bench --help)
  calibrate          Fit SpecExit signal heads for a draft (see specexit calibrate --help)
  convert-angelslim  Split an AngelSlim SpecExit checkpoint into EAGLE-3 plus a signal sidecar
                     (see specexit convert-angelslim --help)

Options of ask:
  --file F           Ask about file F (its text is the selection unless --lines is given)
  --lines A-B        Select lines A to B of --file (1-based, inclusive); up to 200 lines around them go along
  --mode M           vanilla, eagle3, specexit or probe (default specexit)
  --no-thinking      Answer without thinking
  --budget N         Thinking tokens before the wrap-up and </think> are forced (default: no budget)
  --max-tokens N     Generated tokens, thinking and answer together (default 1024)
  --temperature T    0 (greedy, the default) to 2
  --top-p P          Nucleus sampling mass, above 0 up to 1 (default 0.95)
  --seed N           Sampler seed (default 0)
  --model NAME       A registered model (default: the daemon's default, the embedded model unless configured)
  --json             Print each notification and the result as one JSON object per line; an error
                     is one {"type":"error","error":{"code","message",...}} line, also on stdout

Model files (ask and serve):
  --target F         Target GGUF; registers a model from these files and uses it
  --draft F          EAGLE-3 draft GGUF for the target
  --signals F        Signal-head sidecar (safetensors)
  --context-size N   KV cache size in tokens of the --target model, 256 or more (default 4096);
                     for other models set contextSize in the config file

Options of serve:
  --stdio            Relay stdin/stdout to the shared daemon, starting it when needed (for editors)
  --no-socket        With --stdio: serve this one client with its own model, no socket
  --idle-timeout S   Exit after S seconds with no client and no work; 0 never exits (default 600)
  --threads N        Decoding threads (default: half the cores)
  --no-gpu           Do not load GPU backends
  --log-level L      debug, info, warn or error (default info); prompts are logged only at debug
  --log-file F       Append the log to F instead of stderr

Common options:
  --socket PATH      Daemon socket (default: $SPECEXIT_SOCKET, else $XDG_RUNTIME_DIR/specexit/daemon.sock)
  --config F         Config file, which must exist (default: $SPECEXIT_CONFIG, else
                     ~/.config/specexit/config.json; a missing default file gives the defaults)
  -h, --help         Show this help
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string' },
  lines: { type: 'string' },
  mode: { type: 'string' },
  'no-thinking': { type: 'boolean' },
  budget: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  model: { type: 'string' },
  json: { type: 'boolean' },
  target: { type: 'string' },
  draft: { type: 'string' },
  signals: { type: 'string' },
  'context-size': { type: 'string' },
  stdio: { type: 'boolean' },
  'no-socket': { type: 'boolean' },
  'idle-timeout': { type: 'string' },
  threads: { type: 'string' },
  'no-gpu': { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-file': { type: 'string' },
  socket: { type: 'string' },
  config: { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseFlags>['values'];

function parseFlags(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

function parseNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max) {
    throw new UsageError(`Expected ${flag} to be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function parseInteger(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  const number = parseNumber(value, flag, min, max);
  if (number !== undefined && !Number.isInteger(number)) throw new UsageError(`Expected ${flag} to be an integer, got ${JSON.stringify(value)}`);
  return number;
}

/**
 * Returns the model spec of `--target/--draft/--signals`, named after a hash of its paths, or undefined. Throws a
 * UsageError when a file is missing or not a GGUF, before a daemon receives the spec.
 */
function modelSpecFromFlags(flags: Flags): ModelSpec | undefined {
  if (flags.target === undefined) {
    if (flags.draft !== undefined || flags.signals !== undefined) throw new UsageError('--draft and --signals need --target');
    // The daemon is shared and may already run with the embedded model loaded, so the flag cannot resize it.
    if (flags['context-size'] !== undefined) {
      throw new UsageError(
        '--context-size needs --target, because it sets the context size of the model that --target registers. ' +
          'For the embedded model or a configured one, set contextSize in the config file (at the top level, or in the model\'s entry)',
      );
    }
    return undefined;
  }
  const resolve = (file: string | undefined) => (file === undefined ? undefined : resolveUserPath(file, process.cwd()));
  const spec: ModelSpec = { name: '', target: resolve(flags.target)!, draft: resolve(flags.draft), signals: resolve(flags.signals) };
  checkModelFile('--target', spec.target);
  if (spec.draft !== undefined) checkModelFile('--draft', spec.draft);
  if (spec.signals !== undefined) checkModelFile('--signals', spec.signals);
  const contextSize = parseInteger(flags['context-size'], '--context-size', 256, 1 << 20);
  if (contextSize !== undefined) spec.contextSize = contextSize;
  const hash = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 8);
  spec.name = `cli-${path.basename(spec.target, '.gguf')}-${hash}`;
  return spec;
}

function askOptions(flags: Flags): AskOptions {
  if (flags.mode !== undefined && !MODES.includes(flags.mode as Mode)) {
    throw new UsageError(`Expected --mode to be one of ${MODES.join(', ')}, got ${JSON.stringify(flags.mode)}`);
  }
  const options: AskOptions = {
    mode: flags.mode as Mode | undefined,
    thinking: flags['no-thinking'] ? false : undefined,
    thinkingBudget: parseInteger(flags.budget, '--budget', 0, 1_000_000),
    maxTokens: parseInteger(flags['max-tokens'], '--max-tokens', 1, 1_000_000),
    temperature: parseNumber(flags.temperature, '--temperature', 0, 2),
    topP: parseNumber(flags['top-p'], '--top-p', 0, 1),
    seed: parseInteger(flags.seed, '--seed', 0, 0xffffffff),
    model: flags.model,
  };
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as AskOptions;
}

/**
 * Returns the config file: `--config`, which must exist, else `SPECEXIT_CONFIG` or the default path, which give
 * the defaults when missing.
 */
function configFile(flags: Flags): string {
  if (flags.config === undefined) return defaultConfigFile();
  const file = resolveUserPath(flags.config, process.cwd());
  if (!existsSync(file)) throw new ConfigError(`--config ${file}: file not found; fix the --config path, or leave out --config to use ${defaultConfigFile()}`);
  return file;
}

/** Daemon settings from the config file, the environment and these flags; `spec` is the model of `--target`. */
function daemonConfig(flags: Flags, spec: ModelSpec | undefined): DaemonConfig {
  const overrides: Partial<DaemonConfig> = {};
  if (spec) {
    overrides.commandLineModel = spec;
    overrides.defaultModel = spec.name;
  } else if (flags.model !== undefined) {
    overrides.defaultModel = flags.model;
  }
  if (flags['idle-timeout'] !== undefined) overrides.idleTimeoutMs = parseIdleTimeout(flags['idle-timeout'], '--idle-timeout');
  if (flags.threads !== undefined) overrides.threads = parsePositiveInteger(flags.threads, '--threads');
  if (flags['no-gpu']) overrides.gpu = false;
  if (flags['log-level'] !== undefined) overrides.logLevel = parseLogLevel(flags['log-level'], '--log-level');
  if (flags['log-file'] !== undefined) overrides.logFile = resolveUserPath(flags['log-file'], process.cwd());
  return loadConfig(configFile(flags), overrides);
}

/** Arguments that register the model of `--target` in a daemon started in the background. */
function modelArgs(spec: ModelSpec): string[] {
  const args = ['--target', spec.target];
  if (spec.draft) args.push('--draft', spec.draft);
  if (spec.signals) args.push('--signals', spec.signals);
  if (spec.contextSize !== undefined) args.push('--context-size', String(spec.contextSize));
  return args;
}

const INHERITED_FLAGS = ['config', 'idle-timeout', 'threads', 'log-level'] as const;

/** Flags a daemon started in the background by this command inherits. */
function inheritedServeArgs(flags: Flags): string[] {
  const args: string[] = [];
  for (const name of INHERITED_FLAGS) {
    const value = flags[name];
    if (value !== undefined) args.push(`--${name}`, name === 'config' ? resolveUserPath(value, process.cwd()) : value);
  }
  if (flags['no-gpu']) args.push('--no-gpu');
  return args;
}

/** Warns that the daemon settings among `flags` do nothing, because a daemon already runs with its own. */
function noteIgnoredServeFlags(flags: Flags, socketPath: string): void {
  const ignoredFlags = INHERITED_FLAGS.filter((name) => flags[name] !== undefined).map((name) => `--${name}`);
  if (flags['no-gpu']) ignoredFlags.push('--no-gpu');
  if (ignoredFlags.length === 0) return;
  process.stderr.write(
    `note: a daemon already runs on ${socketPath} with its own settings, so it ignores ${ignoredFlags.join(', ')}; run \`specexit stop\` first to start one that uses them\n`,
  );
}

async function withClient<T>(flags: Flags, spawn: boolean, use: (client: DaemonClient, logFile: string) => Promise<T>): Promise<T> {
  const socketPath = flags.socket ?? defaultSocketPath();
  const logFile = flags['log-file'] ?? defaultLogFile(socketPath);
  let socket;
  if (spawn) {
    const connected = await connectOrSpawn({ socketPath, serveArgs: inheritedServeArgs(flags), logFile: flags['log-file'] });
    if (!connected.spawned) noteIgnoredServeFlags(flags, socketPath);
    socket = connected.socket;
  } else {
    socket = await connectSocket(socketPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') throw new UsageError(`no daemon is running on ${socketPath}`);
      throw error;
    });
  }
  const client = await DaemonClient.start(socket, socket, { name: 'specexit-cli' });
  try {
    return await use(client, logFile);
  } finally {
    await client.close();
    socket.end();
  }
}

/**
 * Commands that live in modules of their own, bundled separately so that `ask` and `serve` do not load them:
 * the source module (relative to this folder), the bundle next to this one in dist/, and the function it exports.
 */
const EXTERNAL_COMMANDS = {
  bench: { source: '../bench/index.ts', bundle: 'bench.js', exportName: 'runBenchCli' },
  calibrate: { source: '../calibrate/index.ts', bundle: 'calibrate.js', exportName: 'runCalibrateCli' },
  'convert-angelslim': { source: '../calibrate/convert.ts', bundle: 'convert-angelslim.js', exportName: 'runConvertCli' },
} as const;

type ExternalCommand = keyof typeof EXTERNAL_COMMANDS;

function isExternalCommand(name: string | undefined): name is ExternalCommand {
  return name !== undefined && Object.hasOwn(EXTERNAL_COMMANDS, name);
}

/** Loads a command from its own module and runs it. */
async function runExternalCommand(name: ExternalCommand, argv: string[]): Promise<number> {
  const { source, bundle, exportName } = EXTERNAL_COMMANDS[name];
  const fromSource = __filename.endsWith('.ts');
  const modulePath = fromSource ? path.join(__dirname, source) : path.join(__dirname, bundle);
  if (!existsSync(modulePath)) {
    process.stderr.write(`error: \`specexit ${name}\` is not built yet (${modulePath} is missing); run npm run build:bundles\n`);
    return 1;
  }
  // A path computed at run time keeps the command out of this bundle; it has its own.
  const loaded = (await import(modulePath)) as Record<string, unknown>;
  const run = loaded[exportName] ?? (loaded.default as Record<string, unknown> | undefined)?.[exportName];
  if (typeof run !== 'function') {
    process.stderr.write(`error: ${modulePath} does not export ${exportName}\n`);
    return 1;
  }
  return (run as (argv: string[]) => Promise<number>)(argv);
}

/** Runs the CLI with `argv` (without the node and script paths) and resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (isExternalCommand(command)) return runExternalCommand(command, rest);
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }

  // Errors of these commands come out as a JSON line with --json. Before the flags parse, the raw argument decides.
  let json = ['ask', 'status', 'models'].includes(command) && rest.includes('--json');
  try {
    const { values: flags, positionals } = parseFlags(rest);
    json &&= flags.json === true;
    if (flags.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    switch (command) {
      case 'ask': {
        const question = positionals.join(' ').trim();
        if (!question) throw new UsageError('ask needs a question, for example: specexit ask "what does this print?" --file f.py');
        const options = askOptions(flags);
        const spec = modelSpecFromFlags(flags);
        // A daemon this command starts reads the config file; checking it here also catches a wrong --config
        // when a daemon already runs.
        if (flags.config !== undefined) loadConfig(configFile(flags));
        const context = flags.file !== undefined ? readFileContext(flags.file, flags.lines) : undefined;
        if (flags.lines !== undefined && flags.file === undefined) throw new UsageError('--lines needs --file');
        return await withClient(flags, true, async (client, logFile) => {
          if (spec) {
            await client.loadModel({ spec, source: 'cli' });
            options.model = spec.name;
          }
          return runAsk(client, { question, context, options, json: flags.json ?? false }, logFile);
        });
      }
      case 'serve': {
        if (flags['no-socket'] && !flags.stdio) throw new UsageError('--no-socket needs --stdio');
        const spec = modelSpecFromFlags(flags);
        const serveArgs = [...inheritedServeArgs(flags), ...(spec ? modelArgs(spec) : [])];
        const code = await runServe({ config: daemonConfig(flags, spec), socketPath: flags.socket, stdio: flags.stdio ?? false, noSocket: flags['no-socket'] ?? false, serveArgs });
        // The stopped daemon still has stdin open and signal handlers registered, which would keep the process alive.
        return process.exit(code);
      }
      case 'status':
        return await withClient(flags, false, async (client) => printStatus(await client.status(), flags.json ?? false));
      case 'models':
        return await withClient(flags, true, async (client) => printModels(await client.models(), flags.json ?? false));
      case 'stop':
        return await withClient(flags, false, async (client) => {
          await client.stopDaemon();
          process.stdout.write('the daemon is stopping\n');
          return 0;
        });
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}; run specexit --help for the list`);
    }
  } catch (error) {
    const failure = describeCliError(error);
    printCliError(failure, json);
    return failure.exitStatus;
  }
}

/** Runs the CLI with the process's arguments and sets the exit status; bin/specexit.js calls this. */
export function runCli(): void {
  // A closed pipe (`specexit ask … | head`) ends the command quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) runCli();
