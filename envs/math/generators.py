"""Procedural math tasks by difficulty tier, each with its exact answer and a worked solution.

Every generator draws one small batch of random integers from the numpy ``Generator`` (one
call, so a task costs tens of microseconds and millions are cheap) and returns a
:class:`lfmgym.Task` whose ``meta`` holds:

``kind``
    the generator's name (``add``, ``word``, ``linear``, ...).
``solution``
    the worked solution: short ``expression=value`` lines a tiny model can learn to write.
``calc``
    the calculator expression(s) that give the answer, for the calculator variant's
    demonstration (one call for the whole problem keeps demonstrations short).
``allow_percent``
    whether ``15%`` counts as ``15`` when scoring.

The tiers grow in size of numbers and in number of steps; ``calibrate`` measures how hard
each one actually is for a model.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from math import gcd

import numpy as np

from lfmgym.env import Task

__all__ = ["TIER_NAMES", "GENERATORS", "generate"]

class _Draws:
    """Integers in ``[lo, hi]`` from one draw of ``k`` raw 64-bit words (the modulo bias is
    below 1e-17). ``random_raw`` costs about 1 µs where ``rng.integers(size=k)`` costs ten."""

    __slots__ = ("raw", "i")

    def __init__(self, rng: np.random.Generator, k: int = 8):
        self.raw = rng.bit_generator.random_raw(k).tolist()
        self.i = 0

    def __call__(self, lo: int, hi: int) -> int:
        r = self.raw[self.i]
        self.i += 1
        return lo + r % (hi - lo + 1)

    def choice(self, seq):
        return seq[self(0, len(seq) - 1)]


def _task(tier: int, kind: str, key: str, prompt: str, answer, solution: str, calc: str, allow_percent: bool = False) -> Task:
    return Task(
        id=f"math-{tier}-{key}",
        prompt=prompt,
        answer=str(answer),
        difficulty=tier,
        meta={"kind": kind, "solution": solution, "calc": [calc], "allow_percent": allow_percent, "source": "generated"},
    )


def _binary_task(tier: int, a: int, op: str, b: int) -> Task:
    value = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b
    expr = f"{a}{op}{b}"
    return _task(tier, {"+": "add", "-": "sub", "*": "mul", "/": "div"}[op], expr, f"What is {expr}?", value, f"{expr}={value}", expr)


# --------------------------------------------------------------------------- integer arithmetic


def one_digit_addition(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 2)
    return _binary_task(tier, d(1, 9), "+", d(1, 9))


def two_digit_add_sub(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 3)
    a, b = d(10, 99), d(10, 99)
    if d(0, 1):
        return _binary_task(tier, a, "+", b)
    return _binary_task(tier, max(a, b), "-", min(a, b))


def three_digit_addition(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 2)
    return _binary_task(tier, d(100, 999), "+", d(100, 999))


def sub_and_small_mul(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 3)
    if d(0, 1):
        a, b = d(100, 999), d(100, 999)
        return _binary_task(tier, max(a, b), "-", min(a, b))
    return _binary_task(tier, d(10, 99), "*", d(2, 9))


def mul_and_division(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 3)
    if d(0, 1):
        return _binary_task(tier, d(10, 99), "*", d(10, 99))
    divisor, quotient = d(2, 12), d(10, 99)
    return _binary_task(tier, divisor * quotient, "/", divisor)


def two_step_expression(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 4)
    form = d(0, 4)
    if form == 0:  # (a+b)*c
        a, b, c = d(10, 99), d(10, 99), d(2, 9)
        x = a + b
        expr, steps, value = f"({a}+{b})*{c}", [f"{a}+{b}={x}", f"{x}*{c}={x * c}"], x * c
    elif form == 1:  # (a-b)*c
        a, b, c = d(10, 99), d(10, 99), d(2, 9)
        a, b = max(a, b), min(a, b)
        x = a - b
        expr, steps, value = f"({a}-{b})*{c}", [f"{a}-{b}={x}", f"{x}*{c}={x * c}"], x * c
    elif form == 2:  # a*b+c
        a, b, c = d(10, 99), d(2, 9), d(10, 99)
        x = a * b
        expr, steps, value = f"{a}*{b}+{c}", [f"{a}*{b}={x}", f"{x}+{c}={x + c}"], x + c
    elif form == 3:  # a*b-c, never negative
        a, b = d(10, 99), d(2, 9)
        x = a * b
        c = d(10, min(99, x))
        expr, steps, value = f"{a}*{b}-{c}", [f"{a}*{b}={x}", f"{x}-{c}={x - c}"], x - c
    else:  # a+b*c
        a, b, c = d(10, 99), d(10, 99), d(2, 9)
        x = b * c
        expr, steps, value = f"{a}+{b}*{c}", [f"{b}*{c}={x}", f"{a}+{x}={a + x}"], a + x
    return _task(tier, "expression", expr, f"What is {expr}?", value, "\n".join(steps), expr)


def big_arithmetic(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 3)
    op = d(0, 2)
    if op == 0:
        return _binary_task(tier, d(1000, 99999), "+", d(1000, 99999))
    if op == 1:
        a, b = d(1000, 99999), d(1000, 99999)
        return _binary_task(tier, max(a, b), "-", min(a, b))
    return _binary_task(tier, d(100, 9999), "*", d(10, 999))


# --------------------------------------------------------------------------- word problems

_NAMES = ("Ana", "Ben", "Mia", "Leo", "Sam", "Zoe", "Tom", "Eva", "Max", "Lily", "Omar", "Nina")
_ITEMS = ("apples", "marbles", "stickers", "pencils", "cookies", "cards", "shells", "beads")


def _word_packs(d: _Draws, n: str, item: str):
    a, b, c = d(2, 40), d(2, 9), d(2, 12)
    x = b * c
    return (f"{n} has {a} {item}. {n} buys {b} packs of {c} {item}. How many {item} does {n} have now?",
            f"{a}+{b}*{c}", [f"{b}*{c}={x}", f"{a}+{x}={a + x}"], a + x)


def _word_change(d: _Draws, n: str, item: str):
    a, b = d(2, 9), d(2, 15)
    cost = a * b
    paid = (cost // 10 + 1 + d(0, 4)) * 10
    return (f"{n} buys {a} books for ${b} each and pays with ${paid}. How much change does {n} get?",
            f"{paid}-{a}*{b}", [f"{a}*{b}={cost}", f"{paid}-{cost}={paid - cost}"], paid - cost)


def _word_boxes(d: _Draws, n: str, item: str):
    a, b = d(4, 24), d(2, 9)
    x = a * b
    c = d(1, x - 1)
    return (f"A box holds {a} {item}. {n} fills {b} boxes and gives away {c} {item}. How many {item} are left?",
            f"{a}*{b}-{c}", [f"{a}*{b}={x}", f"{x}-{c}={x - c}"], x - c)


def _word_pages(d: _Draws, n: str, item: str):
    a, b, c = d(5, 40), d(2, 9), d(3, 60)
    x = a * b
    return (f"{n} reads {a} pages a day for {b} days, then {c} more pages. How many pages did {n} read?",
            f"{a}*{b}+{c}", [f"{a}*{b}={x}", f"{x}+{c}={x + c}"], x + c)


def _word_share(d: _Draws, n: str, item: str):
    b, k, c = d(2, 9), d(2, 15), d(1, 20)
    a = b * k
    return (f"{n} shares {a} {item} equally among {b} friends. Each friend then gets {c} more. "
            f"How many {item} does each friend have?",
            f"{a}/{b}+{c}", [f"{a}/{b}={k}", f"{k}+{c}={k + c}"], k + c)


def _word_spend(d: _Draws, n: str, item: str):
    b, c = d(2, 20), d(2, 9)
    x = b * c
    a = x + d(1, 100)
    return (f"{n} has ${a} and buys {c} games for ${b} each. How much money is left?",
            f"{a}-{b}*{c}", [f"{b}*{c}={x}", f"{a}-{x}={a - x}"], a - x)


def _word_chairs(d: _Draws, n: str, item: str):
    a, b = d(3, 20), d(4, 25)
    x = a * b
    c = d(1, x - 1)
    return (f"A hall has {a} rows of {b} chairs. {c} chairs are taken. How many chairs are free?",
            f"{a}*{b}-{c}", [f"{a}*{b}={x}", f"{x}-{c}={x - c}"], x - c)


def _word_wage(d: _Draws, n: str, item: str):
    a, b, c = d(8, 30), d(2, 9), d(2, 9)
    x = b + c
    return (f"{n} earns ${a} an hour and works {b} hours on Monday and {c} hours on Tuesday. "
            f"How many dollars does {n} earn?",
            f"{a}*({b}+{c})", [f"{b}+{c}={x}", f"{a}*{x}={a * x}"], a * x)


_WORD_TEMPLATES = (_word_packs, _word_change, _word_boxes, _word_pages, _word_share, _word_spend, _word_chairs, _word_wage)


def word_problem(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 7)
    t = d(0, len(_WORD_TEMPLATES) - 1)
    name, item = d.choice(_NAMES), d.choice(_ITEMS)
    prompt, expr, steps, value = _WORD_TEMPLATES[t](d, name, item)
    return _task(tier, "word", f"w{t}-{name}-{item}-{expr}", prompt, value, "\n".join(steps), expr)


# --------------------------------------------------------------------------- fractions and percentages

_PERCENTS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80)


def fraction_or_percent(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 6)
    kind = d(0, 3)
    if kind == 0:  # a/b + c/d or a/b - c/d, answer in lowest terms
        b, q = d(2, 10), d(2, 10)
        a, c = d(1, b - 1), d(1, q - 1)
        plus = d(0, 1) == 1 or Fraction(a, b) == Fraction(c, q)
        if not plus and Fraction(a, b) < Fraction(c, q):
            a, b, c, q = c, q, a, b
        op = "+" if plus else "-"
        lcd = b * q // gcd(b, q)
        x, y = a * lcd // b, c * lcd // q
        z = x + y if plus else x - y
        value = Fraction(z, lcd)
        expr = f"{a}/{b}{op}{c}/{q}"
        line = f"{expr}={x}/{lcd}{op}{y}/{lcd}={z}/{lcd}"
        if (value.numerator, value.denominator) != (z, lcd):
            line += f"={value}"
        return _task(tier, "fraction", expr, f"What is {expr}? Give a fraction in lowest terms.", value, line, expr)
    if kind == 1:  # p/q of n
        q = d(2, 10)
        p, k = d(1, q - 1), d(2, 20)
        n = q * k
        expr = f"{n}*{p}/{q}"
        return _task(tier, "fraction_of", f"{p}/{q}of{n}", f"What is {p}/{q} of {n}?", k * p,
                     f"{n}/{q}={k}\n{k}*{p}={k * p}", expr)
    if kind == 2:  # p% of n
        p = d.choice(_PERCENTS)
        step = 100 // gcd(p, 100)
        n = step * d(1, max(1, 400 // step))
        value = n * p // 100
        expr = f"{n}*{p}/100"
        return _task(tier, "percent_of", f"{p}%of{n}", f"What is {p}% of {n}?", value, f"{expr}={value}", expr)
    # percent increase: a multiple of 20 keeps a*p/100 whole for every p that is a multiple of 5
    a, p = 20 * d(1, 10), 5 * d(1, 10)
    b = a + a * p // 100
    expr = f"({b}-{a})/{a}*100"
    return _task(tier, "percent_change", f"{a}to{b}", f"A price goes from ${a} to ${b}. By what percent did it increase?",
                 p, f"{b}-{a}={b - a}\n{b - a}/{a}*100={p}", expr, allow_percent=True)


# --------------------------------------------------------------------------- linear equations


def linear_equation(rng: np.random.Generator, tier: int) -> Task:
    d = _Draws(rng, 4)
    a, b, x = d(2, 9), d(1, 30), d(-10, 20) or 1
    if d(0, 1):
        c = a * x + b
        eq, rhs, expr = f"{a}x+{b}={c}", f"{c}-{b}", f"({c}-{b})/{a}"
    else:
        c = a * x - b
        eq, rhs, expr = f"{a}x-{b}={c}", f"{c}+{b}", f"({c}+{b})/{a}"
    solution = f"{a}x={rhs}={a * x}\nx={a * x}/{a}={x}"
    return _task(tier, "linear", eq, f"Solve for x: {eq}", x, solution, expr)


# --------------------------------------------------------------------------- tiers

GENERATORS: dict[int, tuple[str, Callable[[np.random.Generator, int], Task]]] = {
    0: ("1-digit addition", one_digit_addition),
    1: ("2-digit add/subtract", two_digit_add_sub),
    2: ("3-digit addition", three_digit_addition),
    3: ("3-digit subtract, 2x1-digit multiply", sub_and_small_mul),
    4: ("2x2-digit multiply, exact divide", mul_and_division),
    5: ("two-step expressions", two_step_expression),
    6: ("4- and 5-digit arithmetic", big_arithmetic),
    7: ("two-step word problems", word_problem),
    8: ("fractions, percentages", fraction_or_percent),
    9: ("linear equations", linear_equation),
}

TIER_NAMES: dict[int, str] = {tier: name for tier, (name, _) in GENERATORS.items()}


def generate(rng: np.random.Generator, tier: int) -> Task:
    """One task of ``tier`` drawn from ``rng``."""
    try:
        _, fn = GENERATORS[tier]
    except KeyError:
        raise ValueError(f"difficulty: {tier!r} is not one of {sorted(GENERATORS)}") from None
    return fn(rng, tier)
