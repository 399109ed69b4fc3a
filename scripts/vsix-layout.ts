/**
 * Lays out the files of the platform-specific `.vsix`: the extension and daemon bundles, the native addon, the
 * llama.cpp shared libraries it links against, and the embedded model.
 *
 * The addon's RUNPATH is `$ORIGIN/../../../node_modules/@node-llama-cpp/<platform>/bins/<platform>`, and the daemon
 * looks for the CPU backends in that package too, so the libraries keep their `node_modules` path inside the
 * `.vsix`. The GPU packages (CUDA, Vulkan) stay out; the daemon falls back to the CPU when they are missing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');

/** Folder that `npm run package` writes the `.vsix` into, and where it stages the files first. */
export const OUT_DIR = path.join(ROOT, 'out');
export const STAGING_DIR = path.join(OUT_DIR, 'vsix-staging');

export const ADDON_PATH = path.join('native', 'build', 'Release', 'specexit.node');
export const MODELS_DIR = 'models';
export const EMBEDDED_MODEL_MANIFEST = path.join(MODELS_DIR, 'embedded.json');

/** Files in the models folder that ship besides the ones the manifest names: weights, the manifest, the model card. */
export const MODEL_FILE_PATTERN = /\.(gguf|safetensors|md)$|^embedded\.json$/;

/** Names the environment variable that lets `npm run package` build without the embedded model, for development. */
export const ALLOW_MISSING_MODEL_ENV = 'SPECEXIT_ALLOW_MISSING_MODEL';

export interface ExtensionManifest {
  name: string;
  version: string;
  main?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  [field: string]: unknown;
}

/** Shape of models/embedded.json: file names relative to the models folder. */
export interface EmbeddedModelManifest {
  name: string;
  description?: string;
  target: string;
  draft?: string;
  signals?: string;
}

/** Returns the VS Code target platform (`vsce --target`) for this machine, e.g. `linux-x64`. */
export function vscodeTarget(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const vscodeArch = arch === 'arm' ? 'armhf' : arch;
  return `${platform}-${vscodeArch}`;
}

/** Returns the node-llama-cpp package with the prebuilt llama.cpp libraries for this machine. */
export function llamaPackageName(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  const llamaArch = arch === 'arm' ? 'armv7l' : arch;
  return `@node-llama-cpp/${platform}-${llamaArch}`;
}

export function readManifest(root = ROOT): ExtensionManifest {
  return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as ExtensionManifest;
}

/** Returns the path of the `.vsix` that `npm run package` writes for this machine. */
export function vsixPath(root = ROOT): string {
  const manifest = readManifest(root);
  return path.join(root, 'out', `${manifest.name}-${vscodeTarget()}-${manifest.version}.vsix`);
}

/** Reads models/embedded.json; returns undefined when it is missing. */
export function readEmbeddedModelManifest(root = ROOT): EmbeddedModelManifest | undefined {
  const file = path.join(root, EMBEDDED_MODEL_MANIFEST);
  if (!existsSync(file)) return undefined;
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedModelManifest;
  if (typeof manifest.target !== 'string') {
    throw new Error(`${file} has no "target" file name; expected {"name", "target", "draft", "signals"}`);
  }
  return manifest;
}

/** Returns the model files that models/embedded.json names, relative to the repository root. */
export function embeddedModelFiles(manifest: EmbeddedModelManifest): string[] {
  return [manifest.target, manifest.draft, manifest.signals]
    .filter((name): name is string => typeof name === 'string')
    .map((name) => path.join(MODELS_DIR, name));
}

/**
 * Returns the manifest written into the `.vsix`: the repository's package.json without scripts and development
 * dependencies, and with the prebuilt llama.cpp package as its only dependency, because esbuild bundles the rest.
 */
export function packagedManifest(manifest: ExtensionManifest, llamaPackage: { name: string; version: string }): ExtensionManifest {
  const { scripts: _scripts, devDependencies: _devDependencies, dependencies: _dependencies, ...rest } = manifest;
  return { ...rest, dependencies: { [llamaPackage.name]: llamaPackage.version } };
}

/** Files and folders whose contents go into the `.vsix`, relative to the repository root. */
const PACKAGE_INPUTS = ['package.json', '.vscodeignore', 'README.md', 'LICENSE', 'bin', 'dist', ADDON_PATH, MODELS_DIR];

function newestFile(file: string): { file: string; mtimeMs: number } | undefined {
  if (!existsSync(file)) return undefined;
  const stats = statSync(file);
  if (!stats.isDirectory()) return { file, mtimeMs: stats.mtimeMs };
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const name of readdirSync(file)) {
    const candidate = newestFile(path.join(file, name));
    if (candidate && (!newest || candidate.mtimeMs > newest.mtimeMs)) newest = candidate;
  }
  return newest;
}

/**
 * Returns why the `.vsix` of `npm run package` cannot be tested as it is (missing, or older than a file it
 * packages), or undefined when it is up to date.
 */
export function findVsixProblem(root = ROOT): string | undefined {
  const vsix = vsixPath(root);
  if (!existsSync(vsix)) return `${path.relative(root, vsix)} is missing; run \`npm run package\` (after \`npm run build\`)`;
  const builtAt = statSync(vsix).mtimeMs;
  for (const input of PACKAGE_INPUTS) {
    const newest = newestFile(path.join(root, input));
    if (newest && newest.mtimeMs > builtAt) {
      return `${path.relative(root, vsix)} is older than ${path.relative(root, newest.file)}; run \`npm run package\` again`;
    }
  }
  return undefined;
}
