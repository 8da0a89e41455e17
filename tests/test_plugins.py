"""Plugin loading: real entry points of a scaffolded dist, broken plugins, name clashes."""

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from lfmgym import Spec, hookimpl
from lfmgym.plugins import load_registry
from lfmgym.scaffold import scaffold_env
from tests.example_env import CapitalsEnv

REPO = Path(__file__).resolve().parents[1]


def _install_as_dist(pkg_root: Path, site: Path, dist: str, entry_points: str) -> None:
    """Make ``pkg_root`` importable from ``site`` with a real ``.dist-info`` (what pip writes)."""
    site.mkdir(parents=True, exist_ok=True)
    for child in pkg_root.iterdir():
        if child.is_dir() and (child / "__init__.py").exists():
            os.symlink(child, site / child.name)
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def _run_cli(args, site: Path):
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run([sys.executable, "-m", "lfmgym.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_builtin_plugins_register_through_entry_points():
    reg = load_registry(quiet=True)
    dists = {p.dist for p in reg.plugins}
    assert "lfmgym" in dists
    assert {"math", "math_calculator", "tool_calling", "web_search", "long_context"} <= set(reg.envs)
    assert all(spec.plugin == "lfmgym" for spec in reg.envs.values() if ":" not in spec.name)


def test_scaffolded_plugin_is_discovered_and_passes_check(tmp_path):
    pkg = scaffold_env("dice_sum", tmp_path / "lfmgym-dice-sum")
    assert (pkg / "pyproject.toml").read_text().count('dice_sum = "lfmgym_dice_sum.plugin"') == 1
    site = tmp_path / "site"
    _install_as_dist(pkg, site, "lfmgym-dice-sum", "[lfmgym]\ndice_sum = lfmgym_dice_sum.plugin\n")

    out = _run_cli(["envs", "--json"], site)
    assert out.returncode == 0, out.stderr
    assert '"name": "dice_sum"' in out.stdout and '"plugin": "lfmgym-dice-sum"' in out.stdout

    out = _run_cli(["check", "dice_sum", "--junk", "200"], site)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PASS" in out.stdout

    # The scaffold's own test suite runs against the conformance kit too.
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{REPO}")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", str(pkg / "tests")], capture_output=True, text=True,
                         env=env, cwd=pkg, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr


def test_broken_plugin_is_reported_and_others_still_load(tmp_path):
    site = tmp_path / "site"
    pkg = tmp_path / "src"
    (pkg / "broken_plugin").mkdir(parents=True)
    (pkg / "broken_plugin" / "__init__.py").write_text("raise ImportError('missing dependency frobnicate')\n")
    _install_as_dist(pkg, site, "lfmgym-broken", "[lfmgym]\nbroken = broken_plugin\n")

    out = _run_cli(["plugins"], site)
    assert "plugin 'broken' from distribution 'lfmgym-broken' is broken" in out.stderr
    assert "frobnicate" in out.stderr
    assert out.returncode == 1  # `lfmgym plugins` exits non-zero while a plugin is broken
    out = _run_cli(["envs", "--json"], site)
    assert out.returncode == 0 and '"name": "math"' in out.stdout


def test_hook_that_raises_is_isolated():
    bad = types.SimpleNamespace(lfmgym_environments=lambda: 1 / 0)

    class Good:
        @staticmethod
        @hookimpl
        def lfmgym_environments():
            return [Spec("capitals", CapitalsEnv, "capitals")]

    reg = load_registry(extra_plugins=[("bad", bad), ("good", Good)], entry_points=False, quiet=True)
    assert "capitals" in reg.envs
    [broken] = reg.broken
    assert broken.name == "bad" and "ZeroDivisionError" in broken.error


def test_name_clash_is_namespaced_and_reported():
    def provider(desc):
        class P:
            @staticmethod
            @hookimpl
            def lfmgym_environments():
                return [Spec("capitals", CapitalsEnv, desc)]

        return P

    with pytest.warns(UserWarning, match="name clash"):
        reg = load_registry(extra_plugins=[("one", provider("a")), ("two", provider("b"))], entry_points=False)
    assert "capitals" not in reg.envs
    assert reg.envs["one:capitals"].description == "a" and reg.envs["two:capitals"].description == "b"
    assert reg.clashes and "one, two" in reg.clashes[0]
    with pytest.raises(KeyError, match="several plugins"):
        reg.get("envs", "capitals")


def test_bad_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="Spec.name"):
        Spec("has space", CapitalsEnv)
    with pytest.raises(TypeError, match="factory must be callable"):
        Spec("x", 3)


def test_unknown_env_lists_the_available_ones():
    reg = load_registry(quiet=True)
    with pytest.raises(KeyError, match="unknown env 'nope'; available"):
        reg.get("envs", "nope")


def test_packaging_lists_every_package():
    """A normal (non-editable) install only ships packages listed in pyproject."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg_name, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            parts = [p for p in rel.parts if p]
            if "__pycache__" in parts:
                continue
            found.add(".".join([pkg_name, *parts]))
    # Only first-level sub-packages matter for lfmgym/ (the others are mapped explicitly).
    missing = sorted(p for p in found if p not in listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_plugin_that_exits_on_import_does_not_kill_lfmgym(tmp_path):
    site = tmp_path / "site"
    pkg = tmp_path / "src"
    (pkg / "exiting_plugin").mkdir(parents=True)
    (pkg / "exiting_plugin" / "__init__.py").write_text("import sys\nsys.exit(3)\n")
    _install_as_dist(pkg, site, "lfmgym-exiting", "[lfmgym]\nexiting = exiting_plugin\n")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", "import lfmgym; e = lfmgym.make('math'); e.reset(seed=0); print('ok')"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert "plugin 'exiting' from distribution 'lfmgym-exiting' is broken" in out.stderr
    assert "SystemExit: 3" in out.stderr


def test_hook_raising_base_exceptions_is_isolated_but_ctrl_c_is_not():
    exiting = types.SimpleNamespace(lfmgym_environments=lambda: (_ for _ in ()).throw(SystemExit(2)))
    reg = load_registry(extra_plugins=[("exiting", exiting)], entry_points=False, quiet=True)
    [broken] = reg.broken
    assert "SystemExit" in broken.error

    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_registry(extra_plugins=[("ctrl_c", types.SimpleNamespace(lfmgym_environments=interrupt))],
                      entry_points=False, quiet=True)


@pytest.mark.parametrize("factory, needle", [
    (lambda **kw: 1 / 0, "its factory raised ZeroDivisionError"),
    (lambda **kw: object(), "returned object, not an lfmgym.Env"),
])
def test_a_broken_env_factory_is_one_line_in_the_cli(factory, needle, monkeypatch, capsys):
    from lfmgym import cli, plugins

    class Bad:
        @staticmethod
        @hookimpl
        def lfmgym_environments():
            return [Spec("bad_env", factory, "broken on purpose")]

    monkeypatch.setattr(plugins, "_REGISTRY", load_registry(extra_plugins=[("bad", Bad)], entry_points=False, quiet=True))
    with pytest.raises(plugins.PluginError, match=needle):
        plugins.make_env("bad_env")
    for argv in (["env", "show", "bad_env"], ["play", "bad_env", "--policy", "random"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0] and "bad_env" in err[0], err
