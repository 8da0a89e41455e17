"""Extension points of lfmgym, one documented hook each (in the style of pytest's hookspecs).

A plugin is any module reachable from an entry point in the ``lfmgym`` group::

    # the plugin distribution's pyproject.toml
    [project.entry-points.lfmgym]
    my_env = "my_package.plugin"

and that module defines functions named like the hooks below, decorated with
``lfmgym.hookimpl``. Every hook except :func:`lfmgym_add_commands` returns a list of
:class:`lfmgym.Spec` -- ``Spec(name, factory, description, version)`` -- and the registry
(:func:`lfmgym.plugins.get_registry`) collects them. Two plugins offering the same name are
both kept under ``<plugin>:<name>`` and the clash is reported by ``lfmgym plugins``; nothing is
silently overwritten.

lfmgym's own environments and rewards register through these same hooks and entry points.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("lfmgym")


@hookspec
def lfmgym_environments() -> list:
    """Return environment specs.

    Each :class:`lfmgym.Spec` has ``factory(**kwargs) -> lfmgym.Env`` (usually the Env subclass
    itself). The name becomes the gymnasium id ``lfmgym/<name>``. ``kwargs`` are the env's
    constructor arguments (``tool_format``, ``max_turns``, ``difficulty``, ...).
    """


@hookspec
def lfmgym_reward_functions() -> list:
    """Return reward-function specs.

    ``factory(**kwargs)`` returns a picklable callable. Reward callables take the completion text
    (and task fields as keyword arguments) and return a float; their docstring gives the formula.
    """


@hookspec
def lfmgym_tools() -> list:
    """Return tool specs: ``factory()`` returns a typed, documented Python function (its JSON
    schema comes from ``transformers.utils.get_json_schema``) that environments may offer."""


@hookspec
def lfmgym_judges() -> list:
    """Return judge specs for the DPO jury.

    ``factory(**kwargs)`` returns a callable ``judge(prompt_messages, completion_text) -> float``
    in ``[0, 1]`` (e.g. a local model or an OpenAI-compatible endpoint with a rubric prompt).
    """


@hookspec
def lfmgym_search_backends() -> list:
    """Return search-backend specs for the web-search environment.

    ``factory(**kwargs)`` returns an object with ``search(query: str, k: int) -> list[dict]``
    (each hit: ``id``, ``title``, ``url``, ``snippet``) and ``open(url_or_id: str) -> str``.
    """


@hookspec
def lfmgym_add_commands(subparsers) -> None:
    """Add CLI sub-commands to ``lfmgym``.

    ``subparsers`` is the :mod:`argparse` sub-parser action of the main parser; call
    ``subparsers.add_parser(...)`` and ``set_defaults(func=handler)`` where ``handler(args)``
    returns an exit code. Import heavy modules inside the handler so ``lfmgym --help`` stays fast.
    """
