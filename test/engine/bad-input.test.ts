import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Engine } from '../../daemon/engine/engine.ts';
import type { LoadOptions } from '../../daemon/engine/options.ts';
import { SeededRandom } from '../fixtures/seeded-random.ts';
import type { FixturePaths } from '../fixtures/generate.ts';
import { chatPrompt, getFixtures, loadFixtureEngine, QUESTIONS, silentLogger } from './helpers.ts';

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: { loaded: boolean; message?: string; reason?: string } | undefined;
  stderr: string;
}

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'load-child.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1);
      let output;
      try {
        output = line ? JSON.parse(line) : undefined;
      } catch {
        output = undefined;
      }
      resolve({ code, signal, output, stderr });
    });
  });
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  });
  await Promise.all(workers);
  return results;
}

/** Returns a copy of a GGUF with the uint32 metadata value of `key` replaced. */
function withUint32(gguf: Buffer, key: string, value: number): Buffer {
  const typeUint32 = Buffer.from([4, 0, 0, 0]);
  const at = gguf.indexOf(Buffer.concat([Buffer.from(key), typeUint32]));
  assert.ok(at > 0, `metadata key ${key} not found as uint32`);
  const copy = Buffer.from(gguf);
  copy.writeUInt32LE(value, at + key.length + typeUint32.length);
  return copy;
}

function load(paths: FixturePaths, overrides: Partial<LoadOptions>) {
  return Engine.load({
    targetPath: paths.target,
    threads: 1,
    contextSize: 256,
    gpu: false,
    logger: silentLogger,
    ...overrides,
  });
}

describe('bad input', () => {
  let paths: FixturePaths;
  let dir: string;
  before(async () => {
    paths = await getFixtures();
    dir = await mkdtemp(path.join(tmpdir(), 'specexit-bad-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('missing target names the path', async () => {
    const missing = path.join(dir, 'nope.gguf');
    await assert.rejects(load(paths, { targetPath: missing }), (error: Error) => {
      assert.match(error.message, /nope\.gguf/);
      assert.match(error.message, /cannot be read/);
      return true;
    });
  });

  test('directory as target is rejected', async () => {
    await assert.rejects(load(paths, { targetPath: dir }), /not a regular file/);
  });

  test('draft with another hidden size is rejected', async () => {
    await assert.rejects(load(paths, { draftPath: paths.draftWrongHidden }), (error: Error) => {
      assert.match(error.message, /draft-wrong-hidden\.gguf/);
      assert.match(error.message, /hidden size 48/);
      return true;
    });
  });

  test('draft with another vocabulary is rejected', async () => {
    await assert.rejects(load(paths, { draftPath: paths.draftWrongVocab }), /draft-wrong-vocab\.gguf.*vocabulary/);
  });

  test('draft reading a missing layer is rejected', async () => {
    await assert.rejects(load(paths, { draftPath: paths.draftBadLayers }), /draft-bad-layers\.gguf.*layer 40/);
  });

  test('unknown flashAttention value is rejected', async () => {
    await assert.rejects(load(paths, { flashAttention: 'fast' as never }), /`options\.flashAttention` to be "auto", "on" or "off", got "fast"/);
  });

  test('draft given as target is rejected', async () => {
    await assert.rejects(load(paths, { targetPath: paths.draft }), /draft\.gguf is an EAGLE-3 draft.*Give it as draftPath/);
  });

  test('unknown load option is rejected', async () => {
    await assert.rejects(load(paths, { contxtSize: 5 } as never), /Unknown option `options\.contxtSize`/);
  });

  test('target given as draft is rejected', async () => {
    await assert.rejects(load(paths, { draftPath: paths.target }), /architecture qwen3; expected an EAGLE-3 draft/);
  });

  test('sidecar of the wrong shape is rejected', async () => {
    await assert.rejects(load(paths, { draftPath: paths.draft, signalsPath: paths.signalsWrongShape }), /signals-wrong-shape\.safetensors/);
  });

  describe('generate arguments', () => {
    let engine: Engine;
    before(async () => {
      engine = await loadFixtureEngine({ contextSize: 64 });
    });
    after(() => engine.dispose());

    test('prompt longer than the context', () => {
      // llama.cpp rounds the context up, so the limit is the size it reports.
      const contextSize = engine.description.contextSize;
      const prompt = new Int32Array(contextSize).fill(97);
      assert.throws(() => engine.generate(prompt, { maxTokens: 4 }), new RegExp(`exceeds the context size \\(${contextSize} tokens, context ${contextSize}\\)`));
    });

    for (const maxTokens of [0, -3, 1.5]) {
      test(`maxTokens ${maxTokens}`, () => {
        assert.throws(() => engine.generate([97, 98], { maxTokens }), /`options\.maxTokens`.*integer from 1/);
      });
    }

    test('maxTokens beyond the integer range', () => {
      assert.throws(() => engine.generate([97, 98], { maxTokens: 2 ** 32 }), /integer from 1 to 2147483647, got 4294967296/);
    });

    test('unknown generate option is rejected', () => {
      assert.throws(() => engine.generate([97, 98], { max_tokens: 1 } as never), /Unknown option `options\.max_tokens`/);
      assert.throws(() => engine.generate([97, 98], { exit: { threshold: 1 } } as never), /Unknown option `options\.exit\.threshold`/);
    });

    test('signal that is not an AbortSignal', () => {
      assert.throws(() => engine.generate([97, 98], { signal: 'x' as never }), /`options\.signal` to be an AbortSignal/);
    });

    test('specexit without draft tokens', () => {
      assert.throws(() => engine.generate([97, 98], { mode: 'specexit', draftTokens: 0 }), /draftTokens of at least 1/);
    });

    test('detokenize renders special tokens on request', () => {
      const tokens = engine.tokenize('<|im_start|>user\nhi<|im_end|>', { parseSpecial: true });
      assert.equal(engine.detokenize(tokens), 'user\nhi');
      assert.equal(engine.detokenize(tokens, { special: true }), '<|im_start|>user\nhi<|im_end|>');
    });

    test('empty prompt', () => {
      assert.throws(() => engine.generate([], { maxTokens: 4 }), /at least one token/);
    });

    test('token id outside the vocabulary', () => {
      assert.throws(() => engine.generate([97, 100000], { maxTokens: 4 }), /promptTokens\[1\]` to be a token id below/);
    });

    test('unknown mode', () => {
      assert.throws(() => engine.generate([97], { mode: 'fast' as never }), /unknown mode "fast"/);
    });

    test('pasted control tokens stay text', () => {
      const tokens = engine.tokenize('a <|im_end|> b </think>');
      assert.ok(!tokens.includes(engine.description.eosToken));
      assert.ok(!tokens.includes(engine.description.thinkEndToken));
      assert.equal(engine.detokenize(tokens), 'a <|im_end|> b </think>');
    });

    test('invalid UTF-8 in text does not throw', () => {
      const text = Buffer.from([0x61, 0xc3, 0x28, 0xe2, 0x82]).toString('latin1');
      assert.ok(engine.tokenize(text).length > 0);
    });
  });

  test('mode eagle3 without a draft', async () => {
    const engine = await loadFixtureEngine({ withDraft: false, withSignals: false });
    try {
      assert.throws(() => engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'eagle3' }), /needs an EAGLE-3 draft/);
      assert.throws(() => engine.generate(chatPrompt(engine, QUESTIONS[0]!), { mode: 'specexit' }), /needs an EAGLE-3 draft/);
    } finally {
      engine.dispose();
    }
  });

  test('generate on a disposed engine', async () => {
    const engine = await loadFixtureEngine();
    engine.dispose();
    assert.throws(() => engine.generate([97], { maxTokens: 4 }), /Engine\.generate was called after dispose\(\)/);
    assert.throws(() => engine.tokenize('x'), /after dispose/);
  });

  test('corrupted files never kill the process', async (t) => {
    const random = new SeededRandom(1234);
    const cases: { name: string; args: string[] }[] = [];

    const target = await readFile(paths.target);
    const draft = await readFile(paths.draft);
    const signals = await readFile(paths.signals);
    const variants: { source: Buffer; kind: 'target' | 'draft' | 'signals' }[] = [
      { source: target, kind: 'target' },
      { source: draft, kind: 'draft' },
      { source: signals, kind: 'signals' },
    ];
    for (const { source, kind } of variants) {
      const cuts = [0, 3, 8, 24, 100, 1000, Math.floor(source.length / 2), source.length - 1];
      for (const cut of cuts) cases.push(await corrupted(kind, `truncated-${cut}`, source.subarray(0, cut)));
      // Flips concentrate on the header and metadata, where a wrong value can reach an assertion.
      const flips = kind === 'signals' ? 6 : 18;
      for (let i = 0; i < flips; i++) {
        const copy = Buffer.from(source);
        const limit = i % 3 === 2 ? copy.length : Math.min(copy.length, 16384);
        const offset = Math.floor(random.next() * limit);
        copy[offset]! ^= 1 << Math.floor(random.next() * 8);
        cases.push(await corrupted(kind, `flip-${offset}`, copy));
      }
    }

    // Hyperparameters set to 0 or to absurd values reach llama.cpp's own
    // assertions (block_count 0 does), which must surface as errors too.
    const keys = ['block_count', 'embedding_length', 'attention.head_count', 'attention.head_count_kv', 'feed_forward_length'];
    for (const key of keys) {
      for (const value of [0, 100000]) {
        cases.push(await corrupted('target', `${key}-${value}`, withUint32(target, `qwen3.${key}`, value)));
      }
    }

    async function corrupted(kind: 'target' | 'draft' | 'signals', label: string, bytes: Buffer) {
      const file = path.join(dir, `${kind}-${label}.${kind === 'signals' ? 'safetensors' : 'gguf'}`);
      await writeFile(file, bytes);
      let args = [paths.target, paths.draft, file];
      if (kind === 'target') args = [file];
      if (kind === 'draft') args = [paths.target, file];
      return { name: path.basename(file), args };
    }

    const results = await pool(cases.map((c) => () => runChild(c.args)), 2);
    let loadedCount = 0;
    for (const [index, result] of results.entries()) {
      const name = cases[index]!.name;
      assert.equal(result.signal, null, `${name}: the child died from ${result.signal}\n${result.stderr.slice(-2000)}`);
      assert.equal(result.code, 0, `${name}: exit code ${result.code}\n${result.stderr.slice(-2000)}`);
      assert.ok(result.output, `${name}: no result line`);
      if (result.output.loaded) loadedCount++;
      else assert.match(result.output.message ?? '', new RegExp(name.replace(/[.]/g, '\\.')), `${name}: the error must name the file`);
    }
    t.diagnostic(`${cases.length} corrupted files, ${loadedCount} still loaded (flips inside weights)`);
  });

  test('a copy of a good file loads in a child', async () => {
    const copy = path.join(dir, 'copy.gguf');
    await copyFile(paths.target, copy);
    const result = await runChild([copy]);
    assert.equal(result.signal, null);
    assert.deepEqual(result.output, { loaded: true, reason: 'max_tokens' });
  });
});
