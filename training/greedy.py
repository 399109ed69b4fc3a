"""Greedy decoding with the PyTorch checkpoint, for checking the GGUF export against llama.cpp.

Usage: python3 training/greedy.py --out DIR --tokens N < prompt-ids.json
Reads a JSON list of prompt token ids on stdin; prints the JSON list of N generated ids.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from pytrace.model import Config, Transformer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', required=True, help='folder with target.pt')
    ap.add_argument('--tokens', type=int, default=16)
    args = ap.parse_args()
    ckpt = torch.load(os.path.join(args.out, 'target.pt'))
    model = Transformer(Config(**ckpt['config']))
    model.load_state_dict(ckpt['model'])
    model.eval()
    ids = json.load(sys.stdin)
    out = []
    with torch.no_grad():
        for _ in range(args.tokens):
            x = torch.tensor([ids + out])
            h, _ = model(x, torch.arange(x.shape[1])[None])
            out.append(int(model.logits(h[:, -1]).argmax(-1)))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
