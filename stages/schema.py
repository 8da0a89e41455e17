"""A small typed schema for nested config dicts: fields with types, defaults, bounds and help.

:func:`validate` fills defaults and checks a raw mapping against a schema (nested dicts,
:class:`F` scalars, :class:`FreeDict`, :class:`MapOf`, :class:`ListOf`); every error is a
:class:`ConfigError` whose message starts with the dotted path of the bad field.
:mod:`lfmgym.stages.config` declares the pipeline's schema with it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ConfigError", "F", "FreeDict", "MapOf", "ListOf", "defaults", "validate", "apply_overrides",
           "config_diff", "describe"]


class ConfigError(ValueError):
    """A configuration problem; the message starts with the dotted path of the bad field."""


@dataclass(frozen=True)
class F:
    """One scalar field: its type, default, bounds and a line of help."""

    type: type | tuple[type, ...]
    default: Any
    help: str
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool = False


@dataclass(frozen=True)
class FreeDict:
    """A dict passed through as is (e.g. env constructor kwargs), checked later by its consumer."""

    help: str


@dataclass(frozen=True)
class MapOf:
    """A mapping from free-form names (e.g. env names) to sub-configs with ``schema``."""

    schema: dict
    help: str


@dataclass(frozen=True)
class ListOf:
    """A list of sub-configs with ``schema`` (e.g. the LLM judges of the DPO jury)."""

    schema: dict
    help: str


def defaults(schema: dict) -> dict:
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        if isinstance(spec, F):
            out[key] = copy.deepcopy(spec.default)
        elif isinstance(spec, (FreeDict, MapOf)):
            out[key] = {}
        elif isinstance(spec, ListOf):
            out[key] = []
        else:
            out[key] = defaults(spec)
    return out


def _coerce(value: Any, spec: F, path: str) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise ConfigError(f"{path}: must not be null ({spec.help})")
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if float in types and isinstance(value, str):
        # PyYAML reads `1e-3` (no dot) as a string; accept any number a user would write.
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{path}: expected a number, got {value!r}") from None
    if int in types and isinstance(value, float) and value.is_integer() and float not in types:
        value = int(value)
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{path}: expected {'/'.join(t.__name__ for t in types)}, got a boolean {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{path}: expected {'/'.join(t.__name__ for t in types)}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: must be finite, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ConfigError(f"{path}: {value} is out of the 64-bit integer range")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{path}: {value!r} is not one of {list(spec.choices)}")
    if spec.min is not None and value < spec.min:
        raise ConfigError(f"{path}: must be >= {spec.min}, got {value!r}")
    if spec.max is not None and value > spec.max:
        raise ConfigError(f"{path}: must be <= {spec.max}, got {value!r}")
    return value


def validate(raw: Any, schema: dict, path: str) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(raw).__name__}")
    unknown = [k for k in raw if k not in schema]
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"{where}{unknown[0]}: unknown field; known fields here: {sorted(schema)}")
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        sub = f"{path}.{key}" if path else key
        value = raw.get(key, None)
        if isinstance(spec, F):
            out[key] = _coerce(copy.deepcopy(spec.default) if key not in raw else value, spec, sub)
        elif isinstance(spec, FreeDict):
            value = {} if value is None else value
            if not isinstance(value, Mapping):
                raise ConfigError(f"{sub}: expected a mapping, got {type(value).__name__} {value!r}")
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise ConfigError(f"{sub}: keys must be strings, got {bad[0]!r}")
            out[key] = copy.deepcopy(dict(value))
        elif isinstance(spec, MapOf):
            value = {} if value is None else value
            if not isinstance(value, Mapping):
                raise ConfigError(f"{sub}: expected a mapping of name -> settings, got {type(value).__name__}")
            out[key] = {str(name): validate(item, spec.schema, f"{sub}.{name}") for name, item in value.items()}
        elif isinstance(spec, ListOf):
            value = [] if value is None else value
            if not isinstance(value, list):
                raise ConfigError(f"{sub}: expected a list, got {type(value).__name__}")
            out[key] = [validate(item, spec.schema, f"{sub}[{i}]") for i, item in enumerate(value)]
        else:
            out[key] = validate(value, spec, sub)
    return out


def apply_overrides(raw: dict, overrides: Mapping[str, Any] | None) -> dict:
    """Set ``{"a.b.c": value}`` paths in a copy of ``raw`` (intermediate dicts are created).

    An override of a field that does not exist is caught by validation, which names the path.
    """
    out = copy.deepcopy(raw)
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
        node[parts[-1]] = copy.deepcopy(value)
    return out


def config_diff(a: Any, b: Any, path: str = "") -> str | None:
    """The dotted path of the first difference between two configs, ``None`` when equal."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                return f"{path}.{key}" if path else str(key)
            d = config_diff(a[key], b[key], f"{path}.{key}" if path else str(key))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = config_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else (path or "config")


def describe(schema: dict, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(dotted path, default, help)`` for every field: the reference printed by the CLI."""
    rows = []
    for key, spec in schema.items():
        path = f"{prefix}{key}"
        if isinstance(spec, F):
            rows.append((path, repr(spec.default), spec.help))
        elif isinstance(spec, FreeDict):
            rows.append((path, "{}", spec.help))
        elif isinstance(spec, MapOf):
            rows.append((f"{path}.<name>", "", spec.help))
            rows.extend(describe(spec.schema, f"{path}.<name>."))
        elif isinstance(spec, ListOf):
            rows.append((f"{path}[i]", "[]", spec.help))
            rows.extend(describe(spec.schema, f"{path}[i]."))
        else:
            rows.extend(describe(spec, f"{path}."))
    return rows
