import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
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

test('updates read lists match execution', () => {
  // Runs each program up to the line a step traces, then compares the values
  // the step lists as read with the interpreter's values.
  const script = `
import json, re, sys
sys.path.insert(0, 'training')
from pytrace.tasks import generate
examples, _ = generate(13, 300, weights={'updates': 1000})
checked, wrong = 0, []
for ex in examples:
    lines = ex.code.split('\\n')
    pos = 0
    for i, line in enumerate(lines):
        # from the previous match on, since a program can repeat a line
        match = re.compile(re.escape(line) + r'\\. It reads (.*?), so ').search(ex.thinking, pos)
        if not match:
            continue
        pos = match.end()
        scope = {}
        exec('\\n'.join(lines[:i]), scope)
        claimed = dict(part.split(' = ') for part in match.group(1).split(', '))
        actual = {name: repr(scope[name]) for name in claimed}
        checked += 1
        if claimed != actual:
            wrong.append({'code': ex.code, 'line': line, 'claimed': claimed, 'actual': actual})
print(json.dumps({'updates': sum(e.family == 'updates' for e in examples), 'checked': checked, 'wrong': wrong[:3]}))
`;
  const result = JSON.parse(execFileSync(trainingPython(), ['-c', script], { encoding: 'utf8' })) as {
    updates: number;
    checked: number;
    wrong: unknown[];
  };
  // The weight 1000 is against about 10 for all other families. Unsafe draws are redrawn from any family, so a few others remain.
  assert.ok(result.updates > 280, `updates examples of 300: ${result.updates}`);
  assert.ok(result.checked > 200, `steps with reads checked: ${result.checked}`);
  assert.deepEqual(result.wrong, []);
});

test('build_data rejects bad weights', () => {
  const run = spawnSync(trainingPython(), ['training/build_data.py', '--weights', 'updates=4,loops=2', '--train', '1'], { encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /--weights: 'loops=2' is not NAME=WEIGHT with NAME one of arithmetic, updates/);
  const negative = spawnSync(trainingPython(), ['training/build_data.py', '--weights', 'updates=-1', '--train', '1'], { encoding: 'utf8' });
  assert.equal(negative.status, 2);
  assert.match(negative.stderr, /--weights: 'updates=-1' has a negative weight\. Use 0 or more\./);
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
