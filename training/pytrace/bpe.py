"""Byte-level BPE with Qwen2's pre-tokenizer, trained on the task corpus.

The encoder must split text exactly as llama.cpp does for `tokenizer.ggml.pre
= qwen2`, or the model trains on token sequences it never sees at inference;
test/model checks a sample against llama.cpp's own tokenizer.

Merges are restricted so that letters only merge onto a token that starts with
a space, and only into prefixes of words that appear in at least 1 % of the
training texts (" print", " the", " total"). String contents, random names and
the first word of a line then stay one letter per token, which is what lets a
tiny model copy and upper-case them. Digits never merge: the pre-tokenizer
splits them one by one.
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass

import regex

# The qwen2 pre-tokenizer expression of llama.cpp (src/llama-vocab.cpp).
PRE_TOKENIZER = regex.compile(
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# Control tokens (type 3) and Qwen3's user-defined thinking tags (type 4), in id order after the BPE tokens.
SPECIAL_TOKENS = [('<|endoftext|>', 3), ('<|im_start|>', 3), ('<|im_end|>', 3), ('<think>', 4), ('</think>', 4)]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters, which GGUF BPE vocabularies use."""
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


BYTE_TO_CHAR = _bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}
SPACE = BYTE_TO_CHAR[ord(' ')]


def pre_tokenize(text: str) -> list[str]:
    """Pre-tokens of text, each in the byte-to-unicode alphabet."""
    return [''.join(BYTE_TO_CHAR[b] for b in piece.encode('utf-8')) for piece in PRE_TOKENIZER.findall(text)]


def _has_letter(s: str) -> bool:
    return any(c.isalpha() and c.isascii() for c in s)


def _may_merge(left: str, right: str, word_prefixes: set[str]) -> bool:
    return not _has_letter(left + right) or (left.startswith(SPACE) and left + right in word_prefixes)


def _common_word_prefixes(texts: list[str], min_share: float) -> set[str]:
    """Prefixes of the space-led words found in at least min_share of texts."""
    seen: collections.Counter[str] = collections.Counter()
    for text in texts:
        seen.update({p for p in pre_tokenize(text) if p.startswith(SPACE) and _has_letter(p)})
    words = [w for w, n in seen.items() if n >= min_share * len(texts)]
    return {w[:i] for w in words for i in range(2, len(w) + 1)}


@dataclass
class Tokenizer:
    # Token strings in id order: 256 bytes, then merges, then the special tokens.
    tokens: list[str]
    merges: list[tuple[str, str]]

    def __post_init__(self) -> None:
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.cache: dict[str, list[int]] = {}
        self.special = {t: self.ids[t] for t, _ in SPECIAL_TOKENS}

    def _encode_piece(self, piece: str) -> list[int]:
        cached = self.cache.get(piece)
        if cached is not None:
            return cached
        parts = list(piece)
        while len(parts) > 1:
            best, best_rank = -1, len(self.ranks)
            for i in range(len(parts) - 1):
                rank = self.ranks.get((parts[i], parts[i + 1]))
                if rank is not None and rank < best_rank:
                    best, best_rank = i, rank
            if best < 0:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        ids = [self.ids[p] for p in parts]
        self.cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Encodes plain text to ids. Special-token strings in it are encoded as text."""
        return [i for piece in pre_tokenize(text) for i in self._encode_piece(piece)]

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        specials = {v: k for k, v in self.special.items()}
        for i in ids:
            if i in specials:
                out += specials[i].encode('utf-8')
            else:
                out += bytes(CHAR_TO_BYTE[c] for c in self.tokens[i])
        return out.decode('utf-8', errors='replace')

    def token_types(self) -> list[int]:
        types = {t: ty for t, ty in SPECIAL_TOKENS}
        return [types.get(t, 1) for t in self.tokens]

    def save(self, path: str) -> None:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump({'tokens': self.tokens, 'merges': [list(m) for m in self.merges]}, f, ensure_ascii=False)

    @staticmethod
    def load(path: str) -> 'Tokenizer':
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        return Tokenizer(data['tokens'], [tuple(m) for m in data['merges']])


def train(texts: list[str], vocab_size: int) -> Tokenizer:
    """Learns merges on texts until the vocabulary, special tokens included, has vocab_size tokens."""
    word_prefixes = _common_word_prefixes(texts, 0.01)
    words = collections.Counter(p for text in texts for p in pre_tokenize(text))
    splits = {w: list(w) for w in words}
    merges: list[tuple[str, str]] = []
    n_merges = vocab_size - 256 - len(SPECIAL_TOKENS)
    while len(merges) < n_merges:
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for w, parts in splits.items():
            for a, b in zip(parts, parts[1:]):
                if _may_merge(a, b, word_prefixes):
                    pairs[(a, b)] += words[w]
        if not pairs:
            break
        (a, b), count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if count < 2:
            break
        merges.append((a, b))
        for w, parts in splits.items():
            i = 0
            while i < len(parts) - 1:
                if parts[i] == a and parts[i + 1] == b:
                    parts[i:i + 2] = [a + b]
                i += 1
    tokens = [BYTE_TO_CHAR[b] for b in range(256)] + [a + b for a, b in merges] + [t for t, _ in SPECIAL_TOKENS]
    return Tokenizer(tokens, merges)
