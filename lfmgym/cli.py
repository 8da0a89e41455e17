"""The ``lfmgym`` command line.

Core commands live here (plugins, envs, env show, play, check, new-env). Other packages add
theirs through ``add_commands(subparsers)`` (listed in :data:`COMMAND_MODULES`), and plugins
through the ``lfmgym_add_commands`` hook. Heavy imports happen inside handlers so that
``lfmgym --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

__all__ = ["main", "build_parser"]

# Packages of lfmgym itself that contribute sub-commands.
COMMAND_MODULES = [
    "lfmgym.stages.cli",  # pipeline, demo
    "lfmgym.eval.cli",  # eval, eval bfcl, report
    "lfmgym.rewards.cli",  # loops
    "lfmgym.model.cli",  # model info, model profile
    "lfmgym.sandbox.cli",  # sandbox exec
    "lfmgym.sweep.cli",  # sweep
    "lfmgym.calibrate",  # calibrate
    "lfmgym.data.cli",  # data
]


def _console():
    from rich.console import Console

    return Console()


# ----------------------------------------------------------------------------- handlers


def cmd_plugins(args) -> int:
    from rich.markup import escape
    from rich.table import Table

    from lfmgym.plugins import get_registry

    reg = get_registry()
    table = Table(title="lfmgym plugins")
    for col in ("plugin", "distribution", "version", "status", "provides"):
        table.add_column(col)
    for p in reg.plugins:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.provides.items())
        # Plugin names and error messages are third-party text: escape them, never read them as markup.
        status = "ok" if p.ok else f"[red]broken[/red]: {escape(p.error or '')}"
        table.add_row(escape(p.name), escape(p.dist), escape(p.version), status, escape(provides))
    _console().print(table)
    for clash in reg.clashes:
        _console().print(f"[yellow]name clash[/yellow]: {escape(clash)}")
    return 0 if not reg.broken else 1


def cmd_envs(args) -> int:
    from rich.markup import escape
    from rich.table import Table

    from lfmgym.plugins import get_registry

    reg = get_registry()
    if args.json:
        print(json.dumps([{"name": n, "plugin": s.plugin, "description": s.description} for n, s in reg.envs.items()]))
        return 0
    table = Table(title="lfmgym environments")
    for col in ("name", "plugin", "description"):
        table.add_column(col)
    for name, spec in sorted(reg.envs.items()):
        table.add_row(escape(name), escape(spec.plugin), escape(spec.description))
    _console().print(table)
    return 0


def env_arg_value(text: str) -> Any:
    """The value of an ``--env-arg KEY=VALUE``: JSON when it parses (``3``, ``true``,
    ``{"0": 1}``), else the text itself (a path, a name)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _env_kwargs(args) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if getattr(args, "tool_format", None):
        kwargs["tool_format"] = args.tool_format
    for item in getattr(args, "env_arg", None) or []:
        if "=" not in item:
            raise SystemExit(f"--env-arg {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        kwargs[key] = env_arg_value(value)
    return kwargs


def cmd_env_show(args) -> int:
    import numpy as np

    from lfmgym.plugins import make_env

    from rich.markup import escape

    env = make_env(args.name, **_env_kwargs(args))
    con = _console()
    con.rule(f"[bold]{escape(env.name)}[/bold]")
    con.print(f"{type(env).description}", markup=False)
    con.print(f"difficulties: {list(env.difficulties)}  max_turns: {env.max_turns}  "
              f"reward_range: {env.reward_range}  tool_format: {env.tool_format}", markup=False)
    con.print(f"reward weights: {env.reward_weights}", markup=False)
    task = env.sample_task(np.random.default_rng(args.seed))
    env.reset(seed=args.seed, options={"task": task})
    if len(env.toolbox):
        con.rule("tools")
        con.print_json(json.dumps(env.toolbox.schemas))
    con.rule(escape(f"sample task {task.id} (difficulty {task.difficulty})"))
    for m in env.episode.messages:
        con.print(f"[bold]{m['role']}[/bold]:", highlight=False)
        con.print(m["content"], markup=False, highlight=False)
    con.print(f"gold answer: {task.answer!r}", markup=False)
    return 0


def cmd_play(args) -> int:
    import numpy as np
    from rich.markup import escape

    from lfmgym.plugins import make_env
    from lfmgym.rollout import ModelPolicy, OraclePolicy, RandomPolicy, run_episodes

    kwargs = _env_kwargs(args)
    env = make_env(args.name, **kwargs)
    if args.policy == "oracle":
        policy = OraclePolicy(env)
    elif args.policy == "random":
        policy = RandomPolicy(args.seed)
    else:
        from lfmgym.backends import get_backend

        policy = ModelPolicy(get_backend(args.policy), temperature=args.temperature,
                             max_new_tokens=args.max_new_tokens, seed=args.seed)
    tasks = [env.sample_task(np.random.default_rng(args.seed + i)) for i in range(args.episodes)]
    records = run_episodes(lambda: make_env(args.name, **kwargs), policy, tasks, seed=args.seed)
    con = _console()
    for rec in records:
        con.rule(escape(f"{rec.env_name} task {rec.task.id}"))
        for m in rec.messages:
            con.print(f"[bold]{m['role']}[/bold]:", highlight=False)
            con.print(m["content"], markup=False, highlight=False)
        end = "final answer" if rec.terminated else f"truncated ({rec.truncation_reason})"
        con.print(f"[bold]reward {rec.reward:.3f}[/bold] ({end}); components: {escape(str(rec.components))}",
                  highlight=False)
    return 0


def cmd_check(args) -> int:
    from lfmgym.testing import check_env

    failed = 0
    for name in args.names:
        report = check_env(name, env_kwargs=_env_kwargs(args), n_junk=args.junk, raise_on_failure=False)
        print(report)
        failed += not report.ok
    return 1 if failed else 0


def cmd_new_env(args) -> int:
    from lfmgym.scaffold import scaffold_env

    path = scaffold_env(args.name, args.dir, force=args.force)
    print(f"created plugin package for env {args.name!r} in {path}")
    print(f"next: pip install -e {path} && lfmgym envs && lfmgym check {args.name}")
    return 0


# ----------------------------------------------------------------------------- parser


def _add_env_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool-format", choices=["pythonic", "json"], default=None, help="tool-call format")
    p.add_argument("--env-arg", action="append", metavar="KEY=VALUE",
                   help="constructor argument for the env (VALUE parsed as JSON when possible); repeatable")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**63), got {value}")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfmgym", description="RL gym for tiny agentic language models.")
    parser.add_argument("--version", action="version", version="lfmgym 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list plugins, what they provide, and broken ones")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("envs", help="list registered environments")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_envs)

    p = sub.add_parser("env", help="inspect one environment")
    env_sub = p.add_subparsers(dest="env_command", metavar="ACTION", required=True)
    show = env_sub.add_parser("show", help="tools, schemas and a sample task")
    show.add_argument("name")
    show.add_argument("--seed", type=_seed, default=0)
    _add_env_args(show)
    show.set_defaults(func=cmd_env_show)

    p = sub.add_parser("play", help="play episodes and print the transcript with rewards")
    p.add_argument("name")
    p.add_argument("--policy", default="oracle", help="oracle | random | a model (preset, path or hub id)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--episodes", type=_positive_int, default=1)
    p.add_argument("--temperature", type=_temperature, default=0.0)
    p.add_argument("--max-new-tokens", type=_positive_int, default=256)
    _add_env_args(p)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("check", help="conformance kit for environment authors")
    p.add_argument("names", nargs="+", metavar="NAME")
    p.add_argument("--junk", type=_positive_int, default=1000, help="number of junk actions to fuzz with")
    _add_env_args(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("new-env", help="scaffold an installable third-party environment plugin")
    p.add_argument("name")
    p.add_argument("--dir", required=True, help="directory to create the package in")
    p.add_argument("--force", action="store_true", help="overwrite an existing directory")
    p.set_defaults(func=cmd_new_env)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only tolerate the module itself being absent (a partial install); a missing
            # dependency *inside* it is a real error. tests/test_cli.py requires all of them.
            if exc.name != module_name:
                raise
            continue
        module.add_commands(sub)

    # Plugins can add commands too (e.g. the web_search env's `lfmgym corpus`).
    from lfmgym.plugins import get_registry

    reg = get_registry()
    if reg.pm is not None:
        for impl in reg.pm.hook.lfmgym_add_commands.get_hookimpls():
            try:
                impl.function(subparsers=sub)
            except Exception as exc:
                print(f"lfmgym: plugin {impl.plugin_name!r} failed to add commands: {exc}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (KeyError, ValueError, OSError) as exc:
        # Config and input errors name the field or the line (OSError: a missing file, a model
        # path or hub id that cannot be loaded); show them without a traceback.
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"lfmgym: error: {msg}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        # The sandbox refusing to start (no bubblewrap) or a backend that cannot serve (endpoint
        # down, no GPU for vLLM) are the user's setup, not crashes: say why in one line.
        from lfmgym.backends.base import BackendError
        from lfmgym.plugins import PluginError
        from lfmgym.sandbox.isolation import SandboxUnavailable

        # PluginError: a plugin's factory raised or returned the wrong type; the line names it.
        if not isinstance(exc, (SandboxUnavailable, BackendError, PluginError)):
            raise
        print(f"lfmgym: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
