"""Task examples (question, thinking with overthinking, answer), each checked against a real Python run."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import asdict, dataclass

from .families import Snippet, random_snippet

QUESTIONS = [
    'What does this Python code print?',
    'What does this code print?',
    'What is the output of this snippet?',
    'What will this Python snippet output?',
    'Trace this code. What gets printed?',
    'What does this print?',
]

OPENERS = ['Let me trace the code step by step.', 'I will go through the code line by line.', 'Trace it line by line.']

# How many re-verification rounds follow the settled answer, with their weights.
# About half of the thinking comes after the answer is settled on average.
ROUNDS = [0, 1, 2, 3, 4]
ROUND_WEIGHTS = [0.08, 0.20, 0.30, 0.24, 0.18]

HESITATIONS = ['Wait, let me double-check.', 'Hmm, let me make sure.', 'Wait.', 'Let me verify that again.',
               'Actually, let me recheck one step.', 'Hmm.']
CONFIRMATIONS = ['Yes, that is right.', 'That matches.', 'Same result.', 'Yes.', 'Still the same.']


@dataclass
class Example:
    family: str
    code: str
    question: str
    # The user message: the question, then the code in a fenced block.
    prompt: str
    thinking: str
    answer: str
    # The printed text, as a real run printed it (without the trailing newline).
    output: str
    # Characters of `thinking` up to and including the first conclusion.
    settled_chars: int


FILE_NAMES = ['main.py', 'demo.py', 'snippet.py', 'app.py', 'src/util.py', 'scripts/calc.py', 'test_math.py']

# Share of prompts laid out as the daemon lays out an editor selection
# (daemon/prompt/user-message.ts), so asking about a selection in VS Code
# looks like training data.
SELECTION_SHARE = 0.4


def user_message(rng: random.Random, question: str, code: str) -> str:
    if rng.random() >= SELECTION_SHARE:
        return f'{question}\n\n```python\n{code}\n```'
    n_lines = code.count('\n') + 1
    start = rng.randint(1, 40)
    span = f'line {start}' if n_lines == 1 else f'lines {start}-{start + n_lines - 1}'
    return f'{question}\n\nSelected code, {span} of `{rng.choice(FILE_NAMES)}`:\n```python\n{code}\n```'


def answer_text(output: str) -> str:
    return f'It prints `{output}`.'


def overthink(rng: random.Random, snippet: Snippet, value: str) -> list[str]:
    paragraphs: list[str] = []
    pool = snippet.rechecks + snippet.steps[:-1]
    for _ in range(rng.choices(ROUNDS, ROUND_WEIGHTS)[0]):
        kind = rng.random()
        if kind < 0.6 and pool:
            paragraphs.append(f'{rng.choice(HESITATIONS)} {rng.choice(pool)} {rng.choice(CONFIRMATIONS)}')
        elif kind < 0.8:
            paragraphs.append(f'Is it really {value}? {snippet.steps[-1]} {rng.choice(CONFIRMATIONS)}')
        else:
            paragraphs.append(f'{rng.choice(HESITATIONS)} Let me redo the last steps. ' + ' '.join(snippet.steps[-2:]))
    if paragraphs:
        paragraphs.append(f'I am confident the output is {value}.')
    return paragraphs


def make_example(rng: random.Random, weights: dict[str, float] | None = None) -> Example:
    snippet = random_snippet(rng, weights)
    question = rng.choice(QUESTIONS)
    conclusion = f'So the output is {snippet.output}.'
    main = [rng.choice(OPENERS), *snippet.steps, conclusion]
    settled = '\n\n'.join(main)
    extra = overthink(rng, snippet, snippet.output)
    thinking = '\n\n'.join(main + extra)
    return Example(snippet.family, snippet.code, question, user_message(rng, question, snippet.code), thinking,
                   answer_text(snippet.output), snippet.output, len(settled))


# Runs a batch of snippets in one child process, each under its own alarm, and
# prints one JSON line per snippet with what it printed or the error.
_RUNNER = r'''
import contextlib, io, json, signal, sys
def on_alarm(*_):
    raise TimeoutError("snippet ran over 1 s")
signal.signal(signal.SIGALRM, on_alarm)
for line in sys.stdin:
    code = json.loads(line)
    out = io.StringIO()
    try:
        signal.alarm(1)
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<snippet>", "exec"), {"__builtins__": __builtins__})
        signal.alarm(0)
        print(json.dumps({"ok": True, "out": out.getvalue()}), flush=True)
    except BaseException as error:
        signal.alarm(0)
        print(json.dumps({"ok": False, "out": repr(error)}), flush=True)
'''


def run_snippets(codes: list[str], timeout_s: float = 120.0) -> list[tuple[bool, str]]:
    """Runs each snippet in a Python subprocess with a timeout and returns whether it ran and what it printed."""
    stdin = ''.join(json.dumps(c) + '\n' for c in codes)
    proc = subprocess.run([sys.executable, '-I', '-c', _RUNNER], input=stdin, capture_output=True, text=True,
                          timeout=timeout_s, env={'PATH': os.environ.get('PATH', '')})
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    if len(rows) != len(codes):
        raise RuntimeError(f'snippet runner returned {len(rows)} results for {len(codes)} snippets: {proc.stderr[-500:]}')
    return [(r['ok'], r['out']) for r in rows]


def generate(seed: int, count: int, exclude: set[str] | None = None,
             weights: dict[str, float] | None = None) -> tuple[list[Example], int]:
    """Generates `count` verified examples from `seed`, skipping programs in `exclude`. Also returns the rejected count.

    `weights` overrides family sampling weights (families.WEIGHTS) by name.
    """
    rng = random.Random(seed)
    examples: list[Example] = []
    rejected = 0
    seen: set[str] = set()
    while len(examples) < count:
        batch = []
        while len(batch) < min(2000, count - len(examples)):
            ex = make_example(rng, weights)
            if exclude and ex.code in exclude:
                continue
            batch.append(ex)
        results = run_snippets([ex.code for ex in batch])
        for ex, (ok, out) in zip(batch, results):
            if ok and out == ex.output + '\n':
                examples.append(ex)
                seen.add(ex.code)
            else:
                rejected += 1
    return examples, rejected


def write_jsonl(path: str, examples: list[Example]) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        for ex in examples:
            f.write(json.dumps(asdict(ex)) + '\n')


def read_jsonl(path: str) -> list[Example]:
    with open(path, encoding='utf-8') as f:
        return [Example(**json.loads(line)) for line in f if line.strip()]
