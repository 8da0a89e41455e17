"""``lfmgym loops``: doom-loop verdicts for a JSONL file of generations or episodes from any model.

::

    lfmgym loops generations.jsonl [--field text|token_ids] [--finished-field F]
                                   [--tokenizer M] [--out verdicts.jsonl]
    lfmgym loops episodes.jsonl --messages-field messages [--finished-field F] [--out verdicts.jsonl]

Generations: each input line is a JSON object holding one generation, token ids (a list of
ints) or text. Each output line is ``{"line", "id", "loop", "kind", "period", "start", "unit",
"seq_rep_4", "length", "finished"}``. A line without a finished flag is judged on its tail alone;
vLLM-style ``finish_reason`` (``"stop"`` / ``"length"``) is understood when there is no finished
field.

Episodes (``--messages-field``): each line holds a chat message list (assistant tool calls in
LFM2 pythonic or JSON form in the content, tool results as ``tool`` messages); ``finished`` is
true when the episode ended with a final answer. Each output line is ``{"line", "id", "loop",
"kind", "turn", "cycle", "turns", "finished"}`` with kind ``repeated_call``,
``repeated_message``, ``turn_loop`` or ``none``
(:mod:`lfmgym.rewards.episode_loops`).

The doom-loop ratio and the count per kind are printed at the end (to stderr when verdicts go to
stdout).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_commands", "cmd_loops"]

_AUTO_FIELDS = ("token_ids", "completion_ids", "output_ids", "text", "completion", "output", "response")
_BATCH = 512


def add_commands(subparsers: Any) -> None:
    from lfmgym.rewards.doom_loop import DEFAULT_MAX_PERIOD, DEFAULT_MIN_COVERAGE, DEFAULT_MIN_REPEATS

    p = subparsers.add_parser(
        "loops",
        help="doom-loop verdicts for a JSONL file of generations",
        description=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="JSONL file of generations ('-' for stdin)")
    p.add_argument("--field", default=None,
                   help=f"key holding the generation (token-id list or text); default: the first of {', '.join(_AUTO_FIELDS)}")
    p.add_argument("--finished-field", default="finished",
                   help="key holding the EOS flag (true = finished); default 'finished', else 'finish_reason' is used")
    p.add_argument("--tokenizer", default=None, help="tokenize text with this transformers tokenizer (local path or hub id)")
    p.add_argument("--messages-field", default=None,
                   help="judge episodes: key holding each line's chat messages (see above)")
    p.add_argument("--unit", choices=("text", "word", "char"), default="text",
                   help="units for text without a tokenizer (default text: words, then characters)")
    p.add_argument("--max-period", type=int, default=DEFAULT_MAX_PERIOD, help=f"largest period P (default {DEFAULT_MAX_PERIOD})")
    p.add_argument("--min-coverage", type=int, default=DEFAULT_MIN_COVERAGE,
                   help=f"fewest units the periodic tail must cover, K (default {DEFAULT_MIN_COVERAGE})")
    p.add_argument("--min-repeats", type=int, default=DEFAULT_MIN_REPEATS,
                   help=f"fewest repeats of the period, R (default {DEFAULT_MIN_REPEATS})")
    p.add_argument("--out", default=None, help="write verdicts here instead of stdout")
    p.set_defaults(func=cmd_loops)


class _BadInput(ValueError):
    pass


def _finished(obj: dict, field: str) -> bool | None:
    if field in obj:
        value = obj[field]
        if value is None or isinstance(value, bool):
            return value
        raise _BadInput(f"field {field!r} must be true, false or null, got {value!r}")
    reason = obj.get("finish_reason")
    if reason in ("stop", "eos", "eos_token", "stop_sequence", "end_turn"):
        return True
    if reason in ("length", "max_tokens", "max_length"):
        return False
    return None


def _generation(obj: dict, field: str | None) -> tuple[str, Any]:
    if field is None:
        field = next((f for f in _AUTO_FIELDS if f in obj), None)
        if field is None:
            raise _BadInput(f"no generation field (looked for {', '.join(_AUTO_FIELDS)}; use --field)")
    if field not in obj:
        raise _BadInput(f"no field {field!r}")
    value = obj[field]
    if isinstance(value, str):
        return "text", value
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        bad = next((v for v in value if not -(1 << 63) <= v < 1 << 63), None)
        if bad is not None:
            raise _BadInput(f"field {field!r}: token id {bad} is out of the 64-bit range")
        return "ids", value
    if isinstance(value, list):
        i, bad = next((i, v) for i, v in enumerate(value) if isinstance(v, bool) or not isinstance(v, int))
        raise _BadInput(f"field {field!r}: item {i} is {json.dumps(bad)[:40]}, not an integer token id")
    raise _BadInput(f"field {field!r} must be a string or a list of integer token ids, got {type(value).__name__}")


def _messages(obj: dict, field: str) -> list:
    if field not in obj:
        raise _BadInput(f"no field {field!r}")
    value = obj[field]
    if not isinstance(value, list):
        raise _BadInput(f"field {field!r} must be a list of messages, got {type(value).__name__}")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _BadInput(f"field {field!r}: message {i} must be an object with a string 'role'")
        if "content" in m and m["content"] is not None and not isinstance(m["content"], str):
            raise _BadInput(f"field {field!r}: message {i} content must be a string")
    return value


def _records(stream, name: str, args) -> Any:
    for lineno, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _BadInput(f"{name}:{lineno}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise _BadInput(f"{name}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        try:
            if args.messages_field:
                kind, value = "messages", _messages(obj, args.messages_field)
            else:
                kind, value = _generation(obj, args.field)
            finished = _finished(obj, args.finished_field)
        except _BadInput as exc:
            raise _BadInput(f"{name}:{lineno}: {exc}") from None
        yield lineno, obj.get("id"), kind, value, finished, len(raw)


def _judge(batch: list, args, tokenizer, digits) -> list[dict]:
    from lfmgym.rewards.doom_loop import detect_doom_loops

    if args.messages_field:
        from lfmgym.rewards.episode_loops import episode_loop_verdicts

        verdicts = episode_loop_verdicts([r[3] for r in batch], [r[4] for r in batch])
        return [{"line": r[0], "id": r[1], **v.to_dict()} for r, v in zip(batch, verdicts)]
    thresholds = dict(max_period=args.max_period, min_coverage=args.min_coverage, min_repeats=args.min_repeats)
    out: list[dict | None] = [None] * len(batch)
    groups: dict[str, list[int]] = {}
    for i, (_, _, kind, _, _, _) in enumerate(batch):
        groups.setdefault("ids" if kind == "ids" or tokenizer is not None else "text", []).append(i)
    for kind, idx in groups.items():
        values = [batch[i][3] for i in idx]
        if kind == "ids" and tokenizer is not None:
            values = [v if batch[i][2] == "ids" else tokenizer.encode(v, add_special_tokens=False) for v, i in zip(values, idx)]
        unit = "token" if kind == "ids" else args.unit
        verdicts = detect_doom_loops(values, [batch[i][4] for i in idx], unit=unit,
                                     digits=digits if unit == "token" else None, **thresholds)
        for i, v in zip(idx, verdicts):
            lineno, ident = batch[i][0], batch[i][1]
            out[i] = {"line": lineno, "id": ident, "loop": v.loop, "kind": v.kind, "period": v.period, "start": v.start,
                      "unit": v.unit, "seq_rep_4": round(v.seq_rep.get(4, 0.0), 6), "length": v.length,
                      "finished": v.finished}
    return out  # type: ignore[return-value]


def _error(message: str) -> None:
    # plain text, never wrapped, so the file:line stays greppable
    print(f"lfmgym loops: {message}", file=sys.stderr)


def cmd_loops(args) -> int:
    from collections import Counter

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    err = Console(stderr=True)
    if args.max_period < 1 or args.min_coverage < 2 or args.min_repeats < 2:
        _error("need --max-period >= 1, --min-coverage >= 2 and --min-repeats >= 2")
        return 2
    if args.messages_field and (args.field or args.tokenizer):
        _error("--messages-field judges episodes; it does not combine with --field or --tokenizer")
        return 2
    tokenizer = digits = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        from lfmgym.rewards.doom_loop import digit_token_map

        try:
            tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        except Exception as exc:
            _error(f"cannot load tokenizer {args.tokenizer!r}: {type(exc).__name__}: {exc}")
            return 2
        digits = digit_token_map(tokenizer)
    try:
        stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    except OSError as exc:
        _error(f"cannot read {args.file!r}: {exc.strerror}")
        return 2
    sink = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    total = loops = flagged = 0
    kinds: Counter = Counter()
    rep4_sum = 0.0
    size = None
    if args.file != "-":
        import os

        size = os.path.getsize(args.file)

    def emit(verdicts: list[dict]) -> None:
        nonlocal total, loops, flagged, rep4_sum
        for v in verdicts:
            sink.write(json.dumps(v) + "\n")
            total += 1
            loops += v["loop"]
            kinds[v["kind"]] += v["loop"]
            flagged += v["finished"] is not None
            rep4_sum += v.get("seq_rep_4", 0.0)

    try:
        with stream, Progress(TextColumn("judging"), BarColumn(), TextColumn("{task.completed:,.0f} bytes"),
                              TimeElapsedColumn(), console=err, transient=True,
                              disable=not err.is_terminal) as progress:
            task = progress.add_task("loops", total=size)
            batch: list = []
            for record in _records(stream, args.file, args):
                batch.append(record)
                if len(batch) >= _BATCH:
                    emit(_judge(batch, args, tokenizer, digits))
                    progress.advance(task, sum(r[5] for r in batch))
                    batch = []
            if batch:
                emit(_judge(batch, args, tokenizer, digits))
    except _BadInput as exc:
        _error(str(exc))
        return 2
    finally:
        if args.out:
            sink.close()
    report = Console(stderr=not args.out)
    table = Table(title="doom loops across episodes" if args.messages_field else "doom loops")
    cols = ["episodes" if args.messages_field else "completions", "doom loops", "doom-loop ratio", "with finished flag"]
    if not args.messages_field:
        cols.append("mean seq-rep-4")
    for col in cols:
        table.add_column(col, justify="right")
    ratio = loops / total if total else 0.0
    row = [str(total), str(loops), f"{ratio:.4f}", str(flagged)]
    if not args.messages_field:
        row.append(f"{rep4_sum / total if total else 0.0:.4f}")
    table.add_row(*row)
    report.print(table)
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()) if n)
    report.print(f"doom-loop ratio: {ratio:.4f}" + (f" ({by_kind})" if by_kind else ""), markup=False)
    return 0
