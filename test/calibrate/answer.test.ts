import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { extractFinalAnswer, sameFinalAnswer } from '../../daemon/calibrate/answer.ts';
import { parsePromptLines } from '../../daemon/calibrate/prompts.ts';
import { splitPrompts } from '../../daemon/calibrate/split.ts';

describe('final answer extraction', () => {
  const cases: [string, string][] = [
    ['It prints `42`.', '42'],
    ['It prints `[1, 2]` and then `3`.', '[1, 2]'],
    ['  42 \n', '42'],
    ['Output:\n```python\nhello\nworld\n```', 'hello\nworld'],
    ['It raises ``ValueError``.', 'ValueError'],
    ['An empty span `` then text', 'An empty span `` then text'],
    ['', ''],
  ];
  for (const [text, expected] of cases) {
    test(`extracts from ${JSON.stringify(text)}`, () => {
      assert.equal(extractFinalAnswer(text), expected);
    });
  }

  test('same answer ignores wording', () => {
    assert.ok(sameFinalAnswer('It prints `42`.', '`42`'));
    assert.ok(!sameFinalAnswer('It prints `42`.', 'It prints `41`.'));
    assert.ok(!sameFinalAnswer('', ''));
  });
});

describe('prompt file', () => {
  test('reads prompts and optional answers', () => {
    const items = parsePromptLines('p.jsonl', '{"prompt": "a"}\n\n{"prompt": "b", "answer": "`1`"}\n');
    assert.equal(items.length, 2);
    assert.equal(items[1]!.index, 1);
    assert.equal(items[1]!.answer, '`1`');
    assert.equal(items[0]!.answer, undefined);
    assert.match(items[0]!.hash, /^[0-9a-f]{16}$/);
  });

  test('invalid lines name the line', () => {
    assert.throws(() => parsePromptLines('p.jsonl', '{"prompt": "a"}\n{"prompt": 3}\n'), /p\.jsonl:2: "prompt" must be a non-empty string/);
    assert.throws(() => parsePromptLines('p.jsonl', 'nope\n'), /p\.jsonl:1: the line is not valid JSON/);
    assert.throws(() => parsePromptLines('p.jsonl', '\n'), /has no prompts/);
  });
});

describe('prompt split', () => {
  test('is deterministic and disjoint', () => {
    const a = splitPrompts(40, 11, 0.15, 0.15);
    assert.deepEqual(splitPrompts(40, 11, 0.15, 0.15), a);
    assert.notDeepEqual(splitPrompts(40, 12, 0.15, 0.15), a);
    assert.equal(a.validation.length, 6);
    assert.equal(a.heldout.length, 6);
    const all = [...a.train, ...a.validation, ...a.heldout].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i));
  });

  test('small sets keep one prompt per split', () => {
    const split = splitPrompts(3, 0, 0.15, 0.15);
    assert.equal(split.train.length, 1);
    assert.equal(split.validation.length, 1);
    assert.equal(split.heldout.length, 1);
  });
});
