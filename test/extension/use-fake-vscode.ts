/**
 * Makes `import 'vscode'` load fake-vscode.ts. Import this first in a test file: the extension's modules
 * require `vscode` when they load, and only a running VS Code provides the real one.
 */
import Module from 'node:module';
import path from 'node:path';

const FAKE_PATH = path.join(__dirname, 'fake-vscode.ts');

type Resolve = (request: string, ...rest: unknown[]) => string;
const moduleWithResolve = Module as unknown as { _resolveFilename: Resolve };
const resolve = moduleWithResolve._resolveFilename;
moduleWithResolve._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return resolve.call(this, request === 'vscode' ? FAKE_PATH : request, ...rest);
};
