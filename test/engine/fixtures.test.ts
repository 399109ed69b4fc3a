/**
 * Checks that the generated fixture models behave as the engine tests assume,
 * by loading them with node-llama-cpp (the same llama.cpp release the engine links).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { Llama, LlamaModel } from 'node-llama-cpp';

import { readSignalSidecar } from '../../daemon/engine/sidecar.ts';
import { DEFAULT_FIXTURE_SEED, describeFixtureModels, generateFixtures, type FixturePaths } from '../fixtures/generate.ts';
import { float32ToFloat16Bits, GgufWriter } from '../fixtures/gguf-writer.ts';
import { specialTokenIds, successorOf } from '../fixtures/token-chain.ts';
import { CHAT_TEMPLATE, tokenIdOf, TokenType } from '../fixtures/tokenizer.ts';

const GREEDY_TOKENS = 200;
/** Smallest top-1 minus top-2 logit gap accepted along a greedy run. */
const MIN_LOGIT_MARGIN = 5;
/** Largest number of tokens allowed between step boundaries. */
const MAX_BOUNDARY_GAP = 40;

const PROMPT = '<|im_start|>user\nWhat does print(sum(range(4))) print?<|im_end|>\n<|im_start|>assistant\n';

async function loadNodeLlamaCpp(): Promise<typeof import('node-llama-cpp')> {
  // node-llama-cpp is ESM-only and uses top-level await, so it cannot be require()d.
  return import('node-llama-cpp');
}

async function filesIn(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) {
    files.set(name, await readFile(path.join(dir, name)));
  }
  return files;
}

describe('fixture models', () => {
  const facts = describeFixtureModels();
  const tempDirs: string[] = [];
  let paths: FixturePaths;
  let llama: Llama;
  let target: LlamaModel;

  const newTempDir = async (): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), 'specexit-fixtures-'));
    tempDirs.push(dir);
    return dir;
  };

  before(async () => {
    paths = await generateFixtures(await newTempDir());
    const { getLlama, LlamaLogLevel } = await loadNodeLlamaCpp();
    // build "never": use the prebuilt binaries and never download or compile.
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    target = await llama.loadModel({ modelPath: paths.target });
  });

  after(async () => {
    await target?.dispose();
    await llama?.dispose();
    for (const dir of tempDirs) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('generation is deterministic for a seed', async () => {
    const first = await filesIn(paths.dir);
    const second = await filesIn((await generateFixtures(await newTempDir(), DEFAULT_FIXTURE_SEED)).dir);
    assert.deepEqual([...second.keys()], [...first.keys()]);
    for (const [name, bytes] of first) {
      assert.ok(bytes.equals(second.get(name)!), `${name} differs between two generations with the same seed`);
    }

    await generateFixtures(paths.dir);
    const regenerated = await filesIn(paths.dir);
    assert.deepEqual([...regenerated.keys()], [...first.keys()], 'regenerating in place leaves no extra files');
  });

  test('another seed changes the weights', async () => {
    const other = await generateFixtures(await newTempDir(), DEFAULT_FIXTURE_SEED + 1);
    const [original, changed] = await Promise.all([readFile(paths.target), readFile(other.target)]);
    assert.equal(changed.length, original.length);
    assert.ok(!changed.equals(original));
  });

  test('target has the expected architecture', () => {
    const metadata = target.fileInfo.metadata as unknown as Record<string, Record<string, unknown>>;
    assert.equal(metadata['general']?.['architecture'], 'qwen3');
    assert.equal(metadata['qwen3']?.['block_count'], 8);
    assert.equal(metadata['qwen3']?.['embedding_length'], 64);
    assert.equal(target.tokens.eos, tokenIdOf(facts.vocabulary, '<|im_end|>'));
  });

  test('"\\n\\n" and its forms are single tokens', () => {
    const tokens: number[] = target.tokenize('hello\n\nworld', false);
    assert.ok(tokens.includes(tokenIdOf(facts.vocabulary, '\n\n')), `tokens: ${tokens.join(', ')}`);
    assert.equal(target.detokenize(target.tokenize('hello\n\nworld', false)), 'hello\n\nworld');

    for (const text of ['\n\n', '.\n\n', ' \n\n', '\n\n\n']) {
      assert.deepEqual(target.tokenize(text, false), [tokenIdOf(facts.vocabulary, text)], JSON.stringify(text));
    }
  });

  test('special tokens parse as single tokens', () => {
    for (const text of ['<think>', '</think>', '<|im_start|>', '<|im_end|>']) {
      assert.deepEqual(target.tokenize(text, true), [tokenIdOf(facts.vocabulary, text)], text);
    }

    const tokenTypes = target.fileInfo.metadata.tokenizer.ggml.token_type ?? [];
    assert.equal(tokenTypes[tokenIdOf(facts.vocabulary, '<|im_end|>')], TokenType.control);
    assert.equal(tokenTypes[tokenIdOf(facts.vocabulary, '</think>')], TokenType.userDefined);
  });

  test('chat template renders with and without thinking', async () => {
    assert.equal(target.fileInfo.metadata.tokenizer.chat_template, CHAT_TEMPLATE);

    const { Template } = await import('@huggingface/jinja');
    const template = new Template(CHAT_TEMPLATE);
    const messages = [{ role: 'user', content: 'Hi' }];
    const thinking = template.render({ messages, add_generation_prompt: true });
    assert.equal(thinking, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const noThinking = template.render({ messages, add_generation_prompt: true, enable_thinking: false });
    assert.equal(noThinking, `${thinking}<think>\n\n</think>\n\n`);
  });

  test('greedy run follows the chain with wide margins', async () => {
    const context = await target.createContext({ contextSize: 1024, threads: 1 });
    try {
      const prompt = target.tokenize(PROMPT, true);
      const generated: number[] = [];
      const margins: number[] = [];

      for await (const output of context.getSequence().evaluateWithMetadata(prompt, { probabilities: true }, { temperature: 0 })) {
        const [top1, top2] = [...output.probabilities.values()];
        margins.push(Math.log(top1! / top2!));
        generated.push(output.token);
        if (generated.length === GREEDY_TOKENS) {
          break;
        }
      }

      let previous: number = prompt.at(-1)!;
      generated.forEach((token, index) => {
        assert.equal(token, successorOf(facts.chain, previous), `token ${index} does not follow the chain`);
        previous = token;
      });

      const minMargin = Math.min(...margins);
      assert.ok(minMargin > MIN_LOGIT_MARGIN, `smallest top-1 minus top-2 logit gap is ${minMargin.toFixed(2)}`);

      const specials = new Set(specialTokenIds(facts.vocabulary));
      assert.ok(!generated.some((token) => specials.has(token)), 'greedy output contains a special token');

      const boundaries = new Set(facts.chain.boundaryIds);
      const boundaryIndexes = generated.flatMap((token, index) => (boundaries.has(token) ? [index] : []));
      const gaps = boundaryIndexes.map((index, i) => index - (i === 0 ? -1 : boundaryIndexes[i - 1]!));
      assert.ok(boundaryIndexes.length >= GREEDY_TOKENS / MAX_BOUNDARY_GAP, `boundaries at ${boundaryIndexes.join(', ')}`);
      assert.ok(Math.max(...gaps) <= MAX_BOUNDARY_GAP, `boundary gaps ${gaps.join(', ')}`);
      assert.ok(GREEDY_TOKENS - 1 - boundaryIndexes.at(-1)! <= MAX_BOUNDARY_GAP, 'no boundary near the end of the run');
    } finally {
      await context.dispose();
    }
  });

  test('draft loads as an eagle3 model for the target', async () => {
    // NOTE: node-llama-cpp 3.21.1 first simulates the load to estimate memory. For
    // this eagle3 file the simulation logs "wrong number of tensors; expected 14,
    // got 13" and falls back to a heuristic, but the real load succeeds.
    const draft = await llama.loadModel({ modelPath: paths.draft });
    try {
      const metadata = draft.fileInfo.metadata as unknown as Record<string, Record<string, unknown>>;
      assert.equal(metadata['general']?.['architecture'], 'eagle3');
      assert.deepEqual(metadata['eagle3']?.['target_layers'], [2, 4, 5]);
      assert.equal(metadata['eagle3']?.['target_hidden_size'], 64);
      assert.equal(metadata['eagle3']?.['block_count'], 1);
      assert.equal(draft.fileInfo.metadata.tokenizer.ggml.tokens.length, target.fileInfo.metadata.tokenizer.ggml.tokens.length);
    } finally {
      await draft.dispose();
    }
  });

  test('draft variants carry their defects', async () => {
    const { readGgufFileInfo } = await loadNodeLlamaCpp();
    const eagle3Of = async (file: string) => {
      const info = await readGgufFileInfo(file);
      const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
      return { info, eagle3: metadata['eagle3']!, tokenCount: info.metadata.tokenizer.ggml.tokens.length };
    };
    const targetTokenCount = target.fileInfo.metadata.tokenizer.ggml.tokens.length;

    const wrongHidden = await eagle3Of(paths.draftWrongHidden);
    assert.equal(wrongHidden.eagle3['target_hidden_size'], 48);
    const fc = wrongHidden.info.tensorInfo?.find((tensor) => tensor.name === 'fc.weight');
    assert.deepEqual(fc?.dimensions.map(Number), [3 * 48, 64]);

    const wrongVocab = await eagle3Of(paths.draftWrongVocab);
    assert.notEqual(wrongVocab.tokenCount, targetTokenCount);

    const badLayers = await eagle3Of(paths.draftBadLayers);
    assert.deepEqual(badLayers.eagle3['target_layers'], [2, 4, 40]);
  });

  test('sidecars read as expected', async () => {
    const sidecar = await readSignalSidecar(paths.signals);
    assert.equal(sidecar.hiddenSize, 64);
    assert.deepEqual(sidecar.targetLayers, [2, 4, 5]);
    assert.equal(sidecar.weight.length, 3 * 3 * 64);

    await assert.rejects(readSignalSidecar(paths.signalsWrongShape), (error: Error) => {
      assert.match(error.message, /signals-wrong-shape\.safetensors/);
      assert.match(error.message, /\[3, 100\]/);
      return true;
    });
  });
});

describe('gguf writer', () => {
  test('float16 conversion rounds and saturates', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [70000, 0x7c00],
      [2 ** -24, 0x0001],
      [1e-7, 0x0002],
      [2 ** -26, 0x0000],
      [-0, 0x8000],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) {
      assert.equal(float32ToFloat16Bits(value), bits, `float16 bits of ${value}`);
    }
    assert.equal(float32ToFloat16Bits(Number.NaN) & 0x7c00, 0x7c00);
    assert.notEqual(float32ToFloat16Bits(Number.NaN) & 0x3ff, 0);
  });

  test('every value and tensor type reads back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'specexit-gguf-'));
    try {
      const file = path.join(dir, 'types.gguf');
      await new GgufWriter('llama')
        .addUint32('test.uint32', 4_000_000_000)
        .addInt32('test.int32', -7)
        .addFloat32('test.float32', 0.5)
        .addBool('test.bool', true)
        .addString('test.string', 'héllo')
        .addStringArray('test.strings', ['a', 'ĊĊ'])
        .addInt32Array('test.int32s', [2, -4])
        .addFloat32Array('test.float32s', [0.25, -1])
        .addTensor('f32', 'f32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))
        .addTensor('f16', 'f16', [5], Float32Array.from([1, 2, 3, 4, 5]))
        .addTensor('i64', 'i64', [2], BigInt64Array.from([-1n, 2n ** 40n]))
        .write(file);

      const { readGgufFileInfo } = await loadNodeLlamaCpp();
      const info = await readGgufFileInfo(file, { readTensorInfo: true });
      const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
      assert.equal(metadata['general']?.['alignment'], 32);
      assert.deepEqual(metadata['test'], {
        uint32: 4_000_000_000,
        int32: -7,
        float32: 0.5,
        bool: true,
        string: 'héllo',
        strings: ['a', 'ĊĊ'],
        int32s: [2, -4],
        float32s: [0.25, -1],
      });

      const tensors = info.tensorInfo ?? [];
      assert.deepEqual(
        tensors.map((tensor) => [tensor.name, tensor.dimensions.map(Number), tensor.ggmlType]),
        [
          ['f32', [3, 2], 0],
          ['f16', [5], 1],
          ['i64', [2], 27],
        ],
      );
      for (const tensor of tensors) {
        assert.equal(Number(tensor.offset) % 32, 0, `${tensor.name} offset is aligned`);
      }
      const dataStart = info.infoEndOffset;
      assert.ok(dataStart !== undefined, 'tensor info was read');
      assert.equal(dataStart % 32, 0, `data section starts at ${dataStart}`);
      const bytes = await readFile(file);
      const f16Start = dataStart + Number(tensors[1]!.offset);
      assert.equal(bytes.readUInt16LE(f16Start + 8), 0x4500, 'fifth f16 value is 5');
      const i64Start = dataStart + Number(tensors[2]!.offset);
      assert.equal(bytes.readBigInt64LE(i64Start + 8), 2n ** 40n);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
