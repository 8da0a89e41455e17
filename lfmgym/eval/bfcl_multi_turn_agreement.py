"""Perturbed BFCL multi-turn predictions for measuring agreement with BFCL's own checker.

:func:`build_predictions` turns each entry's ground truth into BFCL result rows, seeded: the gold
transcript and seven kinds of damage (:data:`KINDS`): a call dropped, an argument changed, an
argument's type changed (``5`` for ``5.0``, ``'3'`` for ``3``), two turns swapped, a call
duplicated, an extra call, a call made to the wrong function. Each row is written
in one of BFCL's step formats (:data:`FORMATS`): per turn one step of decoded call strings, one step
per call, or the raw text of a prompting model (``"[cd(folder='docs'), ls()]"``).

:func:`lfmgym_verdicts` scores the rows with lfmgym's checker; ``benchmarks/
bench_bfcl_multi_turn_agreement.py`` scores the same rows with the official ``bfcl-eval`` checker
and tabulates :func:`agreement_table` (no part of lfmgym needs ``bfcl-eval``).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis import SUITES
from lfmgym.envs.bfcl_multi_turn.session import Call, parse_calls, render_call

__all__ = ["KINDS", "FORMATS", "Prediction", "perturb", "as_result", "build_predictions", "lfmgym_verdicts",
           "agreement_table"]

KINDS = ("gold", "drop", "arg", "arg_type", "swap", "dup", "extra", "wrong_function")
FORMATS = ("decoded", "split", "text")


@dataclass
class Prediction:
    """One BFCL result row and how it was made. ``target`` is the ``Class.function`` the damage
    touched (for ``gold`` and ``swap``: the functions of the turns involved)."""

    id: str
    kind: str
    format: str
    result: list[list[Any]]
    target: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "format": self.format, "result": self.result, "target": self.target}


def _owner(name: str, classes: Sequence[str]) -> str:
    for cls in classes:
        if cls in SUITES and name in SUITES[cls].function_names():
            return f"{cls}.{name}"
    return f"?.{name}"


def _mutate(value: Any, rng: random.Random) -> Any:
    """A value that should change what the call does."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([1, 3, -2, 10])
    if isinstance(value, float):
        return round(value + rng.choice([1.5, -0.5, 10.0]), 4)
    if isinstance(value, str):
        return rng.choice([value + "_x", "zz" + value, value[::-1] + "q" if value else "q"])
    if isinstance(value, list):
        return value[:-1] if len(value) > 1 else value + (value or ["extra"])
    if isinstance(value, dict):
        if not value:
            return {"k": 1}
        key = rng.choice(sorted(value))
        return {**value, key: _mutate(value[key], rng)}
    return "x"


def _retype(value: Any, rng: random.Random) -> Any:
    """The same value in another type (a model's typical slip: ``5`` for ``5.0``, ``'3'`` for ``3``)."""
    if isinstance(value, bool):
        return rng.choice([str(value), str(value).lower(), int(value)])
    if isinstance(value, int):
        return rng.choice([float(value), str(value)])
    if isinstance(value, float):
        return rng.choice([int(value), str(value)]) if value == int(value) else str(value)
    if isinstance(value, str):
        try:
            return rng.choice([int(value), float(value)])
        except ValueError:
            return [value]
    if isinstance(value, list):
        return tuple(value) if rng.random() < 0.5 else (value[0] if value else None)
    return str(value)


def perturb(entry: dict[str, Any], kind: str, rng: random.Random) -> tuple[list[list[str]], list[str]] | None:
    """``(turns of call strings, target functions)`` for ``kind``, or ``None`` when the kind does
    not apply to this entry (no call to damage, a single turn to swap, two identical turns).

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown perturbation kind {kind!r} (one of {KINDS})")
    gt: list[list[str]] = copy.deepcopy(entry["ground_truth"])
    classes = entry["involved_classes"]
    spots = [(i, j) for i, turn in enumerate(gt) for j in range(len(turn))]
    names = lambda calls: sorted({_owner(Call.of(c).name, classes) for c in calls})  # noqa: E731
    if kind == "gold":
        return gt, names(c for turn in gt for c in turn)
    if kind == "swap":
        pairs = [k for k in range(len(gt) - 1) if gt[k] != gt[k + 1]]
        if not pairs:
            return None
        k = rng.choice(pairs)
        gt[k], gt[k + 1] = gt[k + 1], gt[k]
        return gt, names(gt[k] + gt[k + 1])
    if not spots:
        return None
    i, j = rng.choice(spots)
    call = Call.of(gt[i][j])
    target = [_owner(call.name, classes)]
    if kind == "drop":
        del gt[i][j]
    elif kind == "dup":
        gt[i].insert(j + 1, gt[i][j])
    elif kind in ("arg", "arg_type"):
        slots = [("a", n) for n in range(len(call.args))] + [("k", k) for k in call.kwargs]
        if not slots:
            return None
        where, key = rng.choice(slots)
        args, kwargs = list(call.args), dict(call.kwargs)
        change = _mutate if kind == "arg" else _retype
        if where == "a":
            args[key] = change(args[key], rng)
        else:
            kwargs[key] = change(kwargs[key], rng)
        gt[i][j] = render_call(Call(call.name, tuple(args), kwargs))
    elif kind == "wrong_function":
        cls = target[0].split(".", 1)[0]
        others = [n for n in SUITES[cls].function_names() if n != call.name] if cls in SUITES else []
        if not others:
            return None
        name = rng.choice(others)
        gt[i][j] = render_call(Call(name, call.args, call.kwargs))
        target.append(f"{cls}.{name}")
    elif kind == "extra":
        # A plausible extra action: a ground-truth call of another turn, or a call without arguments.
        elsewhere = [c for k, turn in enumerate(gt) if k != i for c in turn]
        if elsewhere and rng.random() < 0.5:
            extra = rng.choice(elsewhere)
        else:
            cls = rng.choice([c for c in classes if c in SUITES])
            extra = f"{rng.choice(SUITES[cls].function_names())}()"
        gt[i].insert(rng.randrange(len(gt[i]) + 1), extra)
        target = [_owner(Call.of(extra).name, classes)]
    return gt, target


def as_result(turns: Sequence[Sequence[str]], fmt: str) -> list[list[Any]]:
    """Turns of call strings as BFCL result turns in step format ``fmt`` (:data:`FORMATS`)."""
    if fmt == "decoded":
        return [[list(turn)] if turn else [] for turn in turns]
    if fmt == "split":
        return [[[call] for call in turn] for turn in turns]
    if fmt == "text":
        return [[f"[{', '.join(render_call(c) for call in turn for c in parse_calls(call))}]"] if turn else
                ["I cannot do that with the functions I have."] for turn in turns]
    raise ValueError(f"unknown step format {fmt!r} (one of {FORMATS})")


def build_predictions(entries: Iterable[dict[str, Any]], seed: int = 0,
                      kinds: Sequence[str] = KINDS) -> list[Prediction]:
    """Every applicable kind for every entry, each in a seeded step format (``gold`` in every
    format). The same ``seed`` gives the same rows."""
    out = []
    for entry in entries:
        rng = random.Random(f"{seed}:{entry['id']}")
        for kind in kinds:
            made = perturb(entry, kind, rng)
            if made is None:
                continue
            turns, target = made
            for fmt in (FORMATS if kind == "gold" else [rng.choice(FORMATS)]):
                out.append(Prediction(entry["id"], kind, fmt, as_result(turns, fmt), target))
    return out


def lfmgym_verdicts(predictions: Sequence[Prediction], entries: dict[str, dict[str, Any]]) -> list[Any]:
    """lfmgym's :class:`~lfmgym.eval.bfcl_multi_turn.MultiTurnVerdict` for each row."""
    from lfmgym.eval.bfcl_multi_turn import score_entry

    return [score_entry(entries[p.id], p.result) for p in predictions]


def agreement_table(predictions: Sequence[Prediction], ours: Sequence[bool],
                    official: Sequence[bool]) -> dict[str, Any]:
    """Agreement overall, by kind, by format and by category, and the disagreements grouped by API
    and function (``{"Class.function": {"n", "ours_valid", "official_valid", "ids"}}``)."""
    if not len(predictions) == len(ours) == len(official):
        raise ValueError("predictions, ours and official must have the same length")

    def rate(rows: list[int]) -> dict[str, Any]:
        agree = sum(ours[r] == official[r] for r in rows)
        return {"n": len(rows), "agree": agree, "agreement": agree / len(rows) if rows else 1.0}

    groups: dict[str, dict[str, list[int]]] = {"kind": {}, "format": {}, "category": {}, "api": {}}
    by_function: dict[str, dict[str, Any]] = {}
    for r, p in enumerate(predictions):
        groups["kind"].setdefault(p.kind, []).append(r)
        groups["format"].setdefault(p.format, []).append(r)
        groups["category"].setdefault(p.id.rsplit("_", 1)[0], []).append(r)
        for api in sorted({t.split(".", 1)[0] for t in p.target}):
            groups["api"].setdefault(api, []).append(r)
        if ours[r] != official[r]:
            for fn in p.target or ["(none)"]:
                row = by_function.setdefault(fn, {"n": 0, "ours_valid": 0, "official_valid": 0, "ids": []})
                row["n"] += 1
                row["ours_valid"] += int(ours[r])
                row["official_valid"] += int(official[r])
                row["ids"].append(f"{p.id}:{p.kind}:{p.format}")
    return {"overall": rate(list(range(len(predictions)))),
            **{name: {k: rate(v) for k, v in sorted(g.items())} for name, g in groups.items()},
            "differences": dict(sorted(by_function.items(), key=lambda kv: (-kv[1]["n"], kv[0])))}
