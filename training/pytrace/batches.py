"""Length-bucketed batches of whole examples, padded at the end, with the loss on the response only."""
from __future__ import annotations

import numpy as np
import torch

IGNORE = -100


class Batches:
    def __init__(self, out_dir: str, tokens_per_batch: int, seed: int, pad_id: int, max_len: int):
        self.tokens = np.load(f'{out_dir}/train_tokens.npy').astype(np.int64)
        offsets = np.load(f'{out_dir}/train_offsets.npy')
        self.starts, self.ends = offsets[:-1], offsets[1:]
        self.loss_start = np.load(f'{out_dir}/train_loss_start.npy')
        keep = (self.ends - self.starts) <= max_len
        self.index = np.nonzero(keep)[0]
        self.tokens_per_batch = tokens_per_batch
        self.pad_id = pad_id
        self.rng = np.random.default_rng(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.index)

    def epoch_batches(self) -> list[np.ndarray]:
        """Returns one pass over the examples: shuffled, sorted by length within windows of 2048, cut to the token budget."""
        order = self.rng.permutation(self.index)
        lengths = self.ends - self.starts
        batches = []
        for w in range(0, len(order), 2048):
            window = order[w:w + 2048]
            window = window[np.argsort(lengths[window], kind='stable')]
            i = 0
            while i < len(window):
                n = 1
                while i + n < len(window) and (n + 1) * lengths[window[i + n]] <= self.tokens_per_batch:
                    n += 1
                batches.append(window[i:i + n])
                i += n
        self.rng.shuffle(batches)
        self.epoch += 1
        return batches

    def tensors(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ids [B, T], positions [B, T] and targets [B, T] (IGNORE outside the response)."""
        t = int(max(self.ends[i] - self.starts[i] for i in batch))
        ids = np.full((len(batch), t), self.pad_id, dtype=np.int64)
        targets = np.full((len(batch), t), IGNORE, dtype=np.int64)
        for row, i in enumerate(batch):
            s, e, ls = self.starts[i], self.ends[i], self.loss_start[i]
            n = e - s
            ids[row, :n] = self.tokens[s:e]
            # Position p predicts token p + 1, and the loss covers response tokens only.
            targets[row, ls - s - 1:n - 1] = self.tokens[ls:e]
        positions = np.broadcast_to(np.arange(t), (len(batch), t)).copy()
        return torch.from_numpy(ids), torch.from_numpy(positions), torch.from_numpy(targets)
