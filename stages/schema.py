"""Typed, frozen config sections: one declaration gives the field types, defaults, bounds and help.

A section is a frozen dataclass deriving from :class:`Section`; each field's type is its annotation
and its default, bounds and help come from :func:`setting` (or :func:`free_dict`, :func:`named`,
:func:`listed` for the three kinds of containers)::

    @dataclass(frozen=True)
    class LoraSettings(Section):
        enabled: bool = setting(False, "train LoRA adapters")
        r: int = setting(16, "LoRA rank", min=1)

    lora = LoraSettings.from_dict({"r": 8}, "sft.lora")   # checked, defaults filled
    lora.r                                                # 8; lora.r = 4 raises FrozenInstanceError
    lora.to_dict()                                        # {"enabled": False, "r": 8}: plain, JSON-ready

The annotations say what a value may be: ``int``, ``float``, ``str``, ``bool`` (``X | None`` for a
nullable one), ``tuple[str, ...]`` (a list of names), another :class:`Section` (a nested section),
:class:`FrozenDict` (free-form arguments passed on as they are, e.g. env constructor kwargs),
``Mapping[str, S]`` (sub-sections by free-form name, e.g. envs) and ``tuple[S, ...]`` (a list of
sub-sections, e.g. judges). :meth:`Section.from_dict` checks a raw mapping against them; every
error is a :class:`ConfigError` whose message starts with the dotted path of the bad field.
:func:`describe` lists every field (the ``--show-config`` reference) from the same declarations.
:mod:`lfmgym.stages.config` declares the pipeline's sections with it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["ConfigError", "Section", "FrozenDict", "setting", "free_dict", "named", "listed", "freeze", "thaw",
           "apply_overrides", "config_diff", "describe"]


class ConfigError(ValueError):
    """A configuration problem; the message starts with the dotted path of the bad field."""


# --------------------------------------------------------------------------- frozen values


class FrozenDict(Mapping):
    """A read-only mapping whose nested dicts and lists are frozen too (dicts -> FrozenDict,
    lists -> tuples). Compares equal to a dict with the same items; :func:`thaw` gives a plain,
    mutable deep copy to hand to code outside the config (env constructors, TRL)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping | None = None) -> None:
        object.__setattr__(self, "_data", {k: freeze(v) for k, v in dict(data or {}).items()})

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self) -> Iterator:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return thaw(self) == thaw(other)  # equal to the plain dict it was made from (lists, not tuples)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __setattr__(self, name, value):
        raise AttributeError(f"FrozenDict is read-only (cannot set {name!r})")

    def __reduce__(self):
        return (FrozenDict, (thaw(self),))

    def __deepcopy__(self, memo):
        return self  # immutable all the way down


def freeze(value: Any) -> Any:
    """``value`` with every dict turned into a :class:`FrozenDict` and every list into a tuple."""
    if isinstance(value, (FrozenDict, Section)):
        return value
    if isinstance(value, Mapping):
        return FrozenDict(value)
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain deep copy of a config value: sections and frozen dicts -> dicts, tuples -> lists
    (the same JSON/YAML a config file holds)."""
    if isinstance(value, Section):
        return {f.name: thaw(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value  # a scalar (configs hold nothing else); any other object is handed on as is


# --------------------------------------------------------------------------- declarations


def setting(default: Any, help: str, *, choices: tuple | None = None, min: float | None = None,
            max: float | None = None) -> Any:
    """A scalar field (type from its annotation; ``X | None`` makes it nullable) with its default,
    a line of help, and optional ``choices`` and inclusive ``min``/``max`` bounds."""
    meta = {"help": help, "choices": choices, "min": min, "max": max}
    return dataclasses.field(default=freeze(default), metadata=meta)


def free_dict(help: str) -> Any:
    """A :class:`FrozenDict` field of free-form arguments, checked later by their consumer."""
    return dataclasses.field(default_factory=FrozenDict, metadata={"help": help})


def named(help: str) -> Any:
    """A ``Mapping[str, SomeSection]`` field: sub-sections by free-form name (e.g. env names)."""
    return dataclasses.field(default_factory=FrozenDict, metadata={"help": help})


def listed(help: str) -> Any:
    """A ``tuple[SomeSection, ...]`` field: a list of sub-sections (e.g. the LLM judges)."""
    return dataclasses.field(default=(), metadata={"help": help})


class Section:
    """Base of a frozen config section (declare subclasses with ``@dataclass(frozen=True)``).

    Attributes are the fields; ``section["field"]`` reads one too (a read-only view for scripts
    written against the plain-dict config), and :meth:`to_dict` gives the plain nested dict.
    """

    @classmethod
    def from_dict(cls, raw: Any, path: str = ""):
        """Check ``raw`` (a mapping, ``None`` for all defaults, or a section) and build the section;
        ``path`` is this section's dotted path in error messages."""
        return _build(cls, raw, path)

    def to_dict(self) -> dict[str, Any]:
        """The section as a plain nested dict (lists, dicts), in field order: what a config file holds."""
        return thaw(self)

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.__dataclass_fields__

    def keys(self):
        return self.__dataclass_fields__.keys()


# --------------------------------------------------------------------------- reading annotations


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What one annotation means: ``scalar`` (``types``, ``nullable``), ``names`` (a list of
    ``types``), ``section`` / ``mapping`` / ``sections`` (of ``sub``), or ``free``."""

    kind: str
    types: tuple[type, ...] = ()
    nullable: bool = False
    sub: type | None = None


def _is_section(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, Section)


def _kind(hint: Any) -> _Kind:
    if hint is FrozenDict:
        return _Kind("free")
    if _is_section(hint):
        return _Kind("section", sub=hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Mapping, dict, typing.Mapping) and len(args) == 2 and _is_section(args[1]):
        return _Kind("mapping", sub=args[1])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if _is_section(args[0]):
            return _Kind("sections", sub=args[0])
        return _Kind("names", types=(args[0],))
    if origin in (typing.Union, types.UnionType):
        rest = tuple(a for a in args if a is not type(None))
        return _Kind("scalar", types=rest, nullable=len(rest) < len(args))
    if isinstance(hint, type):
        return _Kind("scalar", types=(hint,))
    raise TypeError(f"config annotation {hint!r} is not one a section can hold")


@functools.cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field, _Kind], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, _kind(hints[f.name])) for f in dataclasses.fields(cls))


# --------------------------------------------------------------------------- checking


def _type_names(types_: tuple[type, ...]) -> str:
    return "/".join(t.__name__ for t in types_)


def _coerce(value: Any, kind: _Kind, meta: Mapping, path: str) -> Any:
    if value is None:
        if kind.nullable:
            return None
        raise ConfigError(f"{path}: must not be null ({meta['help']})")
    types_ = kind.types
    if float in types_ and isinstance(value, str):
        # PyYAML reads `1e-3` (no dot) as a string; accept any number a user would write.
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{path}: expected a number, got {value!r}") from None
    if int in types_ and isinstance(value, float) and value.is_integer() and float not in types_:
        value = int(value)
    if float in types_ and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in types_:
        raise ConfigError(f"{path}: expected {_type_names(types_)}, got a boolean {value!r}")
    if not isinstance(value, types_):
        raise ConfigError(f"{path}: expected {_type_names(types_)}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: must be finite, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ConfigError(f"{path}: {value} is out of the 64-bit integer range")
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"{path}: {value!r} is not one of {list(meta['choices'])}")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{path}: must be >= {meta['min']}, got {value!r}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(f"{path}: must be <= {meta['max']}, got {value!r}")
    return value


def _build(cls: type, raw: Any, path: str):
    if raw is None:
        raw = {}
    if isinstance(raw, Section):
        raw = raw.to_dict()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(raw).__name__}")
    fields = _fields(cls)
    known = [f.name for f, _ in fields]
    unknown = [k for k in raw if k not in known]
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown field; known fields here: {sorted(known)}")
    values: dict[str, Any] = {}
    for f, kind in fields:
        sub = f"{path}.{f.name}" if path else f.name
        value = raw.get(f.name)
        if kind.kind == "scalar":
            values[f.name] = _coerce(f.default if f.name not in raw else value, kind, f.metadata, sub)
        elif kind.kind == "names":
            value = f.default if f.name not in raw else value
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{sub}: expected a list, got {type(value).__name__} {value!r}")
            values[f.name] = tuple(_coerce(v, kind, f.metadata, f"{sub}[{i}]") for i, v in enumerate(value))
        elif kind.kind == "free":
            value = {} if value is None else value
            if not isinstance(value, Mapping):
                raise ConfigError(f"{sub}: expected a mapping, got {type(value).__name__} {value!r}")
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise ConfigError(f"{sub}: keys must be strings, got {bad[0]!r}")
            values[f.name] = FrozenDict(value)
        elif kind.kind == "mapping":
            value = {} if value is None else value
            if not isinstance(value, Mapping):
                raise ConfigError(f"{sub}: expected a mapping of name -> settings, got {type(value).__name__}")
            values[f.name] = FrozenDict({str(name): _build(kind.sub, item, f"{sub}.{name}")
                                         for name, item in value.items()})
        elif kind.kind == "sections":
            value = [] if value is None else value
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{sub}: expected a list, got {type(value).__name__}")
            values[f.name] = tuple(_build(kind.sub, item, f"{sub}[{i}]") for i, item in enumerate(value))
        else:
            values[f.name] = _build(kind.sub, value, sub)
    return cls(**values)


# --------------------------------------------------------------------------- plain-dict helpers


def apply_overrides(raw: dict, overrides: Mapping[str, Any] | None) -> dict:
    """Set ``{"a.b.c": value}`` paths in a copy of ``raw`` (intermediate dicts are created).

    An override of a field that does not exist is caught by validation, which names the path.
    """
    out = thaw(raw)
    for dotted, value in (overrides or {}).items():
        if not isinstance(dotted, str) or not dotted or any(not p for p in dotted.split(".")):
            raise ConfigError(f"override {dotted!r}: expected a dotted path like 'sft.learning_rate'")
        parts = dotted.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is a {type(nxt).__name__}, cannot set {dotted!r} inside it")
            node = nxt
        node[parts[-1]] = thaw(value)
    return out


def config_diff(a: Any, b: Any, path: str = "") -> str | None:
    """The dotted path of the first difference between two configs (sections or plain dicts),
    ``None`` when equal."""
    a = thaw(a) if isinstance(a, Section) else a
    b = thaw(b) if isinstance(b, Section) else b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}.{key}" if path else str(key)
            d = config_diff(a[key], b[key], f"{path}.{key}" if path else str(key))
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = config_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else (path or "config")


def _type_label(kind: _Kind, meta: Mapping) -> str:
    if kind.kind == "scalar":
        label = " | ".join([t.__name__ for t in kind.types] + (["null"] if kind.nullable else []))
        low, high, choices = meta.get("min"), meta.get("max"), meta.get("choices")
        if choices:
            label += " (" + "|".join(map(str, choices)) + ")"
        elif low is not None and high is not None:
            label += f" in [{low}, {high}]"
        elif low is not None:
            label += f" >= {low}"
        elif high is not None:
            label += f" <= {high}"
        return label
    if kind.kind == "names":
        return f"list[{_type_names(kind.types)}]"
    if kind.kind == "free":
        return "mapping"
    if kind.kind == "mapping":
        return "name -> settings"
    return "list of settings"


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted path, type, default, help)`` for every field of section ``cls`` and its
    sub-sections, read from their declarations: the reference ``lfmgym pipeline --show-config``
    prints."""
    rows = []
    for f, kind in _fields(cls):
        path = f"{prefix}{f.name}"
        help_ = f.metadata.get("help", "")
        if kind.kind == "section":
            rows.extend(describe(kind.sub, f"{path}."))
            continue
        if kind.kind == "mapping":
            path, default = f"{path}.<name>", ""
        elif kind.kind == "sections":
            path, default = f"{path}[i]", "[]"
        elif kind.kind == "free":
            default = "{}"
        else:
            default = repr(thaw(f.default))
        rows.append((path, _type_label(kind, f.metadata), default, help_))
        if kind.kind in ("mapping", "sections"):
            rows.extend(describe(kind.sub, f"{path}."))
    return rows
