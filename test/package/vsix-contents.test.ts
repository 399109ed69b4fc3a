/**
 * Checks the `.vsix` that `npm run package` wrote: it must hold everything the extension needs at run time on this
 * platform and nothing from the development tree. Run `npm run package` first; CI does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  ADDON_PATH,
  embeddedModelFiles,
  EMBEDDED_MODEL_MANIFEST,
  findVsixProblem,
  llamaPackageName,
  readEmbeddedModelManifest,
  readManifest,
  ROOT,
  vsixPath,
  type ExtensionManifest,
} from '../../scripts/vsix-layout.ts';
import { readZipEntries, readZipEntry, type ZipEntry } from './zip-entries.ts';

/** Upper bound on the `.vsix` size: the CPU libraries take about 11 MiB compressed, the rest is the model. */
// NOTE: a guess sized for a small embedded model (under 300 MB); raise it when a larger model ships.
const MAX_VSIX_MIB = 400;

/** Where vsce puts the extension's files inside the archive. */
const PREFIX = 'extension/';

function entryPath(file: string): string {
  return PREFIX + path.posix.normalize(file.split(path.sep).join('/')).replace(/^\.\//, '');
}

/** Returns the shared libraries the addon links against, from its ELF dynamic section; undefined without readelf. */
function addonNeededLibraries(): string[] | undefined {
  const result = spawnSync('readelf', ['-d', path.join(ROOT, ADDON_PATH)], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return [...result.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((match) => match[1] as string);
}

/** Libraries that come with the C and C++ runtime of the system, not with the extension. */
const SYSTEM_LIBRARY = /^(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^.]*|libpthread|libdl|librt)\.so/;

describe('packaged .vsix', () => {
  const problem = findVsixProblem();
  const vsix = vsixPath();
  let entries: ZipEntry[] = [];
  let names = new Set<string>();
  if (!problem) {
    entries = readZipEntries(vsix);
    names = new Set(entries.map((entry) => entry.name));
  }

  test('is built and up to date', (t) => {
    if (problem) assert.fail(problem);
    const megabytes = statSync(vsix).size / 1024 / 1024;
    t.diagnostic(`${path.relative(ROOT, vsix)}: ${megabytes.toFixed(1)} MiB, ${entries.length} entries`);
    for (const entry of entries) t.diagnostic(`${String(entry.size).padStart(12)}  ${entry.name}`);
  });

  test('contains extension and daemon bundles', () => {
    if (problem) assert.fail(problem);
    const manifest = readManifest();
    assert.ok(manifest.main, 'package.json has no "main" entry');
    const main = manifest.main.endsWith('.js') ? manifest.main : `${manifest.main}.js`;
    for (const file of ['package.json', main, 'bin/specexit.js', 'dist/daemon/cli.js', 'dist/daemon/bench.js', 'dist/daemon/calibrate.js', 'dist/daemon/convert-angelslim.js', 'dist/media/chat.js', 'dist/media/chat.css']) {
      assert.ok(names.has(entryPath(file)), `${entryPath(file)} is missing from the .vsix`);
    }
  });

  test('contains the addon and its libraries', () => {
    if (problem) assert.fail(problem);
    assert.ok(names.has(entryPath(ADDON_PATH)), `${entryPath(ADDON_PATH)} is missing from the .vsix`);

    const platform = `${process.platform}-${process.arch}`;
    const binsDir = `node_modules/${llamaPackageName()}/bins/${platform}`;
    const needed = addonNeededLibraries();
    assert.ok(needed, 'readelf could not read the addon; install binutils');
    const bundled = needed.filter((library) => !SYSTEM_LIBRARY.test(library));
    assert.ok(bundled.length >= 4, `expected the addon to link libllama, libggml, libllama-common and libggml-base, got ${needed.join(', ')}`);
    for (const library of bundled) {
      assert.ok(names.has(entryPath(`${binsDir}/${library}`)), `${library}, which the addon links against, is missing from ${binsDir} in the .vsix`);
    }
    const cpuBackends = [...names].filter((name) => name.startsWith(entryPath(`${binsDir}/libggml-cpu-`)));
    assert.ok(cpuBackends.length > 0, `no CPU backend (libggml-cpu-*.so) in ${binsDir} in the .vsix`);
    assert.ok(names.has(entryPath(`node_modules/${llamaPackageName()}/package.json`)), 'the package.json that lets the daemon find the libraries is missing');
  });

  test('contains the embedded model', () => {
    if (problem) assert.fail(problem);
    const model = readEmbeddedModelManifest();
    assert.ok(model, `${EMBEDDED_MODEL_MANIFEST} is missing from the repository`);
    assert.ok(names.has(entryPath(EMBEDDED_MODEL_MANIFEST)), `${EMBEDDED_MODEL_MANIFEST} is missing from the .vsix`);
    for (const file of embeddedModelFiles(model)) {
      const hint = existsSync(path.join(ROOT, file)) ? 'run `npm run package` without --allow-missing-model' : `${file} does not exist yet`;
      assert.ok(names.has(entryPath(file)), `${file} is missing from the .vsix: ${hint}`);
    }
  });

  test('leaves out sources and tools', () => {
    if (problem) assert.fail(problem);
    const unexpected = [...names].filter(
      (name) =>
        /\.tsx?$/.test(name) ||
        /^extension\/(test|training|native\/llama\.cpp|native\/src|daemon|extension|scripts|out)\//.test(name) ||
        /^extension\/node_modules\/(?!@node-llama-cpp\/)/.test(name) ||
        /llama-addon\.node$|cuda|vulkan/i.test(name),
    );
    assert.deepEqual(unexpected, [], 'the .vsix contains development files');
  });

  test('manifest drops scripts and dev dependencies', () => {
    if (problem) assert.fail(problem);
    const manifest = JSON.parse(readZipEntry(vsix, entryPath('package.json')).toString('utf8')) as ExtensionManifest;
    assert.equal(manifest.scripts, undefined, 'the packaged package.json still has scripts');
    assert.equal(manifest.devDependencies, undefined, 'the packaged package.json still has devDependencies');
    assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [llamaPackageName()]);
  });

  test('size stays under the limit', () => {
    if (problem) assert.fail(problem);
    const megabytes = statSync(vsix).size / 1024 / 1024;
    assert.ok(megabytes < MAX_VSIX_MIB, `the .vsix is ${megabytes.toFixed(1)} MiB, over ${MAX_VSIX_MIB} MiB`);
  });
});
