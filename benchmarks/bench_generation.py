"""Decode speed of a preset on this CPU: generation with the cache vs without it (the baseline).

    python benchmarks/bench_generation.py [--preset tiny] [--new-tokens 128] [--prompt-tokens 64]
                                          [--batch 1] [--threads 1] [--repeats 3]

``causal_conv1d`` kernels are GPU-only, so on a CPU transformers runs LFM2's short convolutions
through its reference PyTorch path. With the cache that path is cheap: each decode step feeds one
token, the conv layers update their 3-token state in place and the attention layers append one
key/value. The benchmark checks that this is what happens (every conv call after the prefill sees
exactly one token) and that the cached and uncached greedy outputs are the same tokens, then
prints tokens/s for:

- ``generate, cache``: ``model.generate(use_cache=True)`` (what stages and evals use);
- ``manual loop, cache``: a bare forward loop with the cache, to show ``generate``'s own overhead;
- ``generate, no cache`` (baseline): every step re-reads the whole sequence.

The model is a randomly initialised preset (no download); generation is forced to the full
length (``min_new_tokens``) so every mode decodes the same number of tokens.
"""

from __future__ import annotations

import argparse
import inspect
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    # One thread by default: the reference machine's 2 cores are shared, and oversubscribed OpenMP
    # threads make every small matmul stall. Raise it on a dedicated machine.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3, help="runs per mode; the best is reported")
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table
    from transformers.models.lfm2.modeling_lfm2 import Lfm2ShortConv

    from lfmgym.model.loading import load_model_and_tokenizer

    torch.set_num_threads(args.threads)
    model, tok = load_model_and_tokenizer(args.preset, device="cpu")
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(0)
    # Ordinary token ids (no special tokens), identical rows: same work in every mode.
    ids = torch.randint(32, len(tok), (1, args.prompt_tokens), generator=gen).repeat(args.batch, 1)
    attention_mask = torch.ones_like(ids)

    conv_lengths: list[int] = []
    hooks = [m.register_forward_pre_hook(lambda mod, a, kw: conv_lengths.append(kw["hidden_states"].shape[1]),
                                         with_kwargs=True)
             for m in model.modules() if isinstance(m, Lfm2ShortConv)]
    n_conv = len(hooks)

    def generate(use_cache: bool) -> torch.Tensor:
        return model.generate(
            input_ids=ids, attention_mask=attention_mask, do_sample=False, use_cache=use_cache,
            max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, pad_token_id=tok.pad_token_id,
        )[:, ids.shape[1]:]

    @torch.inference_mode()
    def manual_loop() -> torch.Tensor:
        out = model(input_ids=ids, attention_mask=attention_mask, use_cache=True)
        cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
        kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        mask = attention_mask
        tokens = []
        for step in range(args.new_tokens):
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            tokens.append(nxt)
            if step == args.new_tokens - 1:
                break
            mask = torch.cat([mask, torch.ones_like(nxt)], dim=1)
            out = model(input_ids=nxt, attention_mask=mask, use_cache=True, **{kw: cache},
                        position_ids=torch.full_like(nxt, mask.shape[1] - 1))
        return torch.cat(tokens, dim=1)

    modes = (("generate, cache", lambda: generate(True)),
             ("manual loop, cache", manual_loop),
             ("generate, no cache (baseline)", lambda: generate(False)))
    generate(True)  # warm-up (first calls build kernels and caches)
    results, outputs, conv_calls = {}, {}, {}
    for label, fn in modes:
        best = float("inf")
        for _ in range(args.repeats):
            conv_lengths.clear()
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        results[label], outputs[label] = best, out
        conv_calls[label] = list(conv_lengths)
    for h in hooks:
        h.remove()

    cached = conv_calls["generate, cache"]
    one_token = sum(1 for n in cached[n_conv:] if n == 1)
    base = results["generate, no cache (baseline)"]
    table = Table(title=f"preset {args.preset} ({n_params / 1e6:.1f}M params), batch {args.batch}, prompt "
                        f"{args.prompt_tokens} tokens, {args.new_tokens} new tokens, {args.threads} threads, CPU")
    for col in ("mode", "best wall s", "new tokens/s", "ms/token", "speed-up vs baseline"):
        table.add_column(col, justify="right" if col != "mode" else "left")
    for label, dt in results.items():
        n_tok = args.batch * args.new_tokens
        table.add_row(label, f"{dt:.3f}", f"{n_tok / dt:.1f}", f"{1e3 * dt / args.new_tokens:.2f}", f"{base / dt:.2f}x")
    console = Console()
    console.print(table)
    same = all(torch.equal(outputs["generate, cache"], o) for o in outputs.values())
    console.print(f"greedy tokens identical across modes: {same}")
    console.print(f"cache used: {one_token}/{len(cached) - n_conv} conv calls after the prefill fed 1 token "
                  f"(prefill: {cached[:n_conv][:1]} tokens per conv layer, {n_conv} conv layers)")
    if not same or one_token != len(cached) - n_conv:
        raise SystemExit("cache path check failed")


if __name__ == "__main__":
    main()
