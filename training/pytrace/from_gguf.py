"""Reads a target GGUF written by export_gguf.py back into a PyTorch model, to continue training it.

The shipped model then serves as the starting point of a longer run; the
optimizer state is not in the GGUF, so the run starts a fresh schedule.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'native', 'llama.cpp', 'gguf-py'))
import gguf  # noqa: E402

from .model import Config, Transformer  # noqa: E402

# GGUF tensor name suffix of each block parameter, as export_gguf.py writes them.
BLOCK_TENSORS = {
    'attn_norm.weight': 'attn_norm.weight', 'attn_q.weight': 'attn.wq.weight', 'attn_k.weight': 'attn.wk.weight',
    'attn_v.weight': 'attn.wv.weight', 'attn_output.weight': 'attn.wo.weight', 'attn_q_norm.weight': 'attn.q_norm.weight',
    'attn_k_norm.weight': 'attn.k_norm.weight', 'ffn_norm.weight': 'ffn_norm.weight', 'ffn_gate.weight': 'ffn.gate.weight',
    'ffn_up.weight': 'ffn.up.weight', 'ffn_down.weight': 'ffn.down.weight',
}


def _field(reader: 'gguf.GGUFReader', key: str):
    field = reader.fields.get(key)
    if field is None:
        raise ValueError(f'{key} missing: not a qwen3 GGUF written by export_gguf.py')
    return field.contents()


def load_target(path: str) -> Transformer:
    reader = gguf.GGUFReader(path)
    arch = _field(reader, 'general.architecture')
    if arch != 'qwen3':
        raise ValueError(f'{path} has architecture {arch!r}, expected qwen3')
    c = Config(
        vocab_size=len(_field(reader, 'tokenizer.ggml.tokens')),
        dim=int(_field(reader, 'qwen3.embedding_length')),
        n_layers=int(_field(reader, 'qwen3.block_count')),
        n_heads=int(_field(reader, 'qwen3.attention.head_count')),
        n_kv_heads=int(_field(reader, 'qwen3.attention.head_count_kv')),
        head_dim=int(_field(reader, 'qwen3.attention.key_length')),
        ffn_dim=int(_field(reader, 'qwen3.feed_forward_length')),
        rope_theta=float(_field(reader, 'qwen3.rope.freq_base')),
        norm_eps=float(_field(reader, 'qwen3.attention.layer_norm_rms_epsilon')),
    )
    tensors = {t.name: t for t in reader.tensors}
    state: dict[str, torch.Tensor] = {}

    def take(name: str) -> torch.Tensor:
        t = tensors[name]
        shape = tuple(int(n) for n in reversed(t.shape.tolist()))
        return torch.from_numpy(np.array(t.data, dtype=np.float32).reshape(shape))

    state['embed.weight'] = take('token_embd.weight')
    for i in range(c.n_layers):
        for gguf_name, torch_name in BLOCK_TENSORS.items():
            state[f'blocks.{i}.{torch_name}'] = take(f'blk.{i}.{gguf_name}')
    state['norm.weight'] = take('output_norm.weight')
    model = Transformer(c)
    model.load_state_dict(state)
    return model
