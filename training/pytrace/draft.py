"""An EAGLE-3 draft in PyTorch, laid out as llama.cpp's `eagle3` graph computes it.

One decoder layer reads [norm(embedding of the next token), norm(g)], where g
is fc(three target layer inputs) on the first draft step and the layer's own
pre-norm output on later steps. RoPE is the plain (interleaved) kind, as
llama.cpp uses for eagle3, and there is no QK-norm. The token embedding is
the target's; the output head is the draft's own.

Training-time test: step k reproduces what drafting does at inference. The
query at anchor j (position j + k - 1) attends to the step-1 entries at
positions 0..j, which came from real target features, and to the entries the
earlier steps wrote at this anchor.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import RMSNorm


@dataclass
class DraftConfig:
    vocab_size: int
    target_dim: int
    dim: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    target_layers: tuple[int, int, int]
    rope_theta: float = 10000.0
    norm_eps: float = 1e-6

    def to_dict(self) -> dict:
        d = asdict(self)
        d['target_layers'] = list(self.target_layers)
        return d


def rope_interleaved(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotates pairs (2i, 2i + 1). x is [B, H, T, head_dim], positions [T] or [B, T]."""
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions.float()[..., None] * inv
    if ang.dim() == 2:
        ang = ang[None]
    cos, sin = ang.cos()[:, None], ang.sin()[:, None]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).flatten(-2)


class Draft(nn.Module):
    def __init__(self, c: DraftConfig):
        super().__init__()
        self.c = c
        self.fc = nn.Linear(3 * c.target_dim, c.dim, bias=False)
        self.attn_norm = RMSNorm(c.dim, c.norm_eps)
        self.hidden_norm = RMSNorm(c.dim, c.norm_eps)
        self.wq = nn.Linear(2 * c.dim, c.n_heads * c.head_dim, bias=False)
        self.wk = nn.Linear(2 * c.dim, c.n_kv_heads * c.head_dim, bias=False)
        self.wv = nn.Linear(2 * c.dim, c.n_kv_heads * c.head_dim, bias=False)
        self.wo = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=False)
        self.ffn_norm = RMSNorm(c.dim, c.norm_eps)
        self.gate = nn.Linear(c.dim, c.ffn_dim, bias=False)
        self.up = nn.Linear(c.dim, c.ffn_dim, bias=False)
        self.down = nn.Linear(c.ffn_dim, c.dim, bias=False)
        self.out_norm = RMSNorm(c.dim, c.norm_eps)
        self.head = nn.Linear(c.dim, c.vocab_size, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)

    def qkv(self, emb: torch.Tensor, g: torch.Tensor, positions: torch.Tensor):
        b, t, _ = emb.shape
        c = self.c
        x = torch.cat([self.attn_norm(emb), self.hidden_norm(g)], dim=-1)
        q = self.wq(x).view(b, t, c.n_heads, c.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, c.n_kv_heads, c.head_dim).transpose(1, 2)
        groups = c.n_heads // c.n_kv_heads
        q = rope_interleaved(q, positions, c.rope_theta)
        k = rope_interleaved(k, positions, c.rope_theta).repeat_interleave(groups, dim=1)
        return q, k, v.repeat_interleave(groups, dim=1)

    def finish(self, attn: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Applies the output projection, the residual on the raw g and the feed-forward block, giving the pre-norm state [B, T, dim]."""
        b, _, t, _ = attn.shape
        h = self.wo(attn.transpose(1, 2).reshape(b, t, -1)) + g
        return h + self.down(F.silu(self.gate(self.ffn_norm(h))) * self.up(self.ffn_norm(h)))

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.out_norm(h))

    def unrolled(self, embed: nn.Embedding, ids: torch.Tensor, features: torch.Tensor, steps: int) -> list[torch.Tensor]:
        """Pre-norm states of each draft step at every anchor j = 0..T-2.

        ids [B, T] are the real tokens; features [B, T, 3 * target_dim] the target
        layer inputs. Step k at anchor j reads token ids[j + k] (padded past the
        end) and predicts the token at j + k + 1.
        """
        b, t = ids.shape
        n = t - 1
        scale = 1.0 / math.sqrt(self.c.head_dim)
        pad = ids.new_zeros(b, steps)
        ids_ext = torch.cat([ids, pad], dim=1)
        anchors = torch.arange(n)
        g = self.fc(features[:, :n])
        q1, k1, v1 = self.qkv(embed(ids_ext[:, 1:n + 1]), g, anchors)
        causal = torch.ones(n, n, dtype=torch.bool).tril()
        if hasattr(F, 'scaled_dot_product_attention'):
            attn = F.scaled_dot_product_attention(q1, k1, v1, is_causal=True)
        else:
            s = (q1 @ k1.transpose(-1, -2)) * scale
            attn = s.masked_fill(~causal, float('-inf')).softmax(-1) @ v1
        h = self.finish(attn, g)
        states = [h]
        diag_k, diag_v = [], []
        for k in range(2, steps + 1):
            g = h
            q, kk, vv = self.qkv(embed(ids_ext[:, k:n + k]), g, anchors + (k - 1))
            diag_k.append(kk)
            diag_v.append(vv)
            s_main = ((q @ k1.transpose(-1, -2)) * scale).masked_fill(~causal, float('-inf'))
            s_diag = torch.stack([(q * dk).sum(-1) * scale for dk in diag_k], dim=-1)
            w = torch.cat([s_main, s_diag], dim=-1).softmax(-1)
            attn = w[..., :n] @ v1 + sum(w[..., n + i, None] * dv for i, dv in enumerate(diag_v))
            h = self.finish(attn, g)
            states.append(h)
        return states
