"""Trains the Qwen3-architecture target on the task corpus built by build_data.py.

Usage: python3 training/train_target.py [--steps 3600] [--threads 1] [--resume]

Checkpoints go to OUT/target.pt every --save-every seconds and at the end, with
the optimizer state, so a stopped run continues with --resume.
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
from pytrace.model import Config, Transformer  # noqa: E402


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(here, 'out'))
    ap.add_argument('--steps', type=int, default=3600, help='optimizer steps (default 3600)')
    ap.add_argument('--batch-tokens', type=int, default=4096, help='tokens per batch, padding included (default 4096)')
    ap.add_argument('--lr', type=float, default=2e-3, help='peak learning rate (default 2e-3)')
    ap.add_argument('--warmup', type=int, default=150)
    ap.add_argument('--dim', type=int, default=192)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=6)
    ap.add_argument('--kv-heads', type=int, default=2)
    ap.add_argument('--head-dim', type=int, default=32)
    ap.add_argument('--ffn', type=int, default=512)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--save-every', type=float, default=300, help='seconds between checkpoints (default 300)')
    ap.add_argument('--stop-after', type=int, default=0, help='stop at this step and save, keeping the schedule of --steps')
    ap.add_argument('--resume', action='store_true', help='continue from OUT/target.pt')
    ap.add_argument('--init', help='start from the weights of this target.pt with a fresh optimizer and schedule')
    ap.add_argument('--init-gguf', help='start from the weights of this target GGUF (a shipped model) with a fresh schedule')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok = Tokenizer.load(os.path.join(args.out, 'tokenizer.json'))
    ckpt_path = os.path.join(args.out, 'target.pt')
    starts = [flag for flag, given in (('--resume', args.resume), ('--init', args.init), ('--init-gguf', args.init_gguf)) if given]
    if len(starts) > 1:
        # Each one sets the starting weights, so a second one would silently win over the first.
        ap.error(f'{" and ".join(starts)} each choose the starting weights. Pass only one of them.')
    if args.resume:
        ckpt = torch.load(ckpt_path)
        cfg = Config(**ckpt['config'])
    elif args.init:
        init = torch.load(args.init)
        cfg = Config(**init['config'])
        if cfg.vocab_size != len(tok.tokens):
            ap.error(f'--init {args.init} has a vocabulary of {cfg.vocab_size} tokens, but {args.out}/tokenizer.json has '
                     f'{len(tok.tokens)}. Build this corpus with --tokenizer set to the tokenizer the checkpoint was trained with.')
    else:
        cfg = Config(len(tok.tokens), args.dim, args.layers, args.heads, args.kv_heads, args.head_dim, args.ffn)
    if args.init_gguf:
        from pytrace.from_gguf import load_target
        model = load_target(args.init_gguf)
        cfg = model.c
    else:
        model = Transformer(cfg)
        if args.init:
            model.load_state_dict(init['model'])
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    step = 0
    if args.resume:
        model.load_state_dict(ckpt['model'])
        opt.load_state_dict(ckpt['optimizer'])
        step = ckpt['step']
    data = Batches(args.out, args.batch_tokens, args.seed, tok.special['<|endoftext|>'], cfg.max_seq)
    # replay the batch order up to the resumed step, so a resumed run trains on the same batches
    queue = data.epoch_batches()
    for _ in range(step):
        if not queue:
            queue = data.epoch_batches()
        queue.pop()

    def save() -> None:
        torch.save({'config': cfg.to_dict(), 'model': model.state_dict(), 'optimizer': opt.state_dict(),
                    'step': step, 'args': vars(args)}, ckpt_path + '.tmp')
        os.replace(ckpt_path + '.tmp', ckpt_path)

    print(f'target: {n_params} parameters, {len(data)} examples, {args.steps} steps, step {step} now', flush=True)
    stop = args.stop_after or args.steps
    t0 = last_save = time.time()
    seen_tokens, loss_sum, loss_n = 0, 0.0, 0
    while step < stop:
        if not queue:
            queue = data.epoch_batches()
        ids, positions, targets = data.tensors(queue.pop())
        for group in opt.param_groups:
            group['lr'] = lr_at(step, args.steps, args.lr, args.warmup)
        h, _ = model(ids, positions)
        loss = F.cross_entropy(model.logits(h).view(-1, cfg.vocab_size), targets.view(-1), ignore_index=IGNORE)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen_tokens += ids.numel()
        loss_sum += loss.item()
        loss_n += 1
        if step % 25 == 0 or step == stop:
            dt = time.time() - t0
            print(f'step {step}/{args.steps} loss {loss_sum / loss_n:.4f} lr {opt.param_groups[0]["lr"]:.2e} '
                  f'{seen_tokens / dt:.0f} tok/s {dt / 60:.1f} min epoch {data.epoch}', flush=True)
            loss_sum, loss_n = 0.0, 0
        if time.time() - last_save > args.save_every:
            save()
            last_save = time.time()
    save()
    print(f'saved {ckpt_path} at step {step}', flush=True)


if __name__ == '__main__':
    main()
