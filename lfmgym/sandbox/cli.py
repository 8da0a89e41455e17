"""``lfmgym sandbox exec FILE.py``: run a file in the sandbox, for users debugging an env.

Prints the program's stdout and stderr verbatim (capped), then its exit status and the limit
that stopped it, if any, on stderr. Exits 0 when the program did, otherwise with its status.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_commands(subparsers) -> None:
    sandbox = subparsers.add_parser("sandbox", help="run Python in the isolated sandbox")
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    run = commands.add_parser(
        "exec",
        help="run FILE.py in the sandbox and report its exit status and any limit hit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", type=Path, help="a Python file to run as __main__")
    run.add_argument("--timeout", type=float, default=10.0, metavar="S", help="wall-clock limit (default 10)")
    run.add_argument("--memory", type=int, default=1024, metavar="MB",
                     help="memory limit of the whole sandbox, all its processes together (default 1024)")
    run.add_argument("--output-limit", type=int, default=20_000, metavar="CHARS", help="cap on stdout and on stderr")
    run.add_argument(
        "--unsafe",
        action="store_true",
        help="run WITHOUT isolation when bubblewrap is missing (resource limits only)",
    )
    run.set_defaults(func=cmd_sandbox_exec)


_FLAGS = {"cell_timeout": "--timeout", "episode_timeout": "--timeout", "memory_mb": "--memory",
          "output_limit": "--output-limit"}


def cmd_sandbox_exec(args) -> int:
    from lfmgym.sandbox import Sandbox, SandboxUnavailable

    try:
        code = args.file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"lfmgym sandbox exec: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        sandbox = Sandbox(
            cell_timeout=args.timeout,
            episode_timeout=args.timeout,
            memory_mb=args.memory,
            output_limit=args.output_limit,
            unsafe=args.unsafe,
        )
        with sandbox:
            result = sandbox.run(code, echo=False)
    except SandboxUnavailable as exc:
        print(f"lfmgym sandbox exec: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        # The Sandbox names its own argument (cell_timeout=...); the user typed the flag.
        message = str(exc)
        for argument, flag in _FLAGS.items():
            if message.startswith(argument + " "):
                message = f"{flag}: {message[len(argument) + 1:]}"
                break
        print(f"lfmgym sandbox exec: {message}", file=sys.stderr)
        return 2
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    if result.error and (result.exit_code != 0 or result.limit) and not result.error.startswith("SystemExit"):
        sys.stderr.write(result.error.rstrip("\n") + "\n")
    elif (result.stderr or result.stdout) and not (result.stderr or result.stdout).endswith("\n"):
        # Output cut mid-line (or a last line without newline): start the status on its own
        # line, on stderr, so stdout stays verbatim.
        sys.stderr.write("\n")
    print(
        f"[sandbox] exit status {result.exit_code}; limit: {result.limit or 'none'}; "
        f"{result.duration_s:.3f} s",
        file=sys.stderr,
    )
    return result.exit_code
