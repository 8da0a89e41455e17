"""The sandbox contract: persistence, output capping, host functions, variables, fail-closed."""

from __future__ import annotations

import json

import pytest

from lfmgym.sandbox import CellResult, Sandbox, SandboxError, SandboxUnavailable
from lfmgym.sandbox import isolation


@pytest.fixture
def box():
    with Sandbox(cell_timeout=5.0, episode_timeout=60.0, memory_mb=512) as sandbox:
        yield sandbox


def test_state_persists_between_cells_in_one_worker(box):
    first = box.run("x = 40\nimport os\npid = os.getpid()")
    second = box.run("x + 2")
    assert first.ok and second.ok
    assert second.stdout == "42\n"
    assert box.run("os.getpid() == pid").stdout == "True\n"
    assert box.cells_run == 3 and box.restarts == 0


def test_trailing_expression_is_echoed_only_when_asked(box):
    assert box.run("1 + 1").stdout == "2\n"
    assert box.run("1 + 1", echo=False).stdout == ""
    assert box.run("None").stdout == ""


def test_exception_reports_traceback_of_cell_code_only(box):
    result = box.run("def f():\n    return 1 / 0\nf()")
    assert not result.ok and result.exit_code == 1 and result.limit is None
    assert "ZeroDivisionError: division by zero" in result.error
    assert 'File "<cell 1>", line 2, in f' in result.error
    assert "lfmgym-worker" not in result.error
    assert box.run("print('still here')").stdout == "still here\n"


def test_cells_are_named_by_the_host_count_despite_setup_code():
    # setup_code runs as "<setup>", so the caller's first cell is still "<cell 1>".
    with Sandbox(cell_timeout=5.0, memory_mb=512, setup_code="helper = 1") as sandbox:
        result = sandbox.run("1/0")
    assert 'File "<cell 1>"' in result.error


def test_syntax_error_is_a_cell_error(box):
    result = box.run("def (:")
    assert result.error and "SyntaxError" in result.error
    assert box.run("1").ok


def test_system_exit_sets_exit_code_and_keeps_worker(box):
    box.run("keep = 1")
    result = box.run("raise SystemExit(3)")
    assert result.exit_code == 3 and result.error == "SystemExit: 3" and not result.state_lost
    assert box.run("raise SystemExit(0)").ok
    assert box.run("keep").stdout == "1\n"


def test_stdout_and_stderr_are_separate(box):
    result = box.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert result.transcript() == "out\nerr"


def test_fd_level_output_of_child_processes_is_captured(box):
    result = box.run("import os, subprocess\nos.write(1, b'raw\\n')\nsubprocess.run(['echo', 'child'])")
    assert result.ok, result.error
    assert "raw\n" in result.stdout and "child\n" in result.stdout


def test_output_is_capped_with_a_marker():
    with Sandbox(output_limit=100) as box:
        result = box.run("print('x' * 5000)")
        assert result.truncated
        assert result.stdout.startswith("x" * 100)
        assert "[output truncated: 4901 more characters]" in result.stdout
        small = box.run("print('ok')")
        assert small.stdout == "ok\n" and not small.truncated


def test_set_and_get_variables_round_trip_json(box):
    box.set_variable("data", {"a": [1, 2.5, None, "é\U0001f600"]})
    assert box.run("data['a'][3]").stdout == "'é\U0001f600'\n"
    box.run("t = (1, 2)\nobj = object()\ns = {3}")
    assert box.get_variable("t") == [1, 2]
    assert box.get_variable("obj").startswith("<object object at")  # not JSON-safe: its repr
    assert box.get_variable("s", as_str=True) == "{3}"
    with pytest.raises(KeyError):
        box.get_variable("nope")
    assert box.get_variable("nope", default=None) is None


def test_set_variable_rejects_bad_names_and_values(box):
    with pytest.raises(ValueError, match="identifier"):
        box.set_variable("not a name", 1)
    with pytest.raises(ValueError, match="JSON-serializable"):
        box.set_variable("x", object())


def test_million_character_context_is_injected_once(box):
    context = "".join(chr(97 + i % 26) for i in range(1_200_000))
    box.set_variable("context", context)
    result = box.run("len(context), context[-3:], context.count('z')")
    assert result.stdout == f"(1200000, {context[-3:]!r}, {context.count('z')})\n"


def test_get_variable_with_hostile_str_reports_error(box):
    box.run("class Bad:\n    def __str__(self):\n        raise RuntimeError('no')\nbad = Bad()")
    with pytest.raises(SandboxError, match="RuntimeError: no"):
        box.get_variable("bad", as_str=True)
    assert box.run("1").ok


def test_host_functions_run_on_the_host_with_budgets():
    seen = []

    def llm_query(prompt, *, temperature=0.0):
        seen.append((prompt, temperature))
        return f"answer to {prompt}"

    with Sandbox(host_functions={"llm_query": llm_query}, host_call_budget={"llm_query": 2}) as box:
        result = box.run("a = llm_query('q1')\nb = llm_query('q2', temperature=0.5)\nprint(a, '|', b)")
        assert result.stdout == "answer to q1 | answer to q2\n"
        assert result.host_calls == {"llm_query": 2}
        assert seen == [("q1", 0.0), ("q2", 0.5)]
        over = box.run("llm_query('q3')")
        assert "HostFunctionError" in over.error and "call budget exhausted" in over.error
        assert box.host_call_counts["llm_query"] == 2
        caught = box.run("try:\n    llm_query('q4')\nexcept HostFunctionError as e:\n    print('caught')")
        assert caught.stdout == "caught\n"


def test_host_function_errors_and_bad_arguments_stay_in_the_sandbox():
    def broken(x):
        raise ValueError(f"bad {x}")

    with Sandbox(host_functions={"broken": broken, "echo": lambda x: x}) as box:
        result = box.run("broken(1)")
        assert "HostFunctionError: broken() failed: ValueError: bad 1" in result.error
        assert "TypeError" in box.run("echo(object())").error
        assert box.run("echo({'k': [1, 2]})").stdout == "{'k': [1, 2]}\n"
        returns_bad = Sandbox(host_functions={"f": lambda: object()})
        with returns_bad:
            assert "HostFunctionError" in returns_bad.run("f()").error


def test_host_function_time_does_not_count_against_the_cell():
    import time as host_time

    def slow():
        host_time.sleep(1.2)
        return "done"

    with Sandbox(cell_timeout=1.0, host_functions={"slow": slow}) as box:
        result = box.run("slow()")
        assert result.ok and result.stdout == "'done'\n"
        assert result.duration_s < 1.0


def test_setup_code_runs_at_start_and_after_restart():
    with Sandbox(setup_code="GREETING = 'hi'") as box:
        assert box.run("GREETING").stdout == "'hi'\n"
        box.set_variable("context", "abc")
        crash = box.run("import os\nos._exit(7)")
        assert crash.state_lost and crash.exit_code == 7
        again = box.run("GREETING, context")
        assert again.stdout == "('hi', 'abc')\n" and box.restarts == 1


def test_failing_setup_code_is_a_host_error():
    with pytest.raises(SandboxError, match="setup_code failed"):
        with Sandbox(setup_code="raise RuntimeError('boom')"):
            pass


def test_constructor_validates_arguments():
    with pytest.raises(ValueError, match="cell_timeout"):
        Sandbox(cell_timeout=0)
    with pytest.raises(ValueError, match="host_functions key"):
        Sandbox(host_functions={"not valid": print})
    with pytest.raises(ValueError, match="unknown host functions"):
        Sandbox(host_functions={"f": print}, host_call_budget={"g": 1})
    with pytest.raises(TypeError):
        Sandbox().run(b"print(1)")


def test_closed_sandbox_refuses_work():
    box = Sandbox()
    box.run("1")
    box.close()
    assert not box.alive
    with pytest.raises(SandboxError, match="closed"):
        box.run("1")


def test_fails_closed_without_bubblewrap(monkeypatch):
    monkeypatch.setattr(isolation, "BWRAP_CANDIDATES", ())
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    isolation.bwrap_path.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="bubblewrap .* not installed.*unsafe=True"):
            Sandbox()
        with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
            unsafe = Sandbox(unsafe=True, cell_timeout=5.0)
        with unsafe:
            result = unsafe.run("x = 6 * 7\nx")
            assert result.stdout == "42\n"
            assert unsafe.run("import os; os.getcwd()").stdout.strip("'\n").startswith("/")
    finally:
        isolation.bwrap_path.cache_clear()


def test_python_mounts_never_expose_home_or_project():
    from pathlib import Path

    mounts = [Path(m) for m in isolation.python_mounts()]
    project = Path(__file__).resolve().parents[1]
    for mount in mounts:
        assert mount not in (Path.home(), project, Path("/"))
        assert mount not in Path.home().parents and mount not in project.parents


def test_cell_result_is_plain_data():
    result = CellResult(stdout="a", error="E")
    assert not result.ok
    assert json.loads(json.dumps(result.__dict__))["stdout"] == "a"


def _cli(argv):
    import argparse

    from lfmgym.sandbox import cli

    parser = argparse.ArgumentParser(prog="lfmgym")
    cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_exec_prints_output_and_exit_status(tmp_path, capsys):
    program = tmp_path / "prog.py"
    program.write_text("import sys\nprint('hello')\nprint('careful', file=sys.stderr)\nsys.exit(4)\n")
    assert _cli(["sandbox", "exec", str(program)]) == 4
    out, err = capsys.readouterr()
    assert out == "hello\n"
    assert "careful\n" in err and "exit status 4; limit: none" in err


def test_cli_exec_reports_the_limit_that_stopped_the_program(tmp_path, capsys):
    program = tmp_path / "loop.py"
    program.write_text("print('started', flush=True)\nwhile True:\n    pass\n")
    assert _cli(["sandbox", "exec", str(program), "--timeout", "1"]) == 124
    out, err = capsys.readouterr()
    assert out == "started\n" and "limit: cell_timeout" in err
    program.write_text("x = bytearray(10 ** 9)\n")
    assert _cli(["sandbox", "exec", str(program), "--memory", "200"]) == 1
    assert "limit: memory" in capsys.readouterr().err
    program.write_text("print(__name__)\n")
    assert _cli(["sandbox", "exec", str(program)]) == 0
    assert capsys.readouterr().out == "__main__\n"
    assert _cli(["sandbox", "exec", str(tmp_path / "missing.py")]) == 2


def test_cli_exec_status_starts_on_its_own_line_after_cut_output(tmp_path, capsys):
    # stdout stays verbatim (cut with the marker, no newline added); the status goes to a new line.
    program = tmp_path / "big.py"
    program.write_text("print('x' * 50_000)\n")
    assert _cli(["sandbox", "exec", str(program), "--output-limit", "1000"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("x" * 1000) and "truncated" in out and not out.endswith("\n")
    assert err.startswith("\n[sandbox] exit status 0")


def test_interpreter_under_tmp_is_bound_after_the_private_tmpfs(monkeypatch):
    """A virtualenv in /tmp must not be hidden by the sandbox's own /tmp tmpfs."""
    from lfmgym.sandbox import isolation

    monkeypatch.setattr(isolation, "python_mounts", lambda: ["/opt/py", "/tmp/tmpab12/venv"])
    cmd = isolation.bwrap_command(["python"], tmp_size_bytes=1 << 20, uid=None)
    tmpfs = cmd.index("--tmpfs")
    venv = cmd.index("/tmp/tmpab12/venv")
    assert venv > tmpfs and cmd.index("/opt/py") < tmpfs
    # Its parent (a 0700 mkdtemp folder on the host) is created traversable inside the tmpfs;
    # /tmp itself keeps the tmpfs's 1777.
    assert cmd[cmd.index("/tmp/tmpab12") - 3:cmd.index("/tmp/tmpab12")] == ["--perms", "0755", "--dir"]
    assert cmd.index("/tmp/tmpab12") > tmpfs
    assert ["--dir", "/tmp"] not in [cmd[i:i + 2] for i in range(len(cmd) - 1)]
