import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ChatTemplate, renderThinkingPrompt } from '../../daemon/calibrate/thinking-prompt.ts';
import { Engine } from '../../daemon/engine/index.ts';
import { runTrainingScript } from './python.ts';

// A micro training run, end to end: corpus, tokenizer, target, draft, GGUF
// export, then llama.cpp loads the files. Sizes are tiny so it takes seconds;
// the point is that every stage works and that llama.cpp computes what
// PyTorch computes.
const dir = mkdtempSync(join(tmpdir(), 'specexit-train-'));
let engine: Engine;

before(async () => {
  const out = ['--out', dir];
  runTrainingScript('build_data.py', [...out, '--data', join(dir, 'data'), '--train', '400', '--heldout', '20', '--calibrate', '5', '--vocab', '420']);
  runTrainingScript('train_target.py', [...out, '--steps', '30', '--warmup', '3', '--lr', '1e-2', '--dim', '48', '--layers', '4',
    '--heads', '2', '--kv-heads', '1', '--head-dim', '24', '--ffn', '96', '--batch-tokens', '2048', '--save-every', '1e9']);
  runTrainingScript('train_draft.py', [...out, '--steps', '4', '--batch-tokens', '2048']);
  runTrainingScript('export_gguf.py', [...out, '--models', join(dir, 'models'), '--type', 'f32']);
  engine = await Engine.load({ targetPath: join(dir, 'models', 'pytrace-target.gguf'), draftPath: join(dir, 'models', 'pytrace-draft.gguf') });
});

after(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('exported pair loads in llama.cpp', () => {
  assert.equal(engine.description.target.architecture, 'qwen3');
  assert.equal(engine.description.draft?.architecture, 'eagle3');
  assert.ok(statSync(join(dir, 'models', 'pytrace-target.gguf')).size > 10_000);
});

test('tokenization matches llama.cpp', () => {
  const texts = [
    "What does this Python code print?\n\n```python\nx = 7\ny = x % 3\nprint(y + 2)\n```",
    "s = 'nb'. Now s = 'nb'.\n\nt.upper() turns n into N: 'NBSR'.\n\n",
    'emoji 🙂🚀, 中文, café, tabs\t\tand   spaces\n\n\n',
    "it's 'sr' we'll  they've\r\n",
  ];
  const python = JSON.parse(runTrainingScript('encode.py', ['--out', dir], JSON.stringify(texts))) as number[][];
  texts.forEach((text, i) => {
    assert.deepEqual(Array.from(engine.tokenize(text, { parseSpecial: false })), python[i], `text ${i}: ${JSON.stringify(text)}`);
    assert.equal(engine.detokenize(python[i]!), text);
  });
});

test('greedy tokens match PyTorch', async () => {
  const rendered = renderThinkingPrompt(new ChatTemplate(engine), engine, "What does this code print?\n\n```python\nprint(3 + 4)\n```");
  const expected = JSON.parse(runTrainingScript('greedy.py', ['--out', dir, '--tokens', '12'], JSON.stringify(Array.from(rendered.tokens)))) as number[];
  for (const mode of ['vanilla', 'eagle3'] as const) {
    const tokens: number[] = [];
    for await (const event of engine.generate(rendered.tokens, { mode, maxTokens: 12, reportTokens: true, startInThinking: true })) {
      if (event.type === 'tokens') tokens.push(...event.tokens);
    }
    assert.deepEqual(tokens.slice(0, expected.length), expected, `mode ${mode}`);
  }
});

test('shipped GGUF seeds a new run', async () => {
  const seeded = mkdtempSync(join(tmpdir(), 'specexit-seed-'));
  try {
    cpSync(join(dir, 'tokenizer.json'), join(seeded, 'tokenizer.json'));
    for (const name of ['train_tokens.npy', 'train_offsets.npy', 'train_loss_start.npy']) cpSync(join(dir, name), join(seeded, name));
    // Zero steps: the checkpoint holds exactly the weights read from the GGUF.
    runTrainingScript('train_target.py', ['--out', seeded, '--init-gguf', join(dir, 'models', 'pytrace-target.gguf'), '--steps', '0']);
    const rendered = renderThinkingPrompt(new ChatTemplate(engine), engine, 'What does this print?\n\n```python\nprint(max(2, 9))\n```');
    const fromGguf = JSON.parse(runTrainingScript('greedy.py', ['--out', seeded, '--tokens', '8'], JSON.stringify(Array.from(rendered.tokens))));
    const original = JSON.parse(runTrainingScript('greedy.py', ['--out', dir, '--tokens', '8'], JSON.stringify(Array.from(rendered.tokens))));
    assert.deepEqual(fromGguf, original);
  } finally {
    rmSync(seeded, { recursive: true, force: true });
  }
});

test('second corpus and --init run', async () => {
  const second = mkdtempSync(join(tmpdir(), 'specexit-second-'));
  try {
    // The held-out seed defaults to the corpus seed plus 1000, and the first corpus used the default seed 1.
    runTrainingScript('build_data.py', ['--out', second, '--data', second, '--seed', '5', '--heldout-seed', '1001', '--train', '200',
      '--heldout', '20', '--calibrate', '0', '--tokenizer', join(dir, 'tokenizer.json'), '--weights', 'updates=4']);
    assert.equal(readFileSync(join(second, 'heldout.jsonl'), 'utf8'), readFileSync(join(dir, 'data', 'heldout.jsonl'), 'utf8'));
    assert.deepEqual(JSON.parse(readFileSync(join(second, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')));
    // Zero steps: the new run starts from exactly the first run's weights.
    runTrainingScript('train_target.py', ['--out', second, '--init', join(dir, 'target.pt'), '--steps', '0']);
    const rendered = renderThinkingPrompt(new ChatTemplate(engine), engine, 'What does this print?\n\n```python\nx = 4\nx += 2\nprint(x)\n```');
    const prompt = JSON.stringify(Array.from(rendered.tokens));
    assert.deepEqual(JSON.parse(runTrainingScript('greedy.py', ['--out', second, '--tokens', '8'], prompt)),
      JSON.parse(runTrainingScript('greedy.py', ['--out', dir, '--tokens', '8'], prompt)));
  } finally {
    rmSync(second, { recursive: true, force: true });
  }
});

test('--init rejects mismatch and conflicts', () => {
  const other = mkdtempSync(join(tmpdir(), 'specexit-other-'));
  try {
    runTrainingScript('build_data.py', ['--out', other, '--data', other, '--train', '200', '--heldout', '5', '--calibrate', '0', '--vocab', '300']);
    assert.throws(() => runTrainingScript('train_target.py', ['--out', other, '--init', join(dir, 'target.pt'), '--steps', '0']),
      /has a vocabulary of \d+ tokens, but .*tokenizer\.json has 300\. Build this corpus with --tokenizer/);
    assert.throws(() => runTrainingScript('train_target.py', ['--out', other, '--resume', '--init', join(dir, 'target.pt'), '--steps', '0']),
      /--resume and --init each choose the starting weights\. Pass only one of them\./);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
