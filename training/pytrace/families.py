"""Snippet families. Each builds a program, its step-by-step trace and the text it prints.

A family computes the trace itself. tasks.py then checks the printed text
against a real Python run, so a wrong trace is caught and never trained on.
Values stay small: the model is tiny, and the goal is tracing, not arithmetic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from .expr import BinOp, Expr, Num, UnsafeExpression, Var, random_expr, reduction_chain, render

NAMES = ['x', 'y', 'z', 'a', 'b', 'n', 'm', 'k', 'total', 'count', 'result', 'val']
LETTERS = 'abcdefghijklmnopqrstuvwxyz'
# Whether updates traces name the values they read before substituting them.
# The shipped model's first corpus was built without it, and build_data.py
# --no-read-lists rebuilds that corpus.
READ_LISTS = True
COMPARISONS: dict[str, Callable[[int, int], bool]] = {'>': lambda a, b: a > b, '<': lambda a, b: a < b, '==': lambda a, b: a == b}


@dataclass
class Snippet:
    family: str
    code: str
    # Paragraphs of the main trace, the last one giving the printed value.
    steps: list[str]
    # The printed text, without the trailing newline.
    output: str
    # Re-verification paragraphs the overthinking part may use.
    rechecks: list[str] = field(default_factory=list)


def show(value: object) -> str:
    """Formats a value as Python's repr writes it: the trace names values the way the code does."""
    return repr(value)


def state(env: dict[str, object]) -> str:
    return 'Now ' + ', '.join(f'{k} = {show(v)}' for k, v in env.items()) + '.'


def printed(value: object) -> str:
    return value if isinstance(value, str) else show(value)


def pick_names(rng: random.Random, n: int) -> list[str]:
    return rng.sample(NAMES, n)


def read_list(e: Expr, env: dict[str, int]) -> str:
    """Returns 'It reads count = 6, z = 1': each variable e reads, in order of first use, at its value before the assignment."""
    names = list(dict.fromkeys(node.name for node in walk(e) if isinstance(node, Var)))
    return 'It reads ' + ', '.join(f'{name} = {show(env[name])}' for name in names) if names else ''


def print_step(expr_text: str, value: object) -> str:
    return f'print({expr_text}) prints {printed(value)}.'


def arithmetic(rng: random.Random) -> Snippet:
    """Builds one assignment from a mixed expression, or a print of the expression itself."""
    name = rng.choice(NAMES)
    leaves: list[Expr] = [Num(rng.randint(0, 12)) for _ in range(3)]
    e = random_expr(rng, leaves, rng.randint(1, 3), rng.choice(['+-*', '+-*/%', '+*%', '-*/']))
    chain, value = reduction_chain(e, {})
    if rng.random() < 0.5:
        code = f'{name} = {render(e)}\nprint({name})'
        steps = [f'{name} = {chain}. {state({name: value})}', print_step(name, value)]
    else:
        code = f'print({render(e)})'
        steps = [f'Evaluate {chain}.', print_step(render(e), value)]
    return Snippet('arithmetic', code, steps, printed(value), [f'Check the expression again: {chain}.'])


def updates(rng: random.Random) -> Snippet:
    """Builds a few assignments that read earlier variables, including augmented ones."""
    names = pick_names(rng, rng.randint(1, 3))
    env: dict[str, object] = {}
    lines, steps, rechecks = [], [], []
    for name in names:
        v = rng.randint(0, 12)
        env[name] = v
        lines.append(f'{name} = {v}')
        steps.append(f'{name} = {v}. {state(env)}')
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(names)
        ints = {k: v for k, v in env.items() if isinstance(v, int)}
        leaves: list[Expr] = [Var(k) for k in ints] + [Num(rng.randint(1, 9))]
        if rng.random() < 0.4:
            op = rng.choice(['+=', '-=', '*='])
            operand: Expr = rng.choice(leaves)
            e: Expr = BinOp(op[0], Var(target), operand)
            src = f'{target} {op} {render(operand)}'
        else:
            e = random_expr(rng, leaves, rng.randint(1, 2), rng.choice(['+-*', '+-*%']))
            src = f'{target} = {render(e)}'
        chain, value = reduction_chain(e, ints)  # type: ignore[arg-type]
        reads = read_list(e, ints) if READ_LISTS else ''
        env[target] = value
        lines.append(src)
        # Naming each value read before substituting splits a lookup of several
        # variables into single lookups, because lookups were the model's most common error.
        steps.append(f'{src}. {reads}, so {target} = {chain}. {state(env)}' if reads else
                     f'{src}, so {target} = {chain}. {state(env)}')
        rechecks.append(f'Recheck {src}: {target} = {chain}.')
    shown = rng.choice(names)
    lines.append(f'print({shown})')
    steps.append(print_step(shown, env[shown]))
    return Snippet('updates', '\n'.join(lines), steps, printed(env[shown]), rechecks)


def for_range(rng: random.Random) -> Snippet:
    """Builds an accumulator over range(a, b) or range(b)."""
    acc = rng.choice(['s', 'total', 'count', 'acc'])
    start = rng.choice([0, 0, 1, 2])
    stop = start + rng.randint(1, 5)
    header = f'for i in range({stop}):' if start == 0 and rng.random() < 0.5 else f'for i in range({start}, {stop}):'
    init = rng.choice([0, 0, 1])
    body_expr = rng.choice([Var('i'), BinOp('*', Var('i'), Num(2)), Num(rng.randint(1, 3)), BinOp('+', Var('i'), Num(1))])
    op = '*=' if init == 1 and rng.random() < 0.4 else '+='
    body = f'    {acc} {op} {render(body_expr)}'
    code = f'{acc} = {init}\n{header}\n{body}\nprint({acc})'
    values = list(range(start, stop))
    steps = [f'{acc} = {init}. {state({acc: init})}',
             f'range({start}, {stop}) gives i = {", ".join(map(str, values))}.']
    cur = init
    for i in values:
        e = BinOp(op[0], Var(acc), body_expr)
        chain, cur2 = reduction_chain(e, {acc: cur, 'i': i})
        steps.append(f'i = {i}: {acc} = {chain}. {state({acc: cur2, "i": i})}')
        cur = cur2
    steps.append(print_step(acc, cur))
    rechecks = [f'Count the loop: i takes {", ".join(map(str, values))}, that is {len(values)} times.',
                f'Recheck the last pass: i = {values[-1]}, and {acc} ends at {cur}.']
    return Snippet('for_range', code, steps, printed(cur), rechecks)


def while_loop(rng: random.Random) -> Snippet:
    """Builds a counter loop that shrinks or grows n until a comparison fails."""
    n0 = rng.randint(3, 20)
    if rng.random() < 0.5:
        d = rng.randint(2, 5)
        cond, update = (f'n > {rng.randint(0, 3)}', f'n = n - {d}')
    else:
        cond, update = (f'n < {n0 + rng.randint(4, 15)}', f'n = n + {rng.randint(2, 5)}')
    code_lines = [f'n = {n0}', 'c = 0', f'while {cond}:', f'    {update}', '    c += 1']
    shown = rng.choice(['n', 'c'])
    code_lines.append(f'print({shown})')
    env: dict[str, int] = {'n': n0, 'c': 0}
    steps = [f'n = {n0}, c = 0. {state(dict(env))}']
    cond_expr = cond.split(' ')
    update_expr: Expr = BinOp(update.split(' ')[3], Var('n'), Num(int(update.split(' ')[4])))
    for _ in range(8):
        left, op, right = env['n'], cond_expr[1], int(cond_expr[2])
        if not COMPARISONS[op](left, right):
            steps.append(f'Check {cond}: {left} {op} {right} is False, so the loop stops.')
            break
        chain, n1 = reduction_chain(update_expr, env)  # type: ignore[arg-type]
        env['n'], env['c'] = n1, env['c'] + 1
        steps.append(f'Check {cond}: {left} {op} {right} is True. n = {chain}, c = {env["c"]}. {state(dict(env))}')
    else:
        raise UnsafeExpression('loop too long')
    steps.append(print_step(shown, env[shown]))
    times = '1 time' if env['c'] == 1 else f'{env["c"]} times'
    rechecks = [f'The loop ran {times}, so c = {env["c"]} and n = {env["n"]}.']
    return Snippet('while', '\n'.join(code_lines), steps, printed(env[shown]), rechecks)


def if_else(rng: random.Random) -> Snippet:
    x = rng.randint(0, 15)
    b = rng.randint(0, 15)
    kind = rng.choice(['>', '<', '==', 'even'])
    cond = f'x % 2 == 0' if kind == 'even' else f'x {kind} {b}'
    y_then = rng.choice([BinOp('-', Var('x'), Num(b)), BinOp('*', Var('x'), Num(2)), BinOp('+', Var('x'), Num(b))])
    y_else = rng.choice([BinOp('-', Num(b), Var('x')), BinOp('+', Var('x'), Num(1)), Num(rng.randint(0, 9))])
    code = f'x = {x}\nif {cond}:\n    y = {render(y_then)}\nelse:\n    y = {render(y_else)}\nprint(y)'
    if kind == 'even':
        taken = x % 2 == 0
        check = f'x % 2 == 0: {x} % 2 = {x % 2}, and {x % 2} == 0 is {taken}.'
    else:
        taken = COMPARISONS[kind](x, b)
        check = f'{cond}: {x} {kind} {b} is {taken}.'
    branch = y_then if taken else y_else
    chain, y = reduction_chain(branch, {'x': x})
    steps = [f'x = {x}. {state({"x": x})}',
             f'Check {check} So the {"if" if taken else "else"} branch runs.',
             f'y = {chain}. {state({"x": x, "y": y})}',
             print_step('y', y)]
    rechecks = [f'Check the condition again: {check}', f'Recompute y: {chain}.']
    return Snippet('if_else', code, steps, printed(y), rechecks)


def lists(rng: random.Random) -> Snippet:
    a = [rng.randint(0, 9) for _ in range(rng.randint(2, 5))]
    name = rng.choice(['a', 'nums', 'xs', 'items'])
    lines = [f'{name} = {show(a)}']
    steps = [f'{name} = {show(a)}, with {len(a)} items. {state({name: list(a)})}']
    if rng.random() < 0.5:
        v = rng.randint(0, 9)
        a.append(v)
        lines.append(f'{name}.append({v})')
        steps.append(f'{name}.append({v}) adds {v} at the end. {state({name: list(a)})}')

    kind = rng.choice(['index', 'negindex', 'slice', 'len', 'sum', 'min', 'max'])
    rechecks = [f'The list is {show(a)}.']
    if kind == 'index':
        i = rng.randrange(len(a))
        expr, value = f'{name}[{i}]', a[i]
        steps.append(f'{expr}: index {i} of {show(a)}. ' + ' '.join(f'[{j}] is {a[j]}.' for j in range(i + 1)) + f' So {expr} = {value}.')
    elif kind == 'negindex':
        i = rng.randint(1, len(a))
        expr, value = f'{name}[-{i}]', a[-i]
        steps.append(f'{expr} counts from the end: [-1] is {a[-1]}' + ''.join(f', [-{j}] is {a[-j]}' for j in range(2, i + 1)) + f'. So {expr} = {value}.')
    elif kind == 'slice':
        i = rng.randrange(len(a))
        j = rng.randint(i, len(a))
        expr, value = f'{name}[{i}:{j}]', a[i:j]
        steps.append(f'{expr} takes indexes {i} to {j - 1}: {show(value)}.')
    elif kind == 'len':
        expr, value = f'len({name})', len(a)
        steps.append(f'len({name}): the items are {", ".join(map(str, a))}, that is {len(a)}.')
    elif kind == 'sum':
        expr, value = f'sum({name})', sum(a)
        running, parts = a[0], []
        for v in a[1:]:
            parts.append(f'{running} + {v} = {running + v}')
            running += v
        steps.append(f'sum({name}): ' + (', '.join(parts) if parts else f'just {a[0]}') + f'. So sum is {value}.')
    else:
        fn = min if kind == 'min' else max
        expr, value = f'{kind}({name})', fn(a)
        best, parts = a[0], [f'start with {a[0]}']
        for v in a[1:]:
            best = fn(best, v)
            parts.append(f'{v} gives {best}')
        steps.append(f'{expr}: ' + ', '.join(parts) + f'. So {expr} = {value}.')

    lines.append(f'print({expr})')
    steps.append(print_step(expr, value))
    rechecks.append(steps[-2].replace(f'{expr}', f'Again, {expr}', 1))
    return Snippet('lists', '\n'.join(lines), steps, printed(value), rechecks)


def rand_word(rng: random.Random, lo: int, hi: int) -> str:
    return ''.join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def strings(rng: random.Random) -> Snippet:
    s = rand_word(rng, 1, 4)
    lines = [f's = {show(s)}']
    steps = [f's = {show(s)}. {state({"s": s})}']
    if rng.random() < 0.6:
        u = rand_word(rng, 1, 3)
        t = s + u
        lines.append(f't = s + {show(u)}')
        steps.append(f't = s + {show(u)} = {show(s)} + {show(u)} = {show(t)}. {state({"s": s, "t": t})}')
        name = 't'
    else:
        t, name = s, 's'
    kind = rng.choice(['plain', 'upper', 'len', 'index', 'slice'])
    chars = ', '.join(f'[{i}] {c}' for i, c in enumerate(t))
    if kind == 'plain':
        expr, value = name, t
        steps.append(f'{name} is {show(t)}.')
    elif kind == 'upper':
        expr, value = f'{name}.upper()', t.upper()
        steps.append(f'{name}.upper() turns ' + ', '.join(f'{c} into {c.upper()}' for c in t) + f': {show(value)}.')
    elif kind == 'len':
        expr, value = f'len({name})', len(t)
        steps.append(f'len({name}): {show(t)} has letters {", ".join(t)}, that is {len(t)}.')
    elif kind == 'index':
        i = rng.randrange(len(t))
        expr, value = f'{name}[{i}]', t[i]
        steps.append(f'{expr}: {chars}. So {expr} = {show(value)}.')
    else:
        i = rng.randrange(len(t))
        j = rng.randint(i, len(t))
        expr, value = f'{name}[{i}:{j}]', t[i:j]
        steps.append(f'{expr}: {chars}. Indexes {i} to {j - 1} give {show(value)}.')
    lines.append(f'print({expr})')
    steps.append(print_step(expr, value))
    rechecks = [f'Spell it again: {chars}.', steps[-2]]
    return Snippet('strings', '\n'.join(lines), steps, printed(value), rechecks)


def functions(rng: random.Random) -> Snippet:
    fname = rng.choice(['f', 'g', 'double', 'step', 'calc'])
    param = rng.choice(['n', 'x', 'v'])
    body = random_expr(rng, [Var(param), Num(rng.randint(1, 9))], rng.randint(1, 2), rng.choice(['+-*', '+*%']))
    if not any(isinstance(node, Var) for node in walk(body)):
        body = BinOp('+', Var(param), body)
    args = [rng.randint(0, 9) for _ in range(rng.randint(1, 2))]
    code = f'def {fname}({param}):\n    return {render(body)}\n'
    steps = [f'{fname}({param}) returns {render(body)}.']
    values = []
    for arg in args:
        chain, v = reduction_chain(body, {param: arg})
        steps.append(f'{fname}({arg}): {param} = {arg}, so it returns {chain}.')
        values.append(v)
    if len(args) == 1:
        expr, value = f'{fname}({args[0]})', values[0]
    else:
        expr = f'{fname}({args[0]}) + {fname}({args[1]})'
        value = values[0] + values[1]
        steps.append(f'{expr} = {values[0]} + {values[1]} = {value}.')
    code += f'print({expr})'
    steps.append(print_step(expr, value))
    return Snippet('functions', code, steps, printed(value), [f'Call it again. {s}' for s in steps[1:-1]])


def walk(e: Expr):
    yield e
    if isinstance(e, BinOp):
        yield from walk(e.left)
        yield from walk(e.right)


def min_max(rng: random.Random) -> Snippet:
    a, b, c = (rng.randint(0, 20) for _ in range(3))
    form = rng.choice(['two', 'three', 'diff'])
    if form == 'two':
        fn = rng.choice(['min', 'max'])
        expr, value = f'{fn}(a, b)', (min if fn == 'min' else max)(a, b)
        code = f'a = {a}\nb = {b}\nprint({expr})'
        why = f'{fn}({a}, {b}): {"the smaller" if fn == "min" else "the larger"} of {a} and {b} is {value}.'
    elif form == 'three':
        fn = rng.choice(['min', 'max'])
        expr, value = f'{fn}(a, b, {c})', (min if fn == 'min' else max)(a, b, c)
        code = f'a = {a}\nb = {b}\nprint({expr})'
        why = f'{fn}({a}, {b}, {c}): compare {a} and {b}, then {c}. The {"smallest" if fn == "min" else "largest"} is {value}.'
    else:
        expr = 'max(a, b) - min(a, b)'
        value = max(a, b) - min(a, b)
        code = f'a = {a}\nb = {b}\nprint({expr})'
        why = f'max({a}, {b}) = {max(a, b)} and min({a}, {b}) = {min(a, b)}, so {max(a, b)} - {min(a, b)} = {value}.'
    steps = [f'a = {a}, b = {b}. {state({"a": a, "b": b})}', why, print_step(expr, value)]
    return Snippet('min_max', code, steps, printed(value), [f'Compare again. {why}'])


FAMILIES: dict[str, Callable[[random.Random], Snippet]] = {
    'arithmetic': arithmetic,
    'updates': updates,
    'for_range': for_range,
    'while': while_loop,
    'if_else': if_else,
    'lists': lists,
    'strings': strings,
    'functions': functions,
    'min_max': min_max,
}

# Sampling weights: the families the tiny model learns slowest get more examples.
WEIGHTS = {'arithmetic': 1.3, 'updates': 1.3, 'for_range': 1.0, 'while': 1.0, 'if_else': 1.0,
           'lists': 1.2, 'strings': 1.3, 'functions': 1.0, 'min_max': 0.8}


def random_snippet(rng: random.Random, weights: dict[str, float] | None = None) -> Snippet:
    """Draws a snippet from a weighted family. Unsafe draws (negative floor division, long loops) are redrawn."""
    names = list(FAMILIES)
    table = {**WEIGHTS, **(weights or {})}
    while True:
        family = rng.choices(names, weights=[table[n] for n in names])[0]
        try:
            return FAMILIES[family](rng)
        except UnsafeExpression:
            continue
