// Builds the native addon against the llama.cpp release that the pinned
// node-llama-cpp ships: headers from its git bundle, shared libraries from its
// prebuilt platform package. Nothing is downloaded.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nativeDir = path.dirname(fileURLToPath(import.meta.url));
const sourceDir = path.join(nativeDir, 'llama.cpp');
const platformPackage = `@node-llama-cpp/${process.platform}-${process.arch}`;

function fail(message) {
  console.error(`native build: ${message}`);
  process.exit(1);
}

function log(message) {
  console.log(`native build: ${message}`);
}

// Packages with an "exports" map hide package.json from require.resolve, so
// look in each node_modules folder that Node would search.
function findPackageDir(name) {
  for (const dir of require.resolve.paths(name) ?? []) {
    if (existsSync(path.join(dir, name, 'package.json'))) return path.join(dir, name);
  }
  return undefined;
}

const llamaPackageDir = findPackageDir('node-llama-cpp');
if (!llamaPackageDir) fail('node-llama-cpp is not installed; run `npm ci`');
const bundlePath = path.join(llamaPackageDir, 'llama', 'gitRelease.bundle');
const release = JSON.parse(readFileSync(path.join(llamaPackageDir, 'llama', 'llama.cpp.info.json'), 'utf8')).tag;

const platformDir = findPackageDir(platformPackage);
if (!platformDir) {
  // TODO: build llama.cpp from the bundled source with CMake on platforms
  // without a prebuilt package.
  fail(`no prebuilt llama.cpp for ${process.platform}-${process.arch}: the package ${platformPackage} is not installed`);
}
const binsDir = path.join(platformDir, 'bins', `${process.platform}-${process.arch}`);

// The libraries carry the release in their file names and have no unversioned
// symlinks, so the linker gets exact names.
const binFiles = readdirSync(binsDir);
const libllama = binFiles.find((name) => /^libllama\.v[\d.]+\.so$/.test(name));
const libggml = binFiles.find((name) => /^libggml\.v[\d.]+\.so$/.test(name));
for (const [what, name] of [['libllama', libllama], ['libggml', libggml], ['libllama-common', 'libllama-common.so'], ['libggml-base', 'libggml-base.so']]) {
  if (!name || !binFiles.includes(name)) fail(`${what} not found in ${binsDir}; reinstall node-llama-cpp with \`npm ci\``);
}

// Headers: a local clone of the bundle, redone when the release changes.
const stampPath = path.join(sourceDir, '.specexit-release');
if (!existsSync(stampPath) || readFileSync(stampPath, 'utf8') !== release) {
  log(`extracting llama.cpp ${release} headers from ${bundlePath}`);
  rmSync(sourceDir, { recursive: true, force: true });
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', '--depth', '1', bundlePath, sourceDir], { stdio: 'inherit' });
  writeFileSync(stampPath, release);
}

// node-gyp cannot download Node's headers offline; the Node that runs this
// script ships them next to its binary on Debian and in official tarballs.
const nodeDir = path.resolve(path.dirname(process.execPath), '..');
const nodeGypArgs = ['rebuild', `--directory=${nativeDir}`];
if (existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) {
  nodeGypArgs.push(`--nodedir=${nodeDir}`);
} else {
  log(`no Node headers under ${nodeDir}; node-gyp will look for them itself`);
}

const releaseDir = path.join(nativeDir, 'build', 'Release');
const env = {
  ...process.env,
  SPECEXIT_LLAMA_SRC: sourceDir,
  SPECEXIT_LLAMA_BINS: binsDir,
  SPECEXIT_LLAMA_LIBS: [libllama, libggml, 'libllama-common.so', 'libggml-base.so'].map((name) => `-l:${name}`).join(' '),
  SPECEXIT_LLAMA_RPATH: path.relative(releaseDir, binsDir),
};

log(`building against ${release} from ${binsDir}`);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
try {
  execFileSync(process.execPath, [nodeGyp, ...nodeGypArgs], { stdio: 'inherit', env });
} catch {
  fail('node-gyp failed; the compiler output above names the cause');
}
log(`built ${path.join(releaseDir, 'specexit.node')}`);
