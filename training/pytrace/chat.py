"""The chat format: Qwen3's ChatML turns, with the thinking block opened by the prompt.

Token ids are built fragment by fragment, split at the special tokens, because
that is how llama.cpp tokenizes a rendered template with special tokens parsed.
"""
from __future__ import annotations

from .bpe import Tokenizer

# Stored as tokenizer.chat_template. The generation prompt opens <think> (as
# DeepSeek-R1 and Qwen3-Thinking templates do). enable_thinking=false writes an
# empty thinking block instead, as Qwen3's template does.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else %}"
    "{{- '<think>\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)

# What the engine forces when a thinking budget runs out (daemon/engine/options.ts BUDGET_WRAPUP).
BUDGET_WRAPUP = ('\n\nConsidering the limited time by the user, I have to give the solution based on the '
                 'thinking directly now.\n')


def prompt_ids(tok: Tokenizer, user: str, thinking: bool = True) -> list[int]:
    """Returns the rendered generation prompt, ending inside the opened thinking block."""
    s = tok.special
    ids = [s['<|im_start|>'], *tok.encode('user\n' + user), s['<|im_end|>'], *tok.encode('\n'),
           s['<|im_start|>'], *tok.encode('assistant\n')]
    if thinking:
        return ids + [s['<think>'], *tok.encode('\n')]
    return ids + [s['<think>'], *tok.encode('\n\n'), s['</think>'], *tok.encode('\n\n')]


def response_ids(tok: Tokenizer, thinking: str | None, answer: str) -> list[int]:
    """Returns what the model writes after the prompt: thinking, `</think>`, the answer and `<|im_end|>`.

    The thinking ends with a blank line, as it does when the engine forces
    `</think>` at a step boundary, so forced exits look like training data.
    """
    s = tok.special
    if thinking is None:
        return [*tok.encode(answer), s['<|im_end|>']]
    return [*tok.encode(thinking + '\n\n'), s['</think>'], *tok.encode('\n\n' + answer), s['<|im_end|>']]
