"""Integer expressions as trees, rendered as Python and reduced one operation at a time.

The reduction order is Python's: operands left to right, so each reduction
rewrites the leftmost operation whose operands are both numbers. The trace
shows every intermediate form, "3 * 4 + 2 = 12 + 2 = 14", which is what the
model learns to write.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Union

# Binding strength of each operator, as in Python's grammar.
PRECEDENCE = {'+': 1, '-': 1, '*': 2, '//': 2, '%': 2}


@dataclass(frozen=True)
class Num:
    value: int


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class BinOp:
    op: str
    left: 'Expr'
    right: 'Expr'


Expr = Union[Num, Var, BinOp]


class UnsafeExpression(ValueError):
    """The expression divides by zero or floors a negative number, which the traces avoid."""


def apply(op: str, a: int, b: int) -> int:
    if op == '+':
        return a + b
    if op == '-':
        return a - b
    if op == '*':
        return a * b
    if b <= 0 or a < 0:
        raise UnsafeExpression(f'{a} {op} {b}')
    return a // b if op == '//' else a % b


def render(e: Expr, parent: int = 0, right_side: bool = False) -> str:
    """Renders e as Python source with only the parentheses Python needs."""
    if isinstance(e, Num):
        return str(e.value) if e.value >= 0 or parent == 0 else f'({e.value})'
    if isinstance(e, Var):
        return e.name
    p = PRECEDENCE[e.op]
    text = f'{render(e.left, p)} {e.op} {render(e.right, p, True)}'
    # Left-associative: a right operand of equal precedence needs parentheses.
    if p < parent or (p == parent and right_side):
        return f'({text})'
    return text


def substitute(e: Expr, env: dict[str, int]) -> Expr:
    if isinstance(e, Var):
        return Num(env[e.name])
    if isinstance(e, BinOp):
        return BinOp(e.op, substitute(e.left, env), substitute(e.right, env))
    return e


def has_vars(e: Expr) -> bool:
    if isinstance(e, Var):
        return True
    if isinstance(e, BinOp):
        return has_vars(e.left) or has_vars(e.right)
    return False


def reduce_once(e: Expr) -> tuple[Expr, str]:
    """Rewrites the leftmost operation on two numbers. Returns the new tree and, for // and %, a note."""
    assert isinstance(e, BinOp)
    if isinstance(e.left, BinOp):
        left, note = reduce_once(e.left)
        return BinOp(e.op, left, e.right), note
    if isinstance(e.right, BinOp):
        right, note = reduce_once(e.right)
        return BinOp(e.op, e.left, right), note
    assert isinstance(e.left, Num) and isinstance(e.right, Num)
    a, b = e.left.value, e.right.value
    value = apply(e.op, a, b)
    note = ''
    if e.op in ('//', '%'):
        q, r = a // b, a % b
        note = f'{a} = {b} * {q} + {r}'
    return Num(value), note


def evaluate(e: Expr, env: dict[str, int]) -> int:
    e = substitute(e, env)
    while isinstance(e, BinOp):
        e, _ = reduce_once(e)
    assert isinstance(e, Num)
    return e.value


def reduction_chain(e: Expr, env: dict[str, int]) -> tuple[str, int]:
    """'x * 4 + 2 = 3 * 4 + 2 = 12 + 2 = 14', with the // and % facts after it, and the value."""
    parts = [render(e)]
    notes: list[str] = []
    if has_vars(e):
        e = substitute(e, env)
        parts.append(render(e))
    while isinstance(e, BinOp):
        e, note = reduce_once(e)
        parts.append(render(e))
        if note:
            notes.append(note)
    assert isinstance(e, Num)
    text = ' = '.join(parts)
    if notes:
        text += ' (' + ', '.join(notes) + ')'
    return text, e.value


def random_expr(rng: random.Random, leaves: list[Expr], n_ops: int, ops: str = '+-*') -> Expr:
    """Builds a random tree over the given leaves with n_ops operators drawn from ops ('/' means //)."""
    op_choices = ['//' if c == '/' else c for c in ops]
    e: Expr = rng.choice(leaves)
    for _ in range(n_ops):
        other = rng.choice(leaves)
        op = rng.choice(op_choices)
        if op in ('//', '%'):
            other = Num(rng.randint(2, 6))
        if rng.random() < 0.5 or op in ('//', '%'):
            e = BinOp(op, e, other)
        else:
            e = BinOp(op, other, e)
    return e
