/**
 * Runs the extension-host integration suite in desktop VS Code with @vscode/test-electron: `npm run test:electron`.
 *
 * test-electron downloads VS Code from update.code.visualstudio.com into .vscode-test/. Where that download is
 * impossible (offline, blocked, no proxy) the suite is skipped: it prints why and exits with status 0. A download
 * that works followed by a failing suite exits with status 1. Run `npm run build` first. On Linux without a
 * display, run it under `xvfb-run -a`.
 *
 * Environment: SPECEXIT_VSCODE_VERSION (default `stable`), SPECEXIT_VSCODE_TEST_CACHE (default `.vscode-test`),
 * SPECEXIT_VSCODE_DOWNLOAD_TIMEOUT_MS (default 15000, per request). test-electron takes a proxy from
 * `npm_config_https_proxy` or `npm_config_proxy`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '..', '..');
const SUITE_ENTRY = path.join(__dirname, 'suite', 'index.ts');
const SUITE_BUNDLE = path.join(ROOT, 'out', 'vscode-electron', 'suite.js');

/** Prefix of the line that reports the skip; skip-offline.test.ts matches it. */
const SKIP_MARKER = 'test:electron skipped';

async function bundleSuite(): Promise<void> {
  await build({
    entryPoints: [SUITE_ENTRY],
    outfile: SUITE_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    logLevel: 'warning',
  });
}

/** Downloads VS Code, or returns undefined after printing why the suite is skipped. */
async function downloadVSCode(): Promise<string | undefined> {
  const version = process.env.SPECEXIT_VSCODE_VERSION ?? 'stable';
  const cachePath = path.resolve(ROOT, process.env.SPECEXIT_VSCODE_TEST_CACHE ?? '.vscode-test');
  const timeout = Number(process.env.SPECEXIT_VSCODE_DOWNLOAD_TIMEOUT_MS ?? 15_000);
  try {
    return await downloadAndUnzipVSCode({ version, cachePath, timeout });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.log(
      `${SKIP_MARKER}: VS Code ${version} could not be downloaded (${reason}). ` +
        'This suite needs access to update.code.visualstudio.com, or a copy in the cache folder ' +
        `${cachePath}. The offline end-to-end test in code-server (test/e2e) covers the packaged extension here.`,
    );
    return undefined;
  }
}

/** Stops the daemon that the extension started for the suite, if any. */
function stopDaemon(socketPath: string): void {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'specexit.js'), 'stop'], {
    env: { ...process.env, SPECEXIT_SOCKET: socketPath },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const noDaemon = /no daemon is running/.test(result.stderr ?? '');
  if (result.status !== 0 && !noDaemon) console.error(`test:electron: \`specexit stop\` failed: ${result.stderr || result.error?.message}`);
}

async function main(): Promise<number> {
  if (!existsSync(path.join(ROOT, 'dist', 'extension.js'))) {
    console.error('test:electron: dist/extension.js is missing; run `npm run build` first');
    return 1;
  }
  await bundleSuite();

  const vscodeExecutablePath = await downloadVSCode();
  if (!vscodeExecutablePath) return 0;

  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.error('test:electron: VS Code needs a display; run `xvfb-run -a npm run test:electron`');
    return 1;
  }

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'specexit-electron-'));
  // The extension starts its daemon detached, on this socket instead of the user's.
  const socketPath = path.join(scratch, 'daemon.sock');
  try {
    const workspace = path.join(scratch, 'workspace');
    await mkdir(workspace, { recursive: true });
    await writeFile(path.join(workspace, 'sample.py'), 'def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n');
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: SUITE_BUNDLE,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--user-data-dir', path.join(scratch, 'user')],
      extensionTestsEnv: { SPECEXIT_TEST_WORKSPACE: workspace, SPECEXIT_SOCKET: socketPath, SPECEXIT_CONFIG: path.join(scratch, 'config.json') },
    });
    return 0;
  } catch (error) {
    console.error(`test:electron: the suite failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    stopDaemon(socketPath);
    await rm(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
