import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

import { trainingPython } from './python.ts';

interface Sample {
  family: string;
  code: string;
  output: string;
  thinking: string;
  answer: string;
  settled_chars: number;
}

// The generator writes its traces from its own simulation of each program;
// these tests run the programs in fresh interpreters and compare.
const SAMPLE_SCRIPT = `
import json, random, sys
sys.path.insert(0, 'training')
from pytrace.tasks import make_example
rng = random.Random(int(sys.argv[1]))
print(json.dumps([make_example(rng).__dict__ for _ in range(int(sys.argv[2]))]))
`;

function sample(seed: number, count: number): Sample[] {
  return JSON.parse(execFileSync(trainingPython(), ['-c', SAMPLE_SCRIPT, String(seed), String(count)], { encoding: 'utf8' })) as Sample[];
}

test('traces match real runs', () => {
  const examples = sample(7, 60);
  for (const ex of examples) {
    const printed = execFileSync(trainingPython(), ['-I', '-c', ex.code], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(printed, `${ex.output}\n`, `${ex.family} snippet:\n${ex.code}`);
    assert.ok(ex.thinking.includes(`So the output is ${ex.output}.`), 'the thinking states the output');
    assert.equal(ex.answer, `It prints \`${ex.output}\`.`);
  }
});

test('every family, no mismatches', () => {
  const script = `
import json, sys, collections
sys.path.insert(0, 'training')
from pytrace.tasks import generate
examples, rejected = generate(11, 3000)
after = 1 - sum(e.settled_chars for e in examples) / sum(len(e.thinking) for e in examples)
print(json.dumps({'rejected': rejected, 'families': collections.Counter(e.family for e in examples), 'after': after}))
`;
  const result = JSON.parse(execFileSync(trainingPython(), ['-c', script], { encoding: 'utf8' })) as {
    rejected: number;
    families: Record<string, number>;
    after: number;
  };
  assert.equal(result.rejected, 0, 'traces whose answer differs from the real run');
  for (const family of ['arithmetic', 'updates', 'for_range', 'while', 'if_else', 'lists', 'strings', 'functions', 'min_max']) {
    assert.ok((result.families[family] ?? 0) > 100, `family ${family} has ${result.families[family] ?? 0} examples`);
  }
  // Overthinking: about half of the thinking comes after the answer is settled.
  assert.ok(result.after > 0.4, `share after the settled answer ${result.after}`);
  assert.ok(result.after < 0.7, `share after the settled answer ${result.after}`);
});

test('tokenizer round-trips any UTF-8', () => {
  const texts = ['def f(x):\n    return x ** 2  # 平方\n', 'emoji 🙂🚀 and 中文字符, ÿ, \u0000, tabs\t\t', '<|im_end|></think> stays text'];
  const script = `
import json, sys
sys.path.insert(0, 'training')
from pytrace import bpe
from pytrace.tasks import generate
examples, _ = generate(3, 300)
tok = bpe.train([e.prompt + e.thinking for e in examples], 400)
texts = json.load(sys.stdin)
print(json.dumps([tok.decode(tok.encode(t)) for t in texts]))
`;
  const decoded = JSON.parse(execFileSync(trainingPython(), ['-c', script], { input: JSON.stringify(texts), encoding: 'utf8' })) as string[];
  assert.deepEqual(decoded, texts);
});
