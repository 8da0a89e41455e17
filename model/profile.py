"""On-device profiling of sequence-mixing operators: which block is cheapest on *this* hardware?

The seed talk's LFM2 architecture search profiled candidate operators on the target devices and
kept the one with the best cost: the gated short convolution. :func:`run_profile` repeats that
measurement here, with the operators as transformers implements them, at one hidden size:

- ``short_conv``: LFM2's gated short convolution (``Lfm2ShortConv``, kernel 3);
- ``gqa``: full grouped-query attention (``Lfm2Attention``, the attention of the LFM2 hybrid);
- ``swa``: sliding-window attention (``Gemma3Attention`` on a ``sliding_attention`` layer);
- ``gated_deltanet``: gated DeltaNet linear attention (``Qwen3_5GatedDeltaNet``, else
  ``Qwen3NextGatedDeltaNet``), when the installed transformers provides one.

Each operator sits alone in a one-layer model of its own family (so masks, rotary embeddings and
caches are built exactly as in the real model) and is timed through forward hooks on the mixer
module only: the MLP, norms and mask construction are excluded. For every sequence length ``L``:

- *prefill*: a forward pass over ``L`` tokens (median of ``repeats`` after a warm-up);
- *decode*: one more token with the cache the prefill left (context ``L``);
- *peak memory*: the largest extra memory held during the mixer call (CPU: from the PyTorch
  profiler's allocation events; CUDA: ``max_memory_allocated``), and the size of the layer's
  cache after prefill (*state*: KV cache, conv state or recurrent state).

Run it with ``lfmgym model profile --out DIR`` on the hardware you target.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "OPERATORS",
    "ProfileRow",
    "run_profile",
    "format_profile_table",
    "write_profile",
    "DEFAULT_SEQ_LENS",
]

DEFAULT_SEQ_LENS: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096)
_ANNOTATION = "lfmgym.profile.mixer"
_MIN_DECODE_REPEATS = 8


@dataclass
class ProfileRow:
    """One measurement: ``operator`` at context length ``seq_len`` in ``phase`` (prefill/decode).

    ``latency_min_ms`` (best call) is what tables and plots show: on a busy machine the median
    picks up other processes' load, the best call does not. ``latency_ms`` is the median.
    """

    operator: str
    phase: str
    seq_len: int
    latency_ms: float | None = None
    latency_min_ms: float | None = None
    peak_mem_mib: float | None = None
    state_mib: float | None = None
    mixer_params: int | None = None
    available: bool = True
    note: str = ""


# --------------------------------------------------------------------------------------------
# Operators: each builder returns (one-layer model, mixer module) at hidden size `hidden`.


def _heads(hidden: int) -> tuple[int, int, int]:
    """Same attention geometry for GQA and SWA: head_dim 64, two query heads per KV head."""
    if hidden % 64:
        raise ValueError(f"hidden size must be a multiple of 64, got {hidden}")
    heads = hidden // 64
    return heads, max(1, heads // 2), 64


def _build_lfm2(hidden: int, layer_type: str, attn: str) -> tuple["nn.Module", "nn.Module"]:
    from transformers import AutoModel, Lfm2Config

    heads, kv_heads, _ = _heads(hidden)
    config = Lfm2Config(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=hidden,  # the MLP is not timed; keep it cheap
        block_auto_adjust_ff_dim=False,
        num_hidden_layers=1,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        layer_types=[layer_type],
        max_position_embeddings=1 << 17,
    )
    model = AutoModel.from_config(config, attn_implementation=attn)
    layer = model.layers[0]
    return model, (layer.conv if layer_type == "conv" else layer.self_attn)


def _build_short_conv(hidden: int, window: int, attn: str):
    return _build_lfm2(hidden, "conv", attn)


def _build_gqa(hidden: int, window: int, attn: str):
    return _build_lfm2(hidden, "full_attention", attn)


def _build_swa(hidden: int, window: int, attn: str):
    from transformers import AutoModel, Gemma3TextConfig

    heads, kv_heads, head_dim = _heads(hidden)
    config = Gemma3TextConfig(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        layer_types=["sliding_attention"],
        sliding_window=window,
        max_position_embeddings=1 << 17,
    )
    model = AutoModel.from_config(config, attn_implementation=attn)
    return model, model.layers[0].self_attn


def _deltanet_family() -> tuple[Any, str] | None:
    """(config class, module name) of the first gated-DeltaNet family transformers provides."""
    try:
        from transformers import Qwen3_5TextConfig

        return Qwen3_5TextConfig, "Qwen3_5GatedDeltaNet"
    except ImportError:
        pass
    try:
        from transformers import Qwen3NextConfig

        return Qwen3NextConfig, "Qwen3NextGatedDeltaNet"
    except ImportError:
        return None


def _build_gated_deltanet(hidden: int, window: int, attn: str):
    from transformers import AutoModel

    family = _deltanet_family()
    if family is None:
        raise ImportError("the installed transformers has no gated DeltaNet (Qwen3.5 / Qwen3-Next) model")
    config_cls, _ = family
    # Qwen3.5-0.8B's ratio: at d=1024, 16 key and 16 value heads of dimension 128.
    heads = max(1, hidden // 64)
    config = config_cls(
        vocab_size=256,
        hidden_size=hidden,
        intermediate_size=hidden,
        num_hidden_layers=1,
        num_attention_heads=max(1, hidden // 128),
        num_key_value_heads=1,
        layer_types=["linear_attention"],
        linear_num_key_heads=heads,
        linear_num_value_heads=heads,
        linear_key_head_dim=128,
        linear_value_head_dim=128,
        max_position_embeddings=1 << 17,
    )
    if hasattr(config, "num_experts"):  # Qwen3-Next is MoE by default; a dense MLP is enough here
        config.num_experts = 0
    model = AutoModel.from_config(config, attn_implementation=attn)
    return model, model.layers[0].linear_attn


@dataclass(frozen=True)
class Operator:
    """A profiled operator: ``key`` (CLI name), a human ``label`` and its builder."""

    key: str
    label: str
    build: Callable[[int, int, str], tuple["nn.Module", "nn.Module"]] = field(repr=False)


OPERATORS: dict[str, Operator] = {
    op.key: op
    for op in (
        Operator("short_conv", "gated short conv (LFM2)", _build_short_conv),
        Operator("gqa", "full GQA attention (LFM2)", _build_gqa),
        Operator("swa", "sliding-window attention (Gemma 3)", _build_swa),
        Operator("gated_deltanet", "gated DeltaNet (Qwen3.5)", _build_gated_deltanet),
    )
}


# --------------------------------------------------------------------------------------------
# Measurement


class _MixerMeter:
    """Times (and optionally measures memory of) every call of one module via forward hooks."""

    def __init__(self, module: "nn.Module", device: "torch.device"):
        self.device = device
        self.times: list[float] = []
        self.cuda_peaks: list[int] = []
        self.track_memory = False
        self._t0 = 0.0
        self._base = 0
        self._annotation = None
        self._handles = [
            module.register_forward_pre_hook(self._before),
            module.register_forward_hook(self._after),
        ]

    def _sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _before(self, module, args) -> None:
        import torch

        self._sync()
        if self.track_memory:
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
                self._base = torch.cuda.memory_allocated(self.device)
            else:
                self._annotation = torch.profiler.record_function(_ANNOTATION)
                self._annotation.__enter__()
        self._t0 = time.perf_counter()

    def _after(self, module, args, output) -> None:
        import torch

        self._sync()
        self.times.append(time.perf_counter() - self._t0)
        if self.track_memory:
            if self.device.type == "cuda":
                self.cuda_peaks.append(torch.cuda.max_memory_allocated(self.device) - self._base)
            elif self._annotation is not None:
                self._annotation.__exit__(None, None, None)
                self._annotation = None

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def _cpu_peak_bytes(prof) -> int:
    """Largest extra allocation held inside the annotated mixer call, from profiler memory events."""
    events = list(prof.profiler.kineto_results.events())
    windows = [(e.start_ns(), e.end_ns()) for e in events if e.name() == _ANNOTATION]
    if not windows:
        return 0
    start, end = windows[-1]
    mem = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    running = base = peak = 0
    for ts, nbytes in mem:
        if ts < start:
            running += nbytes
            base = peak = running
        elif ts <= end:
            running += nbytes
            peak = max(peak, running)
        else:
            break
    return max(0, peak - base)


def _cache_kwarg(model: "nn.Module") -> str:
    import inspect

    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _output_cache(output: Any) -> Any:
    for name in ("cache", "past_key_values"):
        value = output.get(name) if hasattr(output, "get") else getattr(output, name, None)
        if value is not None:
            return value
    raise RuntimeError("the model returned no cache; cannot profile decode")


def _state_bytes(cache: Any) -> int:
    """Bytes held by the cache (all tensors reachable from its layers)."""
    import torch

    seen: set[int] = set()
    total = 0

    def visit(value: Any, depth: int = 0) -> None:
        nonlocal total
        if isinstance(value, torch.Tensor):
            if id(value) not in seen:
                seen.add(id(value))
                total += value.numel() * value.element_size()
        elif depth < 3 and isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)
        elif depth < 2 and hasattr(value, "__dict__") and not isinstance(value, type):
            for item in vars(value).values():
                visit(item, depth + 1)

    for layer in getattr(cache, "layers", None) or [cache]:
        visit(layer)
    return total


def _measure_operator(
    op: Operator,
    hidden: int,
    seq_lens: Sequence[int],
    *,
    repeats: int,
    window: int,
    attn: str,
    device: "torch.device",
    dtype: "torch.dtype",
    measure_memory: bool,
    on_step: Callable[[str], None] | None,
) -> list[ProfileRow]:
    import torch

    try:
        model, mixer = op.build(hidden, window, attn)
    except ImportError as exc:  # a family missing from this transformers: report it in the table
        return [ProfileRow(op.key, phase, n, available=False, note=f"unavailable: {exc}")
                for n in seq_lens for phase in ("prefill", "decode")]
    model = model.to(device=device, dtype=dtype).eval()
    n_params = sum(p.numel() for p in mixer.parameters())
    cache_kw = _cache_kwarg(model)
    meter = _MixerMeter(mixer, device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    rows: list[ProfileRow] = []
    try:
        for n in seq_lens:
            if on_step:
                on_step(f"{op.key} L={n}")
            x = torch.randn(1, n, hidden, generator=generator).to(device=device, dtype=dtype)
            step = torch.randn(1, 1, hidden, generator=generator).to(device=device, dtype=dtype)
            # Explicit positions: a cache holding only conv/recurrent state cannot report its length.
            prefill_kw = {"inputs_embeds": x, "use_cache": True, "position_ids": torch.arange(n, device=device)[None]}
            decode_kw = {"inputs_embeds": step, "use_cache": True, "position_ids": torch.tensor([[n]], device=device)}
            layer_type = model.config.layer_types[0]
            if layer_type in ("conv", "linear_attention"):
                # No attention layer, no mask: a prebuilt (empty) mask mapping stops the model from
                # building a causal mask, which would ask the conv-only cache for a KV length.
                prefill_kw["attention_mask"] = decode_kw["attention_mask"] = {layer_type: None}
            with torch.inference_mode():
                meter.times.clear()
                for _ in range(1 + repeats):  # first call is a warm-up
                    out = model(**prefill_kw)
                prefill = meter.times[1:]
                cache = _output_cache(out)
                state = _state_bytes(cache)
                decode_kw[cache_kw] = cache
                meter.times.clear()
                for _ in range(1 + max(repeats, _MIN_DECODE_REPEATS)):  # one step is cheap: time more
                    model(**decode_kw)
                decode = meter.times[1:]
                peaks = [None, None]
                if measure_memory:
                    peaks = [_peak(model, meter, device, prefill_kw), _peak(model, meter, device, decode_kw)]
            for phase, times, peak in (("prefill", prefill, peaks[0]), ("decode", decode, peaks[1])):
                rows.append(
                    ProfileRow(
                        operator=op.key,
                        phase=phase,
                        seq_len=n,
                        latency_ms=statistics.median(times) * 1e3,
                        latency_min_ms=min(times) * 1e3,
                        peak_mem_mib=None if peak is None else peak / 2**20,
                        state_mib=state / 2**20,
                        mixer_params=n_params,
                    )
                )
    finally:
        meter.close()
    return rows


@contextlib.contextmanager
def _native_stderr_silenced():
    """Kineto writes two log lines per profiler session straight to file descriptor 2; hide them."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        fd = None
    if fd is None:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _peak(model: "nn.Module", meter: _MixerMeter, device: "torch.device", kwargs: dict[str, Any]) -> int:
    import torch

    meter.track_memory = True
    try:
        if device.type == "cuda":
            meter.cuda_peaks.clear()
            model(**kwargs)
            return meter.cuda_peaks[-1]
        with _native_stderr_silenced(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
        ) as prof:
            model(**kwargs)
        return _cpu_peak_bytes(prof)
    finally:
        meter.track_memory = False


def run_profile(
    *,
    hidden: int = 512,
    seq_lens: Sequence[int] = DEFAULT_SEQ_LENS,
    operators: Sequence[str] | None = None,
    repeats: int = 3,
    window: int = 512,
    attn_implementation: str = "sdpa",
    device: "str | torch.device | None" = "cpu",
    dtype: "str | torch.dtype" = "float32",
    threads: int | None = None,
    measure_memory: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Profile ``operators`` (default: all of :data:`OPERATORS`) at ``hidden`` over ``seq_lens``.

    Args:
        hidden: model width shared by every operator (multiple of 64).
        seq_lens: prefill lengths; decode is measured at each as context length.
        repeats: timed calls per point (median reported) after one warm-up call.
        window: sliding window of ``swa`` (Gemma 3 270M uses 512).
        attn_implementation: ``"sdpa"`` or ``"eager"`` for the attention operators.
        device, dtype: where and in what precision to run (``None`` device: CUDA if available).
        threads: ``torch.set_num_threads`` for the run (CPU); ``None`` keeps the current setting.
        measure_memory: also measure peak memory (one extra call per point).
        on_step: called with a short description before each point (progress display).

    Returns:
        ``{"meta": {...hardware and settings...}, "rows": [ProfileRow as dict, ...]}``.
    """
    import platform

    import torch

    from lfmgym.model.loading import resolve_device, resolve_dtype

    keys = list(operators) if operators else list(OPERATORS)
    unknown = [k for k in keys if k not in OPERATORS]
    if unknown:
        raise ValueError(f"unknown operator(s) {unknown}; choose from {list(OPERATORS)}")
    lens = sorted({int(n) for n in seq_lens})
    if not lens or lens[0] < 1:
        raise ValueError(f"seq_lens must be positive integers, got {list(seq_lens)}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    _heads(hidden)  # validates the hidden size before any model is built
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        rows: list[ProfileRow] = []
        for key in keys:
            rows.extend(
                _measure_operator(
                    OPERATORS[key], hidden, lens, repeats=repeats, window=window, attn=attn_implementation,
                    device=dev, dtype=torch_dtype, measure_memory=measure_memory, on_step=on_step,
                )
            )
    finally:
        torch.set_num_threads(old_threads)
    meta = {
        "hidden": hidden,
        "seq_lens": lens,
        "operators": {k: OPERATORS[k].label for k in keys},
        "repeats": repeats,
        "window": window,
        "attn_implementation": attn_implementation,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine()),
        "dtype": str(torch_dtype).replace("torch.", ""),
        "threads": threads or old_threads,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    return {"meta": meta, "rows": [asdict(r) for r in rows]}


# --------------------------------------------------------------------------------------------
# Reporting


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def format_profile_table(result: dict[str, Any], baseline: str = "short_conv") -> str:
    """Markdown table: per operator and length, prefill/decode latency, their ratio to ``baseline``,
    peak memory and state size."""
    rows = result["rows"]
    by_key = {(r["operator"], r["phase"], r["seq_len"]): r for r in rows}
    params = {r["operator"]: r.get("mixer_params") for r in rows if r.get("mixer_params")}
    lines = [
        f"Operator profile on {result['meta']['device']} ({result['meta']['device_name']}), "
        f"hidden={result['meta']['hidden']}, {result['meta']['dtype']}, threads={result['meta']['threads']}, "
        f"attention={result['meta']['attn_implementation']}, SWA window={result['meta']['window']}",
        "",
        "Latency: best of the timed calls (median in profile.json); ×conv: ratio to the short conv at the same L.",
        "Mixer parameters: " + ", ".join(
            f"{op} {params[op] / 1e6:.2f}M" for op in result["meta"]["operators"] if params.get(op)
        ) + ".",
        "",
        "| operator | L | prefill ms | ×conv | decode ms | ×conv | prefill peak MiB | decode peak MiB | state MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op in result["meta"]["operators"]:
        for n in result["meta"]["seq_lens"]:
            pre, dec = by_key.get((op, "prefill", n)), by_key.get((op, "decode", n))
            if pre is None or dec is None:
                continue
            if not pre["available"]:
                lines.append(f"| {op} | {n} | {pre['note']} | | | | | | |")
                continue
            ratios = []
            for phase, row in (("prefill", pre), ("decode", dec)):
                base = by_key.get((baseline, phase, n))
                ok = base and base["available"] and base["latency_min_ms"]
                ratios.append(_fmt(row["latency_min_ms"] / base["latency_min_ms"], 1) if ok else "-")
            lines.append(
                f"| {op} | {n} | {_fmt(pre['latency_min_ms'])} | {ratios[0]} | {_fmt(dec['latency_min_ms'], 3)} | {ratios[1]} "
                f"| {_fmt(pre['peak_mem_mib'])} | {_fmt(dec['peak_mem_mib'])} | {_fmt(pre['state_mib'], 3)} |"
            )
    return "\n".join(lines)


def plot_profile(result: dict[str, Any], path: str | Path) -> Path:
    """Save a three-panel plot (prefill latency, decode latency, prefill peak memory vs length)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("prefill", "latency_min_ms", "prefill latency (ms, best call)"),
        ("decode", "latency_min_ms", "one decode step (ms, best call)"),
        ("prefill", "peak_mem_mib", "prefill peak memory (MiB)"),
    )
    for ax, (phase, field_name, title) in zip(axes, panels):
        for op, label in result["meta"]["operators"].items():
            pts = [(r["seq_len"], r[field_name]) for r in result["rows"]
                   if r["operator"] == op and r["phase"] == phase and r["available"] and r[field_name] is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)" if phase == "prefill" else "context length (tokens)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    meta = result["meta"]
    fig.suptitle(f"operator profile: {meta['device_name'] or meta['device']}, hidden={meta['hidden']}, {meta['dtype']}")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_profile(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``profile.json``, ``profile.md`` and ``profile.png`` under ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "profile.json", "markdown": out / "profile.md", "plot": out / "profile.png"}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(format_profile_table(result) + "\n", encoding="utf-8")
    plot_profile(result, paths["plot"])
    return paths
