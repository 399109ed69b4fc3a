// Bundles the TypeScript entry points into dist/. The native addon and
// node-llama-cpp stay external: they load shared libraries from node_modules.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entryPoints = [
  { in: 'daemon/engine/index.ts', out: 'daemon/engine' },
  // The `specexit` CLI and daemon (bin/specexit.js runs it). bench, calibrate and
  // convert-angelslim get bundles of their own, which the CLI loads on demand from
  // the same folder.
  { in: 'daemon/cli/main.ts', out: 'daemon/cli' },
  { in: 'daemon/bench/index.ts', out: 'daemon/bench' },
  { in: 'daemon/calibrate/index.ts', out: 'daemon/calibrate' },
  { in: 'daemon/calibrate/convert.ts', out: 'daemon/convert-angelslim' },
].filter((entry) => existsSync(entry.in));

await build({
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['node-llama-cpp', '*.node'],
  logLevel: 'info',
});

// The VS Code extension (package.json's `main`). The `vscode` module is provided by the extension host.
if (existsSync('extension/extension.ts')) {
  await build({
    entryPoints: { extension: 'extension/extension.ts' },
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    external: ['vscode'],
    logLevel: 'info',
  });
}

// The chat webview: a browser script and its stylesheet (dist/media/chat.js and chat.css).
await build({
  entryPoints: { 'media/chat': 'media/chat.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'browser',
  target: 'chrome114',
  format: 'iife',
  minify: true,
  sourcemap: true,
  logLevel: 'info',
});
