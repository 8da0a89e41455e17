"""Write ``generated.jsonl``: a labeled set of token-id completions for doom-loop detection.

Run ``python tests/data/doom_loops/generate.py`` to regenerate (deterministic). Each line is
``{"id", "kind", "token_ids", "finished", "label", "period"}`` where ``label`` is the truth: the
model was stuck repeating itself when generation stopped. Token ids imitate a 32k vocabulary:
"natural" text is drawn from a Zipf law over word ids; ids below 100 are digits and symbols.

Positives (label true): loops of every period 1..50 after a natural prefix, loops that start
late (only 3-5 repeats before the cap), long periods (60-200), two full copies of a 24-60 token
period at the cap, tails judged without a finished flag, sampled loops with one token changed
about every other period, and "Step N: <same words>." counter loops (ids 0-9 are the digits:
judge them with ``digits={i: str(i) for i in range(10)}``). Negatives: natural text that hits
the cap or ends, loops that *end* with EOS, tables whose cells change, counting, repeated code
lines that end, and completions cut by the cap inside a short legitimate repetition (a zero row,
a rule line, a sentence under 24 tokens restated once) -- the cases that too low a
``min_coverage`` or ``min_repeats`` would flag.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VOCAB = 32000
DIGITS = list(range(10))  # "0".."9"
COMMA, PIPE, NEWLINE, COLON, DOT, SPACE = 10, 11, 12, 13, 14, 15
WORD0 = 100


def natural(rng: np.random.Generator, n: int) -> list[int]:
    """Word ids from a Zipf law (s = 1.1): frequent words repeat, as in text, but never periodically."""
    ids = rng.zipf(1.1, size=n * 2)
    ids = ids[ids < VOCAB - WORD0][:n]
    while len(ids) < n:
        more = rng.zipf(1.1, size=n)
        ids = np.concatenate([ids, more[more < VOCAB - WORD0]])[:n]
    return (ids + WORD0).astype(int).tolist()


def number(k: int) -> list[int]:
    return [int(c) for c in str(k)]


def row(kind: str, i: int, ids: list[int], finished: bool | None, label: bool, period: int | None = None) -> dict:
    return {"id": f"{kind}-{i}", "kind": kind, "token_ids": ids, "finished": finished, "label": label, "period": period}


def build(seed: int = 20250101) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    cap = lambda: int(rng.choice([384, 512, 768]))  # noqa: E731

    for p in range(1, 51):  # every period 1..50 after a natural prefix
        length = cap()
        unit = natural(rng, p)
        prefix = natural(rng, int(rng.integers(40, length // 2)))
        rows.append(row("loop", p, (prefix + unit * length)[:length], False, True, p))
    for i in range(20):  # late loops: 3-5 repeats (and at least 64 tokens) before the cap
        p = int(rng.integers(2, 41))
        length = cap()
        covered = max(64, p * int(rng.integers(3, 6)))
        unit = natural(rng, p)
        rows.append(row("late_loop", i, natural(rng, length - covered) + (unit * covered)[:covered], False, True, p))
    for i in range(10):  # paragraph-long periods
        p = int(rng.integers(60, 201))
        length = max(768, 4 * p)
        unit = natural(rng, p)
        prefix = natural(rng, int(rng.integers(20, 120)))
        rows.append(row("long_period", i, (prefix + unit * length)[:length], False, True, p))
    for i in range(10):  # no finished flag: judged on the tail alone
        p = int(rng.integers(1, 30))
        length = cap()
        unit = natural(rng, p)
        rows.append(row("tail_only_loop", i, (natural(rng, 100) + unit * length)[:length], None, True, p))
    for i in range(10):  # two full copies of a long period, cut by the cap: a loop at a short cap
        p = int(rng.integers(24, 61))
        unit = natural(rng, p)
        ids = natural(rng, int(rng.integers(10, 40))) + unit * 2 + unit[: int(rng.integers(0, p // 2))]
        rows.append(row("long_two_copies", i, ids, False, True, p))
    for i in range(10):  # sampled loops: one token in ~every other period differs
        p = int(rng.integers(10, 41))
        length = 512
        ids = (natural(rng, 60) + natural(rng, p) * length)[:length]
        for pos in range(60 + p, length, 2 * p):
            ids[pos + int(rng.integers(0, p)) if pos + p < length else pos] = int(rng.integers(WORD0, VOCAB))
        rows.append(row("noisy_loop", i, ids, False, True, p))

    for i in range(30):
        rows.append(row("natural_capped", i, natural(rng, cap()), False, False))
    for i in range(10):
        rows.append(row("natural_finished", i, natural(rng, int(rng.integers(50, 700))), True, False))
    for i in range(10):  # the model looped but then stopped by itself: not a doom loop
        p = int(rng.integers(1, 30))
        unit = natural(rng, p)
        rows.append(row("loop_then_eos", i, (natural(rng, 80) + unit * 40)[: 80 + 20 * p], True, False))
    for i in range(15):  # a markdown table cut by the cap: same layout, different cells
        ids = natural(rng, 30)
        header = natural(rng, 3)
        r = 0
        while len(ids) < 512:
            ids += [PIPE] + number(r + 1) + [PIPE] + [header[0]] + number(int(rng.integers(0, 1000))) + [PIPE] \
                + number(int(rng.integers(0, 100))) + [DOT] + number(int(rng.integers(0, 10))) + [PIPE, NEWLINE]
            r += 1
        rows.append(row("table", i, ids[:512], False, False))
    for i in range(10):  # counting: 1, 2, 3, ... until the cap
        start = int(rng.integers(0, 5000))
        ids = natural(rng, 12)
        k = start
        while len(ids) < 512:
            ids += number(k) + [COMMA, SPACE]
            k += 1
        rows.append(row("counting", i, ids[:512], False, False))
    for i in range(10):  # "Step N: <same words>." with N incrementing: a counter loop
        body = natural(rng, int(rng.integers(4, 12)))
        ids = natural(rng, 20)
        k = int(rng.integers(1, 90))
        while len(ids) < 512:
            ids += [WORD0 + 7] + number(k) + [COLON] + body + [DOT, NEWLINE]
            k += 1
        rows.append(row("step_counter", i, ids[:512], False, True, None))
    for i in range(10):  # identical code lines, then the function goes on and ends
        line = natural(rng, int(rng.integers(6, 14))) + [NEWLINE]
        ids = natural(rng, 60) + line * int(rng.integers(5, 12)) + natural(rng, int(rng.integers(40, 120)))
        rows.append(row("repeated_lines_end", i, ids, bool(i % 2), False))
    for i in range(10):  # cut by the cap in the middle of a short legitimate repetition
        length = cap()
        if i % 2 == 0:  # a zero row / a rule line: period 1-2, 12-48 tokens
            unit = [0, SPACE] if i % 4 == 0 else [WORD0 + 3]
            tail = unit * int(rng.integers(6, 24))
        else:  # a sentence under the long period restated once (2 copies, under 64 tokens)
            tail = natural(rng, int(rng.integers(8, 24))) * 2
        rows.append(row("short_tail_repeat", i, natural(rng, length - len(tail)) + tail, False, False))
    return rows


def main() -> None:
    out = Path(__file__).with_name("generated.jsonl")
    with out.open("w") as f:
        for r in build():
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
