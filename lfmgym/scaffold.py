"""``lfmgym new-env NAME --dir PATH``: scaffold an installable third-party environment plugin.

The package it writes is complete and passes the conformance kit as generated: a
``pyproject.toml`` declaring the ``lfmgym`` entry point, an env with one tool, and a pytest file
that calls :func:`lfmgym.testing.check_env`. Authors then replace the example task.
"""

from __future__ import annotations

import keyword
import re
import shutil
from pathlib import Path

__all__ = ["scaffold_env"]

_PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "lfmgym-{name_dash}"
version = "0.1.0"
description = "The {name} environment for lfmgym."
requires-python = ">=3.11"
dependencies = ["lfmgym"]

[project.optional-dependencies]
dev = ["pytest"]

# This is what makes lfmgym find the plugin.
[project.entry-points.lfmgym]
{name} = "{package}.plugin"

[tool.setuptools]
packages = ["{package}"]
'''

_ENV = '''"""The {name} environment: add two numbers with the `add` tool, then answer.

Replace `generate_task`, `tools`, `score` and `demonstrate` with your own task; keep
`lfmgym check {name}` green while you do.
"""

from __future__ import annotations

from lfmgym import Env, Episode, Task
from lfmgym.toolcalls import ToolCall, render_tool_calls


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


class {cls}(Env):
    name = "{name}"
    description = "Add two numbers with a tool (scaffolded example)."
    difficulties = (0, 1)
    reward_weights = {{"correct": 1.0, "used_tool": 0.0}}
    reward_range = (0.0, 1.0)
    default_max_turns = 3

    def generate_task(self, rng, difficulty):
        hi = 10 ** (difficulty + 1)
        a, b = int(rng.integers(0, hi)), int(rng.integers(0, hi))
        return Task(id=f"{name}-{{difficulty}}-{{a}}-{{b}}", prompt=f"What is {{a}} + {{b}}?",
                    answer=str(a + b), difficulty=difficulty, meta={{"a": a, "b": b}})

    def tools(self, task):
        return [add]

    def system_prompt(self, task):
        return "Use the add tool, then reply with only the number."

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        answer = (episode.final_answer or "").strip()
        return {{"correct": float(answer == task.answer), "used_tool": float(bool(episode.tool_calls))}}

    def demonstrate(self, task):
        call = ToolCall("add", {{"a": task.meta["a"], "b": task.meta["b"]}})
        return self.opening(task) + [
            {{"role": "assistant", "content": render_tool_calls([call], self.tool_format)}},
            {{"role": "tool", "content": task.answer}},
            {{"role": "assistant", "content": task.answer}},
        ]
'''

_PLUGIN = '''"""Registers the {name} environment with lfmgym (see the entry point in pyproject.toml)."""

from lfmgym import Spec, hookimpl

from {package}.env import {cls}


@hookimpl
def lfmgym_environments():
    return [Spec("{name}", {cls}, {cls}.description, "0.1.0")]
'''

_TEST = '''from lfmgym.testing import check_env

from {package}.env import {cls}


def test_conformance():
    report = check_env({cls}, n_junk=200)
    assert report.ok
'''

_README = '''# lfmgym-{name_dash}

An lfmgym environment plugin.

    pip install -e .
    lfmgym envs            # lists "{name}"
    lfmgym check {name}    # the conformance kit
    python -m pytest
'''


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Env"


def scaffold_env(name: str, directory: str | Path, *, force: bool = False) -> Path:
    """Write a plugin package for env ``name`` into ``directory`` and return its path.

    Raises:
        ValueError: when ``name`` is not a valid identifier or ``directory`` is not empty.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ValueError(f"env name {name!r}: use lowercase letters, digits and underscores, starting with a letter")
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        if not force:
            raise ValueError(f"--dir {root}: directory exists and is not empty (use --force)")
        shutil.rmtree(root)
    package = f"lfmgym_{name}"
    values = {"name": name, "name_dash": name.replace("_", "-"), "package": package, "cls": _class_name(name)}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": '"""lfmgym plugin: the {name} environment."""\n',
        f"{package}/env.py": _ENV,
        f"{package}/plugin.py": _PLUGIN,
        "tests/test_env.py": _TEST,
    }
    for rel, template in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values))
    return root
