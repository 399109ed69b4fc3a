"""Builds the training set: verified examples, the tokenizer, and token arrays with a loss mask."""
from __future__ import annotations

import json
import os
import random

import numpy as np

from . import bpe
from .chat import BUDGET_WRAPUP, prompt_ids, response_ids
from .tasks import Example, generate, write_jsonl

# Shares of training examples in the two other response shapes the engine can produce.
NO_THINKING_SHARE = 0.03
BUDGET_CUT_SHARE = 0.04


def heldout_record(ex: Example) -> dict:
    """Returns a prompt-file line as bench and calibrate read it: the user message and the reference answer."""
    return {'prompt': ex.prompt, 'answer': ex.output, 'family': ex.family}


def encode_example(tok: bpe.Tokenizer, ex: Example, rng: random.Random) -> tuple[list[int], int]:
    """Returns the token ids of one conversation and the index where the loss starts (the first response token)."""
    r = rng.random()
    if r < NO_THINKING_SHARE:
        prompt = prompt_ids(tok, ex.prompt, thinking=False)
        response = response_ids(tok, None, ex.answer)
    else:
        thinking = ex.thinking
        if r < NO_THINKING_SHARE + BUDGET_CUT_SHARE:
            paragraphs = thinking.split('\n\n')
            thinking = '\n\n'.join(paragraphs[:rng.randint(1, len(paragraphs))]) + BUDGET_WRAPUP.rstrip('\n')
        prompt = prompt_ids(tok, ex.prompt)
        response = response_ids(tok, thinking, ex.answer)
    return prompt + response, len(prompt)


def build(out_dir: str, data_dir: str, seed: int, n_train: int, n_heldout: int, vocab_size: int,
          n_calibrate: int, log=print, heldout_seed: int | None = None, tokenizer: str | None = None,
          weights: dict[str, float] | None = None) -> None:
    """Writes the corpus to out_dir and the prompt files to data_dir.

    heldout_seed defaults to seed + 1000. A second corpus for the same model
    passes the first one's held-out seed, so it excludes the same programs, and
    its tokenizer, so the token ids keep their meaning. weights overrides
    family sampling weights for the training examples only.
    """
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(data_dir, exist_ok=True)

    # held-out programs come from their own seed and are never trained on
    heldout, rejected = generate(seed + 1000 if heldout_seed is None else heldout_seed, n_heldout)
    exclude = {ex.code for ex in heldout}
    log(f'held-out: {len(heldout)} examples ({rejected} rejected by execution)')
    train, rejected = generate(seed, n_train, exclude, weights)
    log(f'train: {len(train)} examples ({rejected} rejected by execution)')
    assert not exclude & {ex.code for ex in train}

    with open(os.path.join(data_dir, 'heldout.jsonl'), 'w', encoding='utf-8') as f:
        for ex in heldout:
            f.write(json.dumps(heldout_record(ex)) + '\n')
    # calibration prompts come from the training programs, never from the held-out set
    with open(os.path.join(data_dir, 'calibrate.jsonl'), 'w', encoding='utf-8') as f:
        for ex in train[:n_calibrate]:
            f.write(json.dumps(heldout_record(ex)) + '\n')
    write_jsonl(os.path.join(out_dir, 'heldout-full.jsonl'), heldout)

    # tokenizer from a sample of the training texts
    if tokenizer:
        tok = bpe.Tokenizer.load(tokenizer)
        log(f'tokenizer: {len(tok.tokens)} tokens, from {tokenizer}')
    else:
        sample = [f'{ex.prompt}\n{ex.thinking}\n{ex.answer}' for ex in train[:6000]]
        tok = bpe.train(sample, vocab_size)
        log(f'tokenizer: {len(tok.tokens)} tokens')
    tok.save(os.path.join(out_dir, 'tokenizer.json'))

    # token arrays: all examples end to end, with per-example offsets and loss starts
    rng = random.Random(seed)
    tokens: list[int] = []
    offsets = [0]
    loss_start = []
    for ex in train:
        ids, start = encode_example(tok, ex, rng)
        loss_start.append(len(tokens) + start)
        tokens.extend(ids)
        offsets.append(len(tokens))
    np.save(os.path.join(out_dir, 'train_tokens.npy'), np.array(tokens, dtype=np.uint16))
    np.save(os.path.join(out_dir, 'train_offsets.npy'), np.array(offsets, dtype=np.int64))
    np.save(os.path.join(out_dir, 'train_loss_start.npy'), np.array(loss_start, dtype=np.int64))
    settled = sum(ex.settled_chars for ex in train) / sum(len(ex.thinking) for ex in train)
    log(f'train tokens: {len(tokens)} ({len(tokens) / len(train):.0f} per example); '
        f'thinking after the settled answer: {100 * (1 - settled):.0f} % of characters')
