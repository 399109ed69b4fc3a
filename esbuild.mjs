// Bundles the TypeScript entry points into dist/. The native addon and
// node-llama-cpp stay external: they load shared libraries from node_modules.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const entryPoints = [
  { in: 'daemon/engine/index.ts', out: 'daemon/engine' },
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
