"""Plugin loading: a pluggy manager fed by the ``lfmgym`` entry-point group, and the registry.

Loading is fault-isolated: a plugin that fails to import, or raises inside a hook, is recorded
in :attr:`Registry.broken` with one clear line (distribution, entry point, error) and every
other plugin still loads. That includes a plugin calling ``sys.exit()`` or raising any other
``BaseException`` on import; only ``KeyboardInterrupt`` (the user) goes through.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from lfmgym import hookspecs

__all__ = ["Spec", "hookimpl", "Registry", "PluginInfo", "PluginError", "get_registry", "make_plugin_manager",
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "lfmgym"
PROJECT = "lfmgym"
hookimpl = pluggy.HookimplMarker(PROJECT)

KINDS = {
    "envs": "lfmgym_environments",
    "rewards": "lfmgym_reward_functions",
    "tools": "lfmgym_tools",
    "judges": "lfmgym_judges",
    "search_backends": "lfmgym_search_backends",
}


@dataclass
class Spec:
    """What a hook returns for one extension: a name, a factory, and a line of description."""

    name: str
    factory: Callable[..., Any]
    description: str = ""
    version: str = ""
    plugin: str = ""  # filled in by the registry: the distribution that provided it

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"Spec.name must be a non-empty string without spaces, got {self.name!r}")
        if not callable(self.factory):
            raise TypeError(f"Spec {self.name!r}: factory must be callable, got {type(self.factory).__name__}")


@dataclass
class PluginInfo:
    """One loaded (or broken) plugin, as listed by ``lfmgym plugins``."""

    name: str  # entry-point name
    dist: str  # distribution name
    version: str
    module: str
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Registry:
    """Everything the plugins provide, by kind and name."""

    envs: dict[str, Spec] = field(default_factory=dict)
    rewards: dict[str, Spec] = field(default_factory=dict)
    tools: dict[str, Spec] = field(default_factory=dict)
    judges: dict[str, Spec] = field(default_factory=dict)
    search_backends: dict[str, Spec] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    pm: pluggy.PluginManager | None = None

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins if not p.ok]

    def get(self, kind: str, name: str) -> Spec:
        """Look up ``name`` among ``kind`` (``envs``, ``rewards``, ...), with a helpful error."""
        table: dict[str, Spec] = getattr(self, kind)
        if name in table:
            return table[name]
        namespaced = sorted(k for k in table if k.split(":", 1)[-1] == name)
        if namespaced:
            raise KeyError(f"{kind[:-1]} {name!r} is provided by several plugins; use one of {namespaced}")
        raise KeyError(f"unknown {kind[:-1]} {name!r}; available: {sorted(table) or 'none'}")


def make_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _entry_points() -> list[md.EntryPoint]:
    eps = md.entry_points(group=ENTRY_POINT_GROUP)
    # Deduplicate (an editable install can expose the same dist twice) and sort for determinism.
    seen, out = set(), []
    for ep in sorted(eps, key=lambda e: (e.dist.name if e.dist else "", e.name)):
        key = (ep.dist.name if ep.dist else "", ep.name, ep.value)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


def _describe(exc: BaseException) -> str:
    """``Type: message`` of a plugin's exception, never raising (a hostile ``__str__``)."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable>"
    return f"{type(exc).__name__}: {text[:500]}"


def _warn(msg: str) -> None:
    print(f"lfmgym: {msg}", file=sys.stderr)


def load_registry(extra_plugins: list[tuple[str, Any]] = (), entry_points: bool = True, quiet: bool = False) -> Registry:
    """Load every plugin and collect its specs into a fresh :class:`Registry`.

    Args:
        extra_plugins: ``(name, module_or_object)`` pairs registered in addition to entry points
            (handy in tests and notebooks).
        entry_points: load the ``lfmgym`` entry-point group.
        quiet: do not print the one-line report of broken plugins to stderr.
    """
    pm = make_plugin_manager()
    reg = Registry(pm=pm)
    candidates: list[tuple[PluginInfo, Callable[[], Any]]] = []
    if entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            candidates.append((PluginInfo(ep.name, dist, version, ep.value), ep.load))
    for name, obj in extra_plugins:
        candidates.append((PluginInfo(name, name, "", getattr(obj, "__name__", repr(obj))), lambda o=obj: o))

    found: dict[str, list[tuple[str, Spec]]] = {kind: [] for kind in KINDS}
    for info, load in candidates:
        reg.plugins.append(info)
        try:
            module = load()
            pm.register(module, name=f"{info.dist}:{info.name}")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit on import must not end every lfmgym command
            info.error = f"failed to import: {_describe(exc)}"
            if not quiet:
                _warn(f"plugin {info.name!r} from distribution {info.dist!r} is broken: {info.error}")
            continue
        for kind, hook in KINDS.items():
            fn = getattr(module, hook, None)
            if fn is None:
                continue
            try:
                specs = list(fn() or [])
                for spec in specs:
                    if not isinstance(spec, Spec):
                        raise TypeError(f"{hook} returned {type(spec).__name__}, expected lfmgym.Spec")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                info.error = f"{hook} raised {_describe(exc)}"
                if not quiet:
                    _warn(f"plugin {info.name!r} from distribution {info.dist!r} is broken: {info.error}")
                break
            for spec in specs:
                spec.plugin = info.dist
                found[kind].append((info.dist, spec))
                info.provides.setdefault(kind, []).append(spec.name)

    for kind, entries in found.items():
        table: dict[str, Spec] = getattr(reg, kind)
        by_name: dict[str, list[tuple[str, Spec]]] = {}
        for dist, spec in entries:
            by_name.setdefault(spec.name, []).append((dist, spec))
        for name, providers in by_name.items():
            if len(providers) == 1:
                table[name] = providers[0][1]
                continue
            dists = [d for d, _ in providers]
            reg.clashes.append(f"{kind[:-1]} {name!r} is provided by {', '.join(dists)}; registered as "
                               + ", ".join(f"'{d}:{name}'" for d in dists))
            for i, (dist, spec) in enumerate(providers):
                key = f"{dist}:{name}"
                if key in table:  # the same dist offering the name twice
                    key = f"{dist}:{name}#{i}"
                table[key] = spec
    for clash in reg.clashes:
        if not quiet:
            warnings.warn(f"lfmgym: name clash: {clash}", stacklevel=2)
    return reg


_REGISTRY: Registry | None = None


def get_registry(reload: bool = False) -> Registry:
    """The process-wide registry, loaded on first use."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        _REGISTRY = load_registry()
    return _REGISTRY


def make_env(name: str, **kwargs):
    """Build the environment registered as ``name`` with constructor ``kwargs``.

    Raises:
        KeyError: for an unknown name (listing the known ones).
        ValueError: for a constructor argument the env does not take (``--env-arg`` typos).
    """
    from lfmgym.env import Env

    spec = get_registry().get("envs", name)
    try:
        env = spec.factory(**kwargs)
    except TypeError as exc:
        # Only the "no such argument" case is the caller's mistake; other TypeErrors are env bugs.
        if "unexpected keyword argument" not in str(exc):
            raise PluginError(f"env {name!r} from plugin {spec.plugin or '?'}: its factory raised {_describe(exc)}") from exc
        raise ValueError(f"env {name!r}: {exc}") from exc
    except (ValueError, KeyError):  # the env names a bad argument value: the caller's mistake
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise PluginError(f"env {name!r} from plugin {spec.plugin or '?'}: its factory raised {_describe(exc)}") from exc
    if not isinstance(env, Env):
        raise PluginError(f"env {name!r} from plugin {spec.plugin or '?'}: its factory returned "
                          f"{type(env).__name__}, not an lfmgym.Env")
    return env


class PluginError(RuntimeError):
    """A plugin's code failed (a factory that raised or returned the wrong type): one line that
    names the plugin, for the CLI to print instead of a traceback."""


def register_gymnasium_envs(registry: Registry | None = None) -> list[str]:
    """Register every plugin environment as ``lfmgym/<name>`` with gymnasium; returns the ids."""
    import gymnasium

    reg = registry or get_registry()
    ids = []
    for name, spec in reg.envs.items():
        env_id = f"lfmgym/{name.replace(':', '.')}"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=spec.factory, disable_env_checker=True)
        ids.append(env_id)
    return ids
