"""Writes the trained target (architecture qwen3) and draft (eagle3) as GGUF files llama.cpp loads.

Usage: python3 training/export_gguf.py [--out training/out] [--models models] [--type f16]

Uses the gguf package from the llama.cpp source that node-llama-cpp bundles
(native/llama.cpp/gguf-py, cloned by `npm ci`).
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'native', 'llama.cpp', 'gguf-py'))
import numpy as np  # noqa: E402
import torch  # noqa: E402

try:
    import gguf  # noqa: E402
except ImportError as error:
    raise SystemExit(f'cannot import gguf from native/llama.cpp/gguf-py ({error}); run `npm ci` first, which clones it') from error

from pytrace.bpe import Tokenizer  # noqa: E402
from pytrace.chat import CHAT_TEMPLATE  # noqa: E402
from pytrace.draft import DraftConfig  # noqa: E402
from pytrace.model import Config  # noqa: E402

CONTEXT_LENGTH = 4096


def matrix(t: torch.Tensor, dtype: str) -> np.ndarray:
    a = t.detach().float().numpy()
    return a.astype(np.float16 if dtype == 'f16' else np.float32)


def vector(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().numpy().astype(np.float32)


def add_hparams(w: 'gguf.GGUFWriter', name: str, c: 'Config | DraftConfig', n_blocks: int, dtype: str) -> None:
    """The keys both architectures share: sizes, attention shape, RoPE base, norm epsilon and file type."""
    w.add_name(name)
    w.add_context_length(CONTEXT_LENGTH)
    w.add_embedding_length(c.dim)
    w.add_block_count(n_blocks)
    w.add_feed_forward_length(c.ffn_dim)
    w.add_head_count(c.n_heads)
    w.add_head_count_kv(c.n_kv_heads)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_rope_freq_base(c.rope_theta)
    w.add_layer_norm_rms_eps(c.norm_eps)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == 'f16' else gguf.LlamaFileType.ALL_F32)


def add_tokenizer(w: 'gguf.GGUFWriter', tok: Tokenizer, with_template: bool) -> None:
    w.add_tokenizer_model('gpt2')
    w.add_tokenizer_pre('qwen2')
    w.add_token_list(tok.tokens)
    w.add_token_types(tok.token_types())
    w.add_token_merges([f'{a} {b}' for a, b in tok.merges])
    w.add_bos_token_id(tok.special['<|endoftext|>'])
    w.add_eos_token_id(tok.special['<|im_end|>'])
    w.add_pad_token_id(tok.special['<|endoftext|>'])
    w.add_add_bos_token(False)
    if with_template:
        w.add_chat_template(CHAT_TEMPLATE)


def export_target(path: str, ckpt: dict, tok: Tokenizer, dtype: str, name: str) -> None:
    c = Config(**ckpt['config'])
    sd = ckpt['model']
    w = gguf.GGUFWriter(path, 'qwen3')
    add_hparams(w, name, c, c.n_layers, dtype)
    add_tokenizer(w, tok, with_template=True)
    # the output head is tied to token_embd: llama.cpp reuses it when output.weight is absent
    w.add_tensor('token_embd.weight', matrix(sd['embed.weight'], dtype))
    for i in range(c.n_layers):
        p = f'blocks.{i}.'
        b = f'blk.{i}.'
        w.add_tensor(b + 'attn_norm.weight', vector(sd[p + 'attn_norm.weight']))
        w.add_tensor(b + 'attn_q.weight', matrix(sd[p + 'attn.wq.weight'], dtype))
        w.add_tensor(b + 'attn_k.weight', matrix(sd[p + 'attn.wk.weight'], dtype))
        w.add_tensor(b + 'attn_v.weight', matrix(sd[p + 'attn.wv.weight'], dtype))
        w.add_tensor(b + 'attn_output.weight', matrix(sd[p + 'attn.wo.weight'], dtype))
        w.add_tensor(b + 'attn_q_norm.weight', vector(sd[p + 'attn.q_norm.weight']))
        w.add_tensor(b + 'attn_k_norm.weight', vector(sd[p + 'attn.k_norm.weight']))
        w.add_tensor(b + 'ffn_norm.weight', vector(sd[p + 'ffn_norm.weight']))
        w.add_tensor(b + 'ffn_gate.weight', matrix(sd[p + 'ffn.gate.weight'], dtype))
        w.add_tensor(b + 'ffn_up.weight', matrix(sd[p + 'ffn.up.weight'], dtype))
        w.add_tensor(b + 'ffn_down.weight', matrix(sd[p + 'ffn.down.weight'], dtype))
    w.add_tensor('output_norm.weight', vector(sd['norm.weight']))
    write(w)


def export_draft(path: str, ckpt: dict, tok: Tokenizer, dtype: str, name: str) -> None:
    c = DraftConfig(**ckpt['config'])
    sd = ckpt['model']
    w = gguf.GGUFWriter(path, 'eagle3')
    add_hparams(w, name, c, 1, dtype)
    w.add_array('eagle3.target_layers', [int(i) for i in c.target_layers])
    w.add_uint32('eagle3.target_hidden_size', c.target_dim)
    w.add_bool('eagle3.norm_before_residual', False)
    add_tokenizer(w, tok, with_template=False)
    # no token_embd: llama.cpp's eagle3 graph then reads the target's
    w.add_tensor('fc.weight', matrix(sd['fc.weight'], dtype))
    w.add_tensor('blk.0.attn_norm.weight', vector(sd['attn_norm.weight']))
    w.add_tensor('blk.0.attn_norm_2.weight', vector(sd['hidden_norm.weight']))
    w.add_tensor('blk.0.attn_q.weight', matrix(sd['wq.weight'], dtype))
    w.add_tensor('blk.0.attn_k.weight', matrix(sd['wk.weight'], dtype))
    w.add_tensor('blk.0.attn_v.weight', matrix(sd['wv.weight'], dtype))
    w.add_tensor('blk.0.attn_output.weight', matrix(sd['wo.weight'], dtype))
    w.add_tensor('blk.0.ffn_norm.weight', vector(sd['ffn_norm.weight']))
    w.add_tensor('blk.0.ffn_gate.weight', matrix(sd['gate.weight'], dtype))
    w.add_tensor('blk.0.ffn_up.weight', matrix(sd['up.weight'], dtype))
    w.add_tensor('blk.0.ffn_down.weight', matrix(sd['down.weight'], dtype))
    w.add_tensor('output_norm.weight', vector(sd['out_norm.weight']))
    w.add_tensor('output.weight', matrix(sd['head.weight'], dtype))
    write(w)


def write(w: 'gguf.GGUFWriter') -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(HERE, 'out'), help='folder with tokenizer.json, target.pt and draft.pt')
    ap.add_argument('--models', default=os.path.join(HERE, '..', 'models'), help='where the GGUF files go')
    ap.add_argument('--prefix', default='pytrace', help='file name prefix (default pytrace)')
    ap.add_argument('--type', choices=['f16', 'f32'], default='f16', help='matrix type (default f16)')
    args = ap.parse_args()
    tok = Tokenizer.load(os.path.join(args.out, 'tokenizer.json'))
    os.makedirs(args.models, exist_ok=True)
    target_path = os.path.join(args.models, f'{args.prefix}-target.gguf')
    export_target(target_path, torch.load(os.path.join(args.out, 'target.pt')), tok, args.type, f'{args.prefix}-target')
    print(f'wrote {target_path}')
    draft_pt = os.path.join(args.out, 'draft.pt')
    if os.path.exists(draft_pt):
        draft_path = os.path.join(args.models, f'{args.prefix}-draft.gguf')
        export_draft(draft_path, torch.load(draft_pt), tok, args.type, f'{args.prefix}-draft')
        print(f'wrote {draft_path}')


if __name__ == '__main__':
    main()
