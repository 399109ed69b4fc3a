"""Generates the task corpus, trains the tokenizer and writes token arrays.

Usage: python3 training/build_data.py [--out training/out] [--seed 1] [--train 150000] [--heldout 1000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytrace.dataset import build  # noqa: E402
from pytrace import families  # noqa: E402
from pytrace.families import FAMILIES  # noqa: E402


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(here, 'out'), help='work folder for token arrays and the tokenizer')
    ap.add_argument('--data', default=os.path.join(here, 'data'), help='folder for heldout.jsonl and calibrate.jsonl')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--train', type=int, default=150000, help='training examples (default 150000)')
    ap.add_argument('--heldout', type=int, default=1000, help='held-out examples (default 1000)')
    ap.add_argument('--calibrate', type=int, default=2000, help='training prompts written for calibration (default 2000)')
    ap.add_argument('--vocab', type=int, default=1024, help='largest vocabulary size (default 1024)')
    ap.add_argument('--heldout-seed', type=int, help='random seed of the held-out programs (default SEED + 1000)')
    ap.add_argument('--tokenizer', help='encode with this tokenizer.json instead of training a new one')
    ap.add_argument('--weights', default='', help='family sampling weights for training examples, as NAME=W,NAME=W')
    ap.add_argument('--no-read-lists', action='store_true',
                    help="write updates traces without naming the values they read (the format of the shipped model's first corpus)")
    args = ap.parse_args()
    families.READ_LISTS = not args.no_read_lists
    weights = {}
    for item in filter(None, args.weights.split(',')):
        name, _, value = item.partition('=')
        if name not in FAMILIES or not value:
            ap.error(f'--weights: {item!r} is not NAME=WEIGHT with NAME one of {", ".join(FAMILIES)}')
        try:
            weights[name] = float(value)
        except ValueError:
            ap.error(f'--weights: {value!r} in {item!r} is not a number')
        if weights[name] < 0:
            ap.error(f'--weights: {item!r} has a negative weight. Use 0 or more.')
    t0 = time.time()
    build(args.out, args.data, args.seed, args.train, args.heldout, args.vocab, args.calibrate,
          log=lambda m: print(f'[{time.time() - t0:6.1f}s] {m}', flush=True), heldout_seed=args.heldout_seed,
          tokenizer=args.tokenizer, weights=weights)


if __name__ == '__main__':
    main()
