/**
 * Builds the `.vsix` for this platform with @vscode/vsce: `npm run package`.
 *
 * Stages the files that ship into out/vsix-staging/ and runs `vsce package` there, because vsce run in the
 * repository would walk every folder (llama.cpp sources, the end-to-end tools) and would take either all of
 * node_modules or none of it. The repository's .vscodeignore is the list of what ships. Run `npm run build` first.
 *
 * Options:
 *   --allow-missing-model   package without the embedded model, for development (also SPECEXIT_ALLOW_MISSING_MODEL=1)
 */
import { spawnSync } from 'node:child_process';
import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import {
  ADDON_PATH,
  ALLOW_MISSING_MODEL_ENV,
  EMBEDDED_MODEL_MANIFEST,
  embeddedModelFiles,
  llamaPackageName,
  MODEL_FILE_PATTERN,
  MODELS_DIR,
  OUT_DIR,
  packagedManifest,
  readEmbeddedModelManifest,
  readManifest,
  ROOT,
  STAGING_DIR,
  vscodeTarget,
  vsixPath,
} from './vsix-layout.ts';

function fail(message: string): never {
  console.error(`package: ${message}`);
  process.exit(1);
}

function log(message: string): void {
  console.log(`package: ${message}`);
}

/** Copies `from` to `to`: a copy-on-write clone where the file system supports one, else a plain copy. */
function stageFile(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to, constants.COPYFILE_FICLONE);
}

function stageTree(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) stageTree(source, target);
    else if (entry.isFile()) stageFile(source, target);
  }
}

/** Returns the repository-relative model files to ship; fails, or warns with `allowMissing`, when the model is incomplete. */
function selectModelFiles(allowMissing: boolean): string[] {
  const problem = (message: string): void => {
    if (!allowMissing) {
      fail(`${message}. Train or copy the embedded model into ${MODELS_DIR}/, or pass --allow-missing-model (or set ${ALLOW_MISSING_MODEL_ENV}=1) to package without it for development`);
    }
    log(`warning: ${message}; packaging without it because missing models are allowed`);
  };

  const manifest = readEmbeddedModelManifest();
  if (!manifest) {
    problem(`${EMBEDDED_MODEL_MANIFEST} is missing`);
    return [];
  }
  for (const file of embeddedModelFiles(manifest)) {
    if (!existsSync(path.join(ROOT, file))) problem(`the embedded model file ${file} named in ${EMBEDDED_MODEL_MANIFEST} is missing`);
  }
  return readdirSync(path.join(ROOT, MODELS_DIR))
    .filter((name) => MODEL_FILE_PATTERN.test(name))
    .map((name) => path.join(MODELS_DIR, name));
}

function findLlamaPackage(): { name: string; version: string; dir: string } {
  const name = llamaPackageName();
  const dir = path.join(ROOT, 'node_modules', name);
  const manifestFile = path.join(dir, 'package.json');
  if (!existsSync(manifestFile)) fail(`${name} is not installed, so there are no llama.cpp libraries for ${process.platform}-${process.arch}; run \`npm ci\``);
  const { version } = readManifest(dir);
  return { name, version, dir };
}

function main(): void {
  const allowMissingModel = process.argv.includes('--allow-missing-model') || process.env[ALLOW_MISSING_MODEL_ENV] === '1';
  const unknown = process.argv.slice(2).filter((arg) => arg !== '--allow-missing-model');
  if (unknown.length > 0) fail(`unknown option ${unknown.join(' ')}; the only option is --allow-missing-model`);

  const manifest = readManifest();
  if (!manifest.main) fail('package.json has no "main" entry, so there is no extension to package');
  const required = [manifest.main, ADDON_PATH, 'dist'];
  for (const file of required) {
    if (!existsSync(path.join(ROOT, file))) fail(`${file} is missing; run \`npm run build\` first`);
  }
  const llamaPackage = findLlamaPackage();
  const modelFiles = selectModelFiles(allowMissingModel);

  log(`staging files in ${path.relative(ROOT, STAGING_DIR)}/`);
  rmSync(STAGING_DIR, { recursive: true, force: true });
  mkdirSync(STAGING_DIR, { recursive: true });
  writeFileSync(path.join(STAGING_DIR, 'package.json'), `${JSON.stringify(packagedManifest(manifest, llamaPackage), null, 2)}\n`);
  for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md', '.vscodeignore', ADDON_PATH, ...modelFiles]) {
    if (existsSync(path.join(ROOT, file))) stageFile(path.join(ROOT, file), path.join(STAGING_DIR, file));
  }
  for (const dir of ['bin', 'dist', 'media']) {
    if (existsSync(path.join(ROOT, dir))) stageTree(path.join(ROOT, dir), path.join(STAGING_DIR, dir));
  }
  stageTree(llamaPackage.dir, path.join(STAGING_DIR, 'node_modules', llamaPackage.name));

  // vsce lists dependencies with `npm list --production`, which finds the staged llama.cpp package. Without a
  // repository URL it would ask before packaging, and it could not rewrite relative links in the README.
  const output = vsixPath();
  mkdirSync(OUT_DIR, { recursive: true });
  rmSync(output, { force: true });
  const vsce = path.join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const args = [vsce, 'package', '--target', vscodeTarget(), '--out', output, '--allow-missing-repository', '--no-rewrite-relative-links'];
  log(`running vsce ${args.slice(1).join(' ')}`);
  // stdin stays closed so that a vsce prompt fails at once instead of waiting for input.
  const result = spawnSync(process.execPath, args, { cwd: STAGING_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.error) fail(`vsce could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`vsce failed with exit code ${result.status}; its output above names the cause`);

  const megabytes = statSync(output).size / 1024 / 1024;
  log(`wrote ${path.relative(ROOT, output)} (${megabytes.toFixed(1)} MiB${modelFiles.length === 0 ? ', without the embedded model' : ''})`);
}

main();
