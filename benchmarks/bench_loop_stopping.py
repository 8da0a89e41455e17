"""Tokens and wall time the doom-loop stopping criterion saves on a looping model.

    python benchmarks/bench_loop_stopping.py [--model tiny|smollm2-135m|PATH] [--batch 8]
                                             [--max-new-tokens 256] [--check-every 8] [--threads 1]

Generates greedily from the same chat prompts twice -- to the cap, then with
:class:`lfmgym.rewards.loop_stopping.LoopStoppingCriteria` -- and reports generated tokens, wall
time, the tokens the stops saved and whether any verdict changed: a row stopped as a loop must
also be a doom loop when generated to the cap (greedy decoding makes the stopped run a prefix of
the full one), and a row not stopped must get the same verdict both times. The default model is
the untrained ``tiny`` LFM2 preset (what the demo's base rows are: it loops on every prompt);
``smollm2-135m`` is a real instruct model that loops on some prompts only. Everything is local;
``--threads 1`` keeps a small model fast on a shared CPU. Exit code 1 when a verdict changed.
"""

from __future__ import annotations

import argparse
import time

PROMPTS = [
    "Write a song with a chorus.",
    "List all prime numbers.",
    "Explain recursion by example.",
    "Describe an infinite loop.",
    "What is 17 * 23? Think step by step.",
    "Call the weather tool for Paris and Oslo.",
    "Summarize the history of Rome.",
    "Write the multiplication table of 7.",
    "What is 1/3 as a decimal?",
    "Keep checking the answer until you are sure: 2 + 2.",
    "Plan a week of meals.",
    "Name every planet and its moons.",
]


def generate(model, enc, max_new_tokens: int, pad_id: int, eos_id, criterion=None):
    import torch
    from transformers import StoppingCriteriaList

    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id,
                             eos_token_id=eos_id, stopping_criteria=StoppingCriteriaList([criterion]) if criterion else None)
    return out[:, enc["input_ids"].shape[1]:].tolist(), time.perf_counter() - t0


def trim(row: list[int], eos: set[int], limit: int | None = None) -> tuple[list[int], bool]:
    """The row up to its EOS (finished) or ``limit`` tokens."""
    for i, t in enumerate(row[:limit]):
        if t in eos:
            return row[:i], True
    return row[:limit], False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--check-every", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from lfmgym.model import load_model_and_tokenizer
    from lfmgym.rewards.doom_loop import detect_doom_loop, digit_token_map
    from lfmgym.rewards.loop_stopping import LoopStop

    torch.set_num_threads(args.threads)
    model, tok = load_model_and_tokenizer(args.model)
    model.eval()
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    prompts = (PROMPTS * (args.batch // len(PROMPTS) + 1))[: args.batch]
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
             for p in prompts]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    eos_ids = model.generation_config.eos_token_id
    eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids if eos_ids is not None else tok.eos_token_id])
    digits = digit_token_map(tok)

    full, t_full = generate(model, enc, args.max_new_tokens, tok.pad_token_id, list(eos))
    stop = LoopStop(enabled=True, check_every=args.check_every).criterion(
        enc["input_ids"].shape[1], args.max_new_tokens, eos_token_id=list(eos), tokenizer=tok)
    stopped, t_stop = generate(model, enc, args.max_new_tokens, tok.pad_token_id, list(eos), stop)

    n_full = n_stop = changed = 0
    rows = Table(title=f"{args.model}: {args.batch} prompts, greedy, cap {args.max_new_tokens} tokens")
    for col in ("prompt", "to the cap", "verdict", "with the stop", "verdict"):
        rows.add_column(col)
    for i, prompt in enumerate(prompts):
        ids_full, fin_full = trim(full[i], eos)
        v_full = detect_doom_loop(ids_full, fin_full, digits=digits, metrics=False)
        if i in stop.stopped:
            ids_stop, fin_stop = trim(stopped[i], eos, stop.stopped[i])
            v_stop_loop, v_stop_kind = True, f"stopped ({stop.kinds[i]})"
        else:
            ids_stop, fin_stop = trim(stopped[i], eos)
            v = detect_doom_loop(ids_stop, fin_stop, digits=digits, metrics=False)
            v_stop_loop, v_stop_kind = v.loop, v.kind
        n_full += len(ids_full)
        n_stop += len(ids_stop)
        same = v_full.loop == v_stop_loop
        changed += not same
        rows.add_row(prompt[:40], str(len(ids_full)), v_full.kind if v_full.loop else "-", str(len(ids_stop)),
                     ("" if same else "[red]") + (v_stop_kind if v_stop_loop else "-"))
    console = Console()
    console.print(rows)
    summary = Table(title="stopping criterion (a batch decodes until its last row ends: wall time drops with the "
                          "decode steps, not with the tokens)")
    for col in ("run", "tokens generated", "decode steps", "wall s", "tokens / s"):
        summary.add_column(col)
    summary.add_row("to the cap", str(n_full), str(len(full[0])), f"{t_full:.2f}", f"{n_full / t_full:.1f}")
    summary.add_row("stop on loop", str(n_stop), str(len(stopped[0])), f"{t_stop:.2f}", f"{n_stop / t_stop:.1f}")
    console.print(summary)
    saved = stop.tokens_saved or 0
    console.print(f"rows stopped: {len(stop.stopped)}/{len(prompts)}; tokens saved {saved} "
                  f"({saved / max(n_full, 1):.0%} of the tokens to the cap); wall time saved "
                  f"{t_full - t_stop:.2f} s ({(t_full - t_stop) / t_full:.0%}); detector calls {stop.checks}; "
                  f"verdicts changed: {changed}")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
