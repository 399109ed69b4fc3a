"""Encodes texts with the trained tokenizer, for checking it against llama.cpp's.

Usage: python3 training/encode.py --out DIR < texts.json
Reads a JSON list of strings on stdin; prints the JSON list of their token id lists.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytrace.bpe import Tokenizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', required=True, help='folder with tokenizer.json')
    args = ap.parse_args()
    tok = Tokenizer.load(os.path.join(args.out, 'tokenizer.json'))
    print(json.dumps([tok.encode(t) for t in json.load(sys.stdin)]))


if __name__ == '__main__':
    main()
