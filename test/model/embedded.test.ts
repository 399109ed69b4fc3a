import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { extractFinalAnswer } from '../../daemon/calibrate/answer.ts';
import { ChatTemplate, renderThinkingPrompt } from '../../daemon/calibrate/thinking-prompt.ts';
import { Engine } from '../../daemon/engine/index.ts';

// The shipped model against a fixed handful of held-out snippets, one per
// family, that it answered correctly when it was built (models/README.md has
// its accuracy over all 1000). Greedy decoding is deterministic, so a wrong
// answer here means the model files, the tokenizer or the engine changed.
const ROOT = join(__dirname, '..', '..');
const HANDFUL: readonly number[] = [0, 3, 5, 7, 9, 10, 18, 28, 33];

interface HeldOut {
  prompt: string;
  answer: string;
  family: string;
}

const heldout = readFileSync(join(ROOT, 'training', 'data', 'heldout.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as HeldOut);
let engine: Engine;

before(async () => {
  engine = await Engine.load({
    targetPath: join(ROOT, 'models', 'pytrace-target.gguf'),
    draftPath: join(ROOT, 'models', 'pytrace-draft.gguf'),
    signalsPath: join(ROOT, 'models', 'pytrace-signals.safetensors'),
  });
});

after(() => engine?.dispose());

for (const index of HANDFUL) {
  const item = heldout[index]!;
  test(`held-out ${index} (${item.family})`, async () => {
    const rendered = renderThinkingPrompt(new ChatTemplate(engine), engine, item.prompt);
    let thinking = '';
    let answer = '';
    for await (const event of engine.generate(rendered.tokens, { mode: 'eagle3', maxTokens: 1024, startInThinking: rendered.startInThinking })) {
      if (event.type === 'delta') {
        if (event.phase === 'thinking') thinking += event.text;
        else answer += event.text;
      }
    }
    assert.ok(thinking.length > 0, 'the model thinks first');
    assert.equal(extractFinalAnswer(answer), item.answer, `answer text: ${answer}`);
  });
}

test('merged paragraph ends are boundaries', () => {
  const boundaries = new Set(engine.description.boundaryTokens);
  for (const text of ['\n\n', '.\n\n', "'.\n\n", '].\n\n', ').\n\n', '?\n\n']) {
    const tokens = Array.from(engine.tokenize(text));
    assert.equal(tokens.length, 1, `${JSON.stringify(text)} is one token`);
    assert.ok(boundaries.has(tokens[0]!), `${JSON.stringify(text)} is a boundary`);
  }
  for (const text of ['\n', '.\n', ')\n']) {
    for (const token of engine.tokenize(text)) assert.ok(!boundaries.has(token), `${JSON.stringify(text)} is no boundary`);
  }
});
