import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { convertAngelSlim, runConvertCli } from '../../daemon/calibrate/convert.ts';
import { parseSafetensorsFile, toFloat32 } from '../../daemon/calibrate/safetensors.ts';
import { seededRandom } from '../../daemon/calibrate/split.ts';
import { readSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { encodeSafetensors, float32Bytes } from '../fixtures/safetensors-writer.ts';

const HIDDEN = 16;
const TARGET_HIDDEN = 12;

function bfloat16Bytes(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer);
  const bytes = Buffer.alloc(values.length * 2);
  // Truncation keeps the test's expected values exact: they are built from bfloat16-representable floats.
  bits.forEach((value, i) => bytes.writeUInt16LE(value >>> 16, i * 2));
  return bytes;
}

/** Random values that bfloat16 stores exactly. */
function bfloat16Values(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const values = new Float32Array(count);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < count; i++) {
    values[i] = random() - 0.5;
    bits[i] = bits[i]! & 0xffff0000;
  }
  return values;
}

/** A tiny AngelSlim-format SpecExit checkpoint: BF16 fc.weight [H+3, 3H'], an F16 layer weight, int64 d2t. */
async function writeCheckpoint(dir: string, config: Record<string, unknown>, fcRows = HIDDEN + 3): Promise<Float32Array> {
  await mkdir(dir, { recursive: true });
  const fc = bfloat16Values(fcRows * 3 * TARGET_HIDDEN, 1);
  const d2t = Buffer.alloc(8 * 4);
  [0, 5, 9, 20].forEach((value, i) => d2t.writeBigInt64LE(BigInt(value), i * 8));
  const file = encodeSafetensors(
    {
      'fc.weight': { dtype: 'BF16', shape: [fcRows, 3 * TARGET_HIDDEN], data: bfloat16Bytes(fc) },
      'midlayer.self_attn.q_proj.weight': { dtype: 'F16', shape: [HIDDEN, 2 * HIDDEN], data: Buffer.alloc(2 * HIDDEN * 2 * HIDDEN, 0x3c) },
      'norm.weight': { dtype: 'F32', shape: [HIDDEN], data: float32Bytes(Array.from({ length: HIDDEN }, (_, i) => i)) },
      d2t: { dtype: 'I64', shape: [4], data: d2t },
    },
    { format: 'pt' },
  );
  await writeFile(path.join(dir, 'model.safetensors'), file);
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLMEagle3'], hidden_size: HIDDEN, num_hidden_layers: 1, draft_vocab_size: 4, ...config }));
  await writeFile(path.join(dir, 'README.md'), 'tiny test checkpoint\n');
  return fc;
}

const execFileAsync = promisify(execFile);

describe('AngelSlim converter', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-convert-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('splits fc into EAGLE-3 and sidecar', async () => {
    const input = path.join(dir, 'in');
    const output = path.join(dir, 'out');
    const fc = await writeCheckpoint(input, { eagle_config: { eagle_aux_hidden_state_layer_ids: [1, 5, 9] } });
    const result = await convertAngelSlim({ inputDir: input, outputDir: output });
    assert.deepEqual(result.targetLayers, [1, 5, 9]);
    assert.equal(result.targetHiddenSize, TARGET_HIDDEN);

    const before = parseSafetensorsFile('in', await readFile(path.join(input, 'model.safetensors')));
    const after = parseSafetensorsFile('out', await readFile(path.join(output, 'model.safetensors')));
    assert.deepEqual(after.metadata, { format: 'pt' });
    assert.deepEqual(after.tensors.map((t) => t.name), before.tensors.map((t) => t.name));
    const fcOut = after.tensors.find((t) => t.name === 'fc.weight')!;
    assert.deepEqual(fcOut.shape, [HIDDEN, 3 * TARGET_HIDDEN]);
    assert.equal(fcOut.dtype, 'BF16');
    assert.deepEqual(toFloat32(fcOut), fc.slice(0, HIDDEN * 3 * TARGET_HIDDEN));
    for (const name of ['midlayer.self_attn.q_proj.weight', 'norm.weight', 'd2t']) {
      const a = before.tensors.find((t) => t.name === name)!;
      const b = after.tensors.find((t) => t.name === name)!;
      assert.deepEqual([b.dtype, b.shape], [a.dtype, a.shape], name);
      assert.ok(a.data.equals(b.data), `${name} bytes`);
    }
    assert.equal(await readFile(path.join(output, 'config.json'), 'utf8'), await readFile(path.join(input, 'config.json'), 'utf8'));
    assert.equal(await readFile(path.join(output, 'README.md'), 'utf8'), 'tiny test checkpoint\n');

    const sidecar = await readSignalSidecar(result.sidecarPath);
    assert.equal(sidecar.hiddenSize, TARGET_HIDDEN);
    assert.deepEqual(sidecar.targetLayers, [1, 5, 9]);
    assert.deepEqual(sidecar.weight, fc.slice(HIDDEN * 3 * TARGET_HIDDEN));
    assert.equal(sidecar.bias, undefined);
    assert.equal(sidecar.confidenceThreshold, 0.8);
  });

  test('default layers follow llama.cpp', async () => {
    const input = path.join(dir, 'in-default');
    await writeCheckpoint(input, {});
    await assert.rejects(convertAngelSlim({ inputDir: input, outputDir: path.join(dir, 'out-none') }), /pass --target-model-dir/);
    const result = await convertAngelSlim({ inputDir: input, outputDir: path.join(dir, 'out-default'), targetLayerCount: 36 });
    assert.deepEqual(result.targetLayers, [2, 18, 33]);
  });

  test('input and existing files are kept', async () => {
    const input = path.join(dir, 'in-keep');
    await writeCheckpoint(input, {});
    const before = await readFile(path.join(input, 'model.safetensors'));
    const link = path.join(dir, 'link-to-input');
    await symlink(input, link);
    await assert.rejects(convertAngelSlim({ inputDir: input, outputDir: link, targetLayerCount: 8 }), /must differ from the input folder/);
    const used = path.join(dir, 'out-used');
    await mkdir(used);
    await writeFile(path.join(used, 'notes.txt'), 'keep me');
    await assert.rejects(convertAngelSlim({ inputDir: input, outputDir: used, targetLayerCount: 8 }), /out-used is not empty/);
    assert.deepEqual(await readFile(path.join(input, 'model.safetensors')), before);
    assert.equal(await readFile(path.join(used, 'notes.txt'), 'utf8'), 'keep me');
  });

  test('plain EAGLE-3 checkpoint is rejected', async () => {
    const input = path.join(dir, 'in-plain');
    await writeCheckpoint(input, {}, HIDDEN);
    await assert.rejects(convertAngelSlim({ inputDir: input, outputDir: path.join(dir, 'out-plain'), targetLayerCount: 8 }), /plain EAGLE-3 checkpoint/);
  });

  test('command line reads the target config', async () => {
    const input = path.join(dir, 'in-cli');
    const target = path.join(dir, 'target');
    await writeCheckpoint(input, {});
    await mkdir(target, { recursive: true });
    await writeFile(path.join(target, 'config.json'), JSON.stringify({ num_hidden_layers: 28, hidden_size: TARGET_HIDDEN }));
    const write = process.stdout.write;
    let output = '';
    process.stdout.write = ((chunk: string) => ((output += chunk), true)) as typeof process.stdout.write;
    try {
      assert.equal(await runConvertCli([input, path.join(dir, 'out-cli'), '--target-model-dir', target]), 0);
    } finally {
      process.stdout.write = write;
    }
    assert.match(output, /target layers 2,14,25/);
    assert.deepEqual((await readSignalSidecar(path.join(dir, 'out-cli', 'signals.safetensors'))).targetLayers, [2, 14, 25]);
  });

  test('specexit convert-angelslim runs it', async () => {
    const input = path.join(dir, 'in-specexit');
    await writeCheckpoint(input, { eagle_config: { eagle_aux_hidden_state_layer_ids: [3, 7, 11] } });
    const cli = path.join(__dirname, '..', '..', 'daemon', 'cli', 'main.ts');
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', cli, 'convert-angelslim', input, path.join(dir, 'out-specexit')]);
    assert.match(stdout, /target layers 3,7,11/);
    assert.deepEqual((await readSignalSidecar(path.join(dir, 'out-specexit', 'signals.safetensors'))).targetLayers, [3, 7, 11]);
    const usage = await execFileAsync(process.execPath, ['--import', 'tsx', cli, '--help']);
    assert.match(usage.stdout, /convert-angelslim/);
  });
});
