"""Trains the EAGLE-3 draft on the frozen target's hidden states, with training-time test.

Usage: python3 training/train_draft.py [--steps 500] [--unroll 3] [--threads 1]

Reads OUT/target.pt and the token arrays; writes OUT/draft.pt. The labels are
the target's own next-token distributions (distillation), so the draft learns
what the target will accept, not the corpus text.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from pytrace.batches import IGNORE, Batches  # noqa: E402
from pytrace.bpe import Tokenizer  # noqa: E402
from pytrace.draft import Draft, DraftConfig  # noqa: E402
from pytrace.model import Config, Transformer  # noqa: E402


def default_target_layers(n_layers: int) -> tuple[int, int, int]:
    """Three distinct layer inputs spread over the target: [2, L/2, L-3] when that is distinct, else the top three."""
    ids = (2, n_layers // 2, n_layers - 3)
    if len(set(ids)) == 3 and min(ids) >= 1:
        return ids
    return (n_layers - 3, n_layers - 2, n_layers - 1) if n_layers >= 4 else (1, 1, 1)


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(here, 'out'))
    ap.add_argument('--steps', type=int, default=500)
    ap.add_argument('--unroll', type=int, default=3, help='training-time test steps (default 3)')
    ap.add_argument('--batch-tokens', type=int, default=4096)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--init', help='start from this draft.pt (for example one trained on an earlier target checkpoint)')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = Tokenizer.load(os.path.join(args.out, 'tokenizer.json'))
    ckpt = torch.load(os.path.join(args.out, 'target.pt'))
    tcfg = Config(**ckpt['config'])
    target = Transformer(tcfg)
    target.load_state_dict(ckpt['model'])
    target.eval()
    for p in target.parameters():
        p.requires_grad_(False)

    layers = default_target_layers(tcfg.n_layers)
    cfg = DraftConfig(tcfg.vocab_size, tcfg.dim, tcfg.dim, tcfg.n_heads, tcfg.n_kv_heads, tcfg.head_dim, tcfg.ffn_dim,
                      layers, tcfg.rope_theta, tcfg.norm_eps)
    draft = Draft(cfg)
    # start the output head from the target's tied head: step 1 then begins near the target's own prediction
    draft.head.weight.data.copy_(target.embed.weight.data)
    if args.init:
        draft.load_state_dict(torch.load(args.init)['model'])
    opt = torch.optim.AdamW(draft.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    data = Batches(args.out, args.batch_tokens, args.seed, tok.special['<|endoftext|>'], tcfg.max_seq)
    queue: list = []
    n_params = sum(p.numel() for p in draft.parameters())
    print(f'draft: {n_params} parameters, target layers {layers}, {args.steps} steps, unroll {args.unroll}', flush=True)
    t0 = time.time()
    agree = [0.0] * args.unroll
    counted = [0] * args.unroll
    for step in range(args.steps):
        if not queue:
            queue = data.epoch_batches()
        ids, positions, targets = data.tensors(queue.pop())
        with torch.no_grad():
            h, captured = target(ids, positions, capture=layers)
            t_logits = target.logits(h)
            features = torch.cat(captured, dim=-1)
        lr = args.lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for group in opt.param_groups:
            group['lr'] = lr
        states = draft.unrolled(target.embed, ids, features, args.unroll)
        n = ids.shape[1] - 1
        loss = torch.zeros(())
        for k, hk in enumerate(states, start=1):
            # step k at anchor j predicts what the target predicts at position j + k
            valid = n - k + 1
            if valid <= 0:
                continue
            logits = draft.logits(hk[:, :valid])
            teacher = t_logits[:, k:k + valid].softmax(-1)
            mask = (targets[:, k:k + valid] != IGNORE).float()
            ce = -(teacher * logits.log_softmax(-1)).sum(-1)
            loss = loss + (0.8 ** (k - 1)) * (ce * mask).sum() / mask.sum().clamp(min=1)
            with torch.no_grad():
                hit = (logits.argmax(-1) == t_logits[:, k:k + valid].argmax(-1)).float()
                agree[k - 1] += (hit * mask).sum().item()
                counted[k - 1] += mask.sum().item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(draft.parameters(), 1.0)
        opt.step()
        if (step + 1) % 25 == 0 or step + 1 == args.steps:
            rates = ' '.join(f'{100 * a / max(1, c):.1f}%' for a, c in zip(agree, counted))
            print(f'step {step + 1}/{args.steps} loss {loss.item():.4f} top-1 agreement per unroll step {rates} '
                  f'{(time.time() - t0) / 60:.1f} min', flush=True)
            agree = [0.0] * args.unroll
            counted = [0] * args.unroll
    torch.save({'config': cfg.to_dict(), 'model': draft.state_dict(), 'args': vars(args)},
               os.path.join(args.out, 'draft.pt'))
    print(f'saved {os.path.join(args.out, "draft.pt")}', flush=True)


if __name__ == '__main__':
    main()
