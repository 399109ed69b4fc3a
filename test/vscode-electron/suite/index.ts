/**
 * Extension-host integration suite: runs inside VS Code, loaded by @vscode/test-electron through `run()`.
 *
 * Checks what the extension host alone can see: the extension activates, registers every command its manifest
 * contributes, reads its settings, and runs Ask About Selection on a Python selection without throwing. The
 * chat webview and the status bar are outside the extension API; the end-to-end test in code-server (test/e2e)
 * reads them from the workbench.
 *
 * NOTE: only the offline skip of this suite has run on the project's machines, which cannot download VS Code; the
 * tests below have not yet run in a desktop VS Code.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import * as vscode from 'vscode';

const EXTENSION_ID = 'specexit.specexit-vscode';
/** Time for an input box to open after its command runs. */
const INPUT_BOX_DELAY_MS = 1_000;

interface SuiteTest {
  name: string;
  run(): Promise<void>;
}

interface ContributedCommand {
  command: string;
}

function getExtension(): vscode.Extension<unknown> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not installed in this VS Code`);
  return extension;
}

const tests: SuiteTest[] = [
  {
    name: 'extension activates',
    run: async () => {
      const extension = getExtension();
      await extension.activate();
      assert.equal(extension.isActive, true);
    },
  },
  {
    name: 'manifest commands are registered',
    run: async () => {
      const contributed = (getExtension().packageJSON as { contributes: { commands: ContributedCommand[] } }).contributes.commands;
      assert.ok(contributed.length > 0, 'the manifest contributes no commands');
      const registered = new Set(await vscode.commands.getCommands(true));
      const missing = contributed.map((entry) => entry.command).filter((command) => !registered.has(command));
      assert.deepEqual(missing, [], 'commands in the manifest that the extension did not register');
    },
  },
  {
    name: 'settings have their defaults',
    run: async () => {
      const settings = vscode.workspace.getConfiguration('specexit');
      assert.equal(settings.get('mode'), 'specexit');
      assert.equal(settings.get('model.targetPath'), '');
    },
  },
  {
    name: 'ask about selection runs',
    run: async () => {
      const workspace = process.env.SPECEXIT_TEST_WORKSPACE;
      assert.ok(workspace, 'SPECEXIT_TEST_WORKSPACE is not set; start this suite with `npm run test:electron`');
      const document = await vscode.workspace.openTextDocument(path.join(workspace, 'sample.py'));
      const editor = await vscode.window.showTextDocument(document);
      editor.selection = new vscode.Selection(0, 0, 2, 0);
      // The command first asks for a question in an input box; accepting it empty asks for an explanation.
      const asked = vscode.commands.executeCommand('specexit.askSelection');
      await sleep(INPUT_BOX_DELAY_MS);
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await asked;
    },
  },
  {
    name: 'show log runs',
    run: async () => {
      await vscode.commands.executeCommand('specexit.showLog');
    },
  },
];

/** Runs every test in order and rejects when one failed; test-electron then exits with status 1. */
export async function run(): Promise<void> {
  const failures: string[] = [];
  for (const test of tests) {
    const started = Date.now();
    try {
      await test.run();
      console.log(`ok - ${test.name} (${Date.now() - started} ms)`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.log(`not ok - ${test.name}\n${message}`);
      failures.push(test.name);
    }
  }
  if (failures.length > 0) throw new Error(`${failures.length} of ${tests.length} tests failed: ${failures.join(', ')}`);
}
