"""Hostile cells. Each case asserts containment AND that the host, the same sandbox's next cell
and a fresh sandbox (the next episode) are fine. CI runs these as root with bubblewrap installed."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from lfmgym.sandbox import Sandbox

PROJECT = Path(__file__).resolve().parents[1]


def processes_of_uid(uid: int) -> list[int]:
    """Host pids (any namespace) whose real uid is ``uid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                pids.append(int(entry.name))
    return pids


def settled_processes_of_uid(uid: int, at_most: int, wait_s: float = 5.0) -> list[int]:
    """:func:`processes_of_uid` once at most ``at_most`` remain (or after ``wait_s``).

    SIGKILL and the death of a pid namespace's init are asynchronous: a killed process can still
    be listed for a moment while the kernel tears it down. Containment means it goes away.
    """
    import time

    deadline = time.monotonic() + wait_s
    while True:
        pids = processes_of_uid(uid)
        if len(pids) <= at_most or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def assert_healthy(box: Sandbox) -> None:
    """The same sandbox runs the next cell, and a fresh sandbox (next episode) works."""
    after = box.run("print('next cell ok')")
    assert after.ok and after.stdout == "next cell ok\n", after
    with Sandbox(cell_timeout=5.0) as fresh:
        result = fresh.run("sum(range(10))")
        assert result.ok and result.stdout == "45\n", result


def small_box(**overrides) -> Sandbox:
    options = dict(cell_timeout=2.0, episode_timeout=60.0, memory_mb=256)
    options.update(overrides)
    return Sandbox(**options)


@pytest.mark.skipif(os.geteuid() != 0, reason="the root-specific uid drop is only exercised as root")
def test_runs_as_an_unprivileged_uid_without_capabilities_even_as_root():
    with small_box() as box:
        result = box.run(
            "import os\n"
            "print(os.getresuid(), os.getgroups())\n"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapBnd', 'NoNewPrivs'))])"
        )
        uid = box.uid
        assert result.stdout == f"({uid}, {uid}, {uid}) []\n['0000000000000000', '0000000000000000', '1']\n"
        assert uid != 0
        assert_healthy(box)


def test_fork_bomb_is_stopped_by_the_process_limit():
    with small_box(max_processes=32) as box:
        result = box.run(
            "import os, time\n"
            "made = 0\n"
            "for _ in range(500):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError as exc:\n"
            "        print('refused', exc.errno)\n"
            "        break\n"
            "    if pid == 0:\n"
            "        time.sleep(30)\n"
            "        os._exit(0)\n"
            "    made += 1\n"
            "print('made', made)"
        )
        assert "refused 11" in result.stdout  # EAGAIN from RLIMIT_NPROC
        made = int(result.stdout.split("made ")[1])
        assert made < 32
        if box.uid is not None:  # as root: a uid of its own; nothing of it but the worker survives the cell
            assert len(settled_processes_of_uid(box.uid, at_most=1)) == 1
        # Nor zombies: an unreaped child still counts against RLIMIT_NPROC in the next cell.
        zombies = box.run(
            "import os\n"
            "def state(p):\n"
            "    try:\n"
            "        return open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0]\n"
            "    except OSError:\n"
            "        return 'gone'\n"
            "print(sum(state(p) == 'Z' for p in os.listdir('/proc') if p.isdigit()))"
        )
        assert zombies.stdout == "0\n", zombies
        assert_healthy(box)


def test_recursive_fork_bomb_is_killed_at_the_timeout():
    with small_box(max_processes=64, cell_timeout=1.5) as box:
        box.run("kept = 'state'")
        result = box.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass")
        assert result.timed_out and result.limit == "cell_timeout"
        uid = box.uid
        if uid is not None:
            assert len(settled_processes_of_uid(uid, at_most=1)) <= 1
        assert box.run("kept").stdout in ("'state'\n", "")  # kept unless the worker had to be killed
        assert_healthy(box)
    if uid is not None:
        assert settled_processes_of_uid(uid, at_most=0) == []


def test_memory_bomb_hits_the_address_space_limit():
    with small_box(memory_mb=256) as box:
        one_shot = box.run("x = bytearray(2 * 1024 ** 3)")
        assert one_shot.limit == "memory" and "MemoryError" in one_shot.error
        gradual = box.run("chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 ** 2))")
        assert gradual.limit == "memory" or gradual.state_lost
        box.run("chunks = None")
        assert_healthy(box)


def test_busy_loop_is_interrupted_and_state_survives():
    with small_box(cell_timeout=1.0) as box:
        box.run("counter = 0")
        result = box.run("while True:\n    counter += 1")
        assert result.timed_out and result.limit == "cell_timeout" and result.exit_code == 124
        assert "CellTimeout" in result.error and not result.state_lost
        assert int(box.run("counter").stdout) > 0
        assert_healthy(box)


def test_sleep_forever_is_interrupted():
    with small_box(cell_timeout=1.0) as box:
        result = box.run("import time\ntime.sleep(10 ** 6)")
        assert result.timed_out and result.duration_s < 5
        assert_healthy(box)


def test_code_that_swallows_the_interrupt_is_killed():
    with small_box(cell_timeout=1.0) as box:
        box.set_variable("context", "kept across restarts")
        box.run("lost = 1")
        result = box.run(
            "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
        )
        assert result.timed_out and result.state_lost
        assert box.run("context").stdout == "'kept across restarts'\n"
        assert "NameError" in box.run("lost").error
        assert_healthy(box)


def test_episode_time_limit_stops_further_cells():
    with small_box(cell_timeout=1.0, episode_timeout=1.5) as box:
        assert box.run("import time\ntime.sleep(0.9)").ok
        second = box.run("time.sleep(5)")
        assert second.timed_out and second.limit == "episode_timeout"
        third = box.run("print('never runs')")
        assert third.limit == "episode_timeout" and third.stdout == ""
    with small_box() as fresh:
        assert fresh.run("1").ok


def test_cpu_time_limit_kills_the_worker():
    with small_box(cpu_seconds=1, cell_timeout=10.0) as box:
        result = box.run("while True:\n    pass")
        assert result.limit == "cpu" and result.state_lost
        assert_healthy(box)


def test_writes_outside_the_sandbox_never_reach_the_host():
    marker = f"lfmgym-escape-{uuid.uuid4().hex}"
    targets = [f"/tmp/{marker}", str(PROJECT / marker), f"/root/{marker}", f"/usr/{marker}", f"/{marker}"]
    with small_box() as box:
        result = box.run(
            f"import os\nresults = {{}}\nfor path in {targets!r}:\n"
            "    try:\n        open(path, 'w').write('x')\n        results[path] = 'written'\n"
            "    except OSError as exc:\n        results[path] = type(exc).__name__\n"
            "print(results)"
        )
        assert result.ok, result.error
        inside = eval(result.stdout)
        assert inside[f"/tmp/{marker}"] == "written"  # its own private tmpfs
        assert inside[f"/usr/{marker}"] != "written"  # read-only system dir
        for target in targets:
            assert not Path(target).exists(), target
        assert_healthy(box)


def test_file_size_open_files_and_tmpfs_are_limited():
    with small_box(max_file_size_mb=1, max_open_files=64, tmp_size_mb=4) as box:
        big = box.run("open('big', 'wb').write(b'x' * (2 * 1024 ** 2))")
        assert big.limit == "file_size" and "File too large" in big.error
        memfd = box.run("import os\nfd = os.memfd_create('hidden')\nfor _ in range(3):\n    print(os.write(fd, b'x' * 1024 ** 2))")
        assert memfd.limit == "file_size" and memfd.stdout == "1048576\n"  # memory hidden in files is bounded too
        box.run("os.close(fd)")
        files = box.run("handles = [open(f'f{i}', 'w') for i in range(200)]")
        assert files.limit == "open_files"
        box.run("for h in handles: h.close()\ndel handles")
        full = box.run("for i in range(10):\n    open(f'part{i}', 'wb').write(b'x' * (1024 ** 2 - 1))")
        assert full.error and "No space left on device" in full.error
        assert_healthy(box)


def test_host_files_and_secrets_are_not_readable(monkeypatch):
    monkeypatch.setenv("LFMGYM_TEST_SECRET", "hunter2-secret-token")
    with small_box() as box:
        result = box.run(
            "import os\nfound = {}\n"
            f"for path in ['/etc/passwd', '/etc/shadow', {str(PROJECT / 'pyproject.toml')!r}, '/root/.bashrc']:\n"
            "    try:\n        open(path).read()\n        found[path] = 'READ'\n"
            "    except OSError as exc:\n        found[path] = type(exc).__name__\n"
            "print(found)\n"
            "print(sorted(os.environ))\n"
            "environ1 = ''\n"
            "try:\n    environ1 = open('/proc/1/environ').read()\nexcept OSError:\n    pass\n"
            "print('SECRET' if 'hunter2' in environ1 or 'hunter2' in str(os.environ) else 'clean')\n"
            "print(os.listdir('/'), os.listdir('/root'))"
        )
        assert result.ok, result.error
        lines = result.stdout.splitlines()
        assert "READ" not in lines[0]
        assert "LFMGYM_TEST_SECRET" not in lines[1]
        assert lines[2] == "clean"
        assert "work" not in lines[3] and "home" not in lines[3]
        assert_healthy(box)


def test_no_network_and_no_dns():
    with small_box() as box:
        result = box.run(
            "import socket\nout = []\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    out.append('connected')\n"
            "except OSError as exc:\n    out.append(type(exc).__name__)\n"
            "try:\n    socket.getaddrinfo('example.com', 80)\n    out.append('resolved')\n"
            "except OSError as exc:\n    out.append(type(exc).__name__)\n"
            "out.append(sorted(name for _, name in socket.if_nameindex()))\n"
            "print(out)"
        )
        assert result.ok, result.error
        assert "connected" not in result.stdout and "resolved" not in result.stdout
        assert result.stdout.strip().endswith("['lo']]")
        assert_healthy(box)


def test_ctypes_segfault_is_a_reported_crash():
    with small_box() as box:
        result = box.run("import ctypes\nctypes.string_at(0)")
        assert result.state_lost and "SIGSEGV" in result.error and result.exit_code == 128 + signal.SIGSEGV
        assert_healthy(box)


def test_os_system_and_subprocess_stay_inside():
    with small_box() as box:
        result = box.run(
            "import os, subprocess\n"
            "os.system('id -u')\n"
            "print(subprocess.run(['cat', '/etc/passwd'], capture_output=True, text=True).returncode)\n"
            "print(subprocess.run(['ls', '/'], capture_output=True, text=True).stdout.split())"
        )
        assert result.ok, result.error
        lines = result.stdout.splitlines()
        assert lines[0] != "0"
        assert lines[1] != "0"
        assert "work" not in lines[2]
        background = box.run("import subprocess\np = subprocess.Popen(['sleep', '300'])\nchild = p.pid")
        assert background.ok
        # Processes do not outlive their cell.
        assert box.run("import os\nos.path.exists(f'/proc/{child}') and open(f'/proc/{child}/stat').read().split()[2] != 'Z'").stdout == "False\n"
        assert_healthy(box)


def test_signals_to_the_parent_and_everyone_are_contained():
    neighbour = small_box()
    neighbour.run("alive = True")
    with small_box() as box:
        result = box.run(
            "import os, signal\n"
            "for target in (os.getppid(), 1, -1):\n"
            "    try:\n        os.kill(target, signal.SIGKILL)\n    except OSError as exc:\n        print(target, type(exc).__name__)"
        )
        assert result.ok or result.state_lost  # killing its own namespace init ends only this sandbox
        host_pid = os.getpid()
        os.kill(host_pid, 0)  # the host process is alive
        assert_healthy(box)
    assert neighbour.run("alive").stdout == "True\n"
    neighbour.close()


def test_huge_output_is_capped_in_every_form():
    with small_box(output_limit=1000) as box:
        result = box.run(
            "import os, sys\n"
            "print('a' * 10 ** 7)\n"
            "for i in range(10 ** 5):\n    print(i, file=sys.stderr)\n"
            "os.write(1, b'b' * 10 ** 6)"
        )
        assert result.truncated
        assert len(result.stdout) < 1100 and len(result.stderr) < 1100
        assert "output truncated" in result.stdout and "output truncated" in result.stderr
        assert_healthy(box)


def test_deep_recursion_is_contained():
    with small_box() as box:
        plain = box.run("def f(n):\n    return f(n + 1)\nf(0)")
        assert "RecursionError" in plain.error and not plain.state_lost
        forced = box.run("import sys\nsys.setrecursionlimit(10 ** 7)\ndef g(n):\n    return g(n + 1)\ng(0)")
        assert forced.error  # a RecursionError, a MemoryError or a crash of the C stack
        assert_healthy(box)


def test_numpy_imports_and_works_under_the_limits():
    with Sandbox(cell_timeout=30.0, memory_mb=1024, max_processes=16) as box:
        result = box.run("import numpy as np\nfloat(np.linalg.norm(np.ones((500, 500))))")
        assert result.ok, result.error
        assert result.stdout == "500.0\n"
        too_big = box.run("np.ones(10 ** 11)")
        assert too_big.limit == "memory"
        assert_healthy(box)


def test_crash_mid_cell_then_more_cells():
    with small_box() as box:
        box.set_variable("context", "abc")
        box.run("x = 1")
        crash = box.run("print('before')\nimport os\nos._exit(3)")
        assert crash.state_lost and crash.exit_code == 3 and "status 3" in crash.error
        assert "NameError" in box.run("x").error
        assert box.run("context").stdout == "'abc'\n"
        assert box.run("y = 2\ny * 3").stdout == "6\n"
        assert box.restarts == 1
        assert_healthy(box)


def test_forged_protocol_messages_kill_only_this_worker():
    with small_box() as box:
        result = box.run(
            "import os\n"
            "for fd in map(int, os.listdir('/proc/self/fd')):\n"
            "    if fd > 2:\n"
            "        try:\n            os.write(fd, b'\\xff\\xff\\xff\\xffgarbage')\n        except OSError:\n            pass"
        )
        assert result.error and result.state_lost
        assert_healthy(box)


def test_closing_the_protocol_pipe_is_a_clean_crash():
    with small_box() as box:
        result = box.run(
            "import os\nfor fd in map(int, os.listdir('/proc/self/fd')):\n"
            "    if fd > 2:\n        try:\n            os.close(fd)\n        except OSError:\n            pass\n"
            "import time\ntime.sleep(30)"
        )
        assert result.state_lost and result.error
        assert_healthy(box)


def test_user_namespace_mode_gives_bwrap_pid1_no_host_secrets(monkeypatch):
    """Without root, bwrap's pid 1 runs as the sandbox's own uid, so /proc/1/environ is readable
    from inside: only the scrubbed start of bwrap keeps host secrets out of it."""
    from lfmgym.sandbox import isolation

    monkeypatch.setenv("LFMGYM_TEST_SECRET", "hunter2-secret-token")
    monkeypatch.setattr(isolation, "running_as_root", lambda: False)
    with small_box() as box:
        result = box.run(
            "import os\n"
            "print(os.getuid())\n"
            "print(repr(open('/proc/1/environ').read()))\n"
            "print(sorted(os.listdir('/')))"
        )
        assert result.ok, result.error
        uid, environ1, root = result.stdout.splitlines()
        assert uid == "65534" and "hunter2" not in environ1 and "LFMGYM" not in environ1
        assert "work" not in root
        box.run("x = 1")
        assert box.run("x + 1").stdout == "2\n"
        assert_healthy(box)


@pytest.mark.parametrize("code, ending", [
    ("print('kept 1')\nimport os\nos._exit(0)", "exited with status 0"),
    ("print('kept 1')\nimport ctypes\nctypes.string_at(0)", "SIGSEGV"),
    ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nprint('kept 1')\n"
     "while True:\n    try:\n        pass\n    except BaseException:\n        pass", "wall-clock limit"),
    ("import os, threading, time\n"
     "def spin(i):\n    print(f'kept {i}', flush=True)\n    time.sleep(5)\n"
     "try:\n    for i in range(1, 200):\n        threading.Thread(target=spin, args=(i,)).start()\n"
     "except RuntimeError:\n    pass\ntime.sleep(0.5)\nos._exit(3)", "exited with status 3"),
])
def test_output_before_an_abnormal_end_is_kept(code, ending):
    with small_box(cell_timeout=1.0) as box:
        result = box.run(code)
        assert "kept 1" in result.stdout, result
        assert ending in result.error and result.state_lost, result
        assert_healthy(box)


@pytest.mark.parametrize("forged", [
    "{'op': 'result', 'exit_code': float('inf')}",        # OverflowError on the host once
    "{'op': 'result', 'stdout_dropped': 'x', 'limit': 'nonsense'}",
    "{'op': 'result', 'error': None, 'exit_code': 0}",   # well-formed: the real result comes late
])
def test_frames_forged_through_gc_never_raise_or_desync(forged):
    with small_box() as box:
        result = box.run(
            "import gc\n"
            "channel = next(o for o in gc.get_objects() if type(o).__name__ == '_Channel')\n"
            f"channel.send({forged})\n"
            "print('after the forgery')"
        )
        assert isinstance(result.exit_code, int)
        for _ in range(3):  # every later reply answers its own request (the forging cell's
            # last words may show in the next cell's output: it ended after its forged result)
            assert box.run("print(6 * 7)").stdout.endswith("42\n")
        box.set_variable("v", [1, 2])
        assert box.get_variable("v") == [1, 2]
        assert_healthy(box)


def test_deeply_nested_forged_frame_kills_only_this_worker():
    with small_box() as box:
        result = box.run(
            "import gc, json\n"
            "channel = next(o for o in gc.get_objects() if type(o).__name__ == '_Channel')\n"
            "channel.send_bytes(b'[' * 100000 + b']' * 100000)\n"
            "import time\ntime.sleep(5)"
        )
        assert result.state_lost and "protocol" in result.error
        assert_healthy(box)


def test_a_slow_repr_is_bounded_and_counts_against_the_episode():
    import time

    from lfmgym.sandbox.sandbox import SandboxError

    with small_box(cell_timeout=1.0, episode_timeout=30.0) as box:
        box.run("class Slow:\n    def __repr__(self):\n        import time\n        time.sleep(60)\n"
                "    __str__ = __repr__\nx = Slow()")
        used = box.episode_time_used
        started = time.monotonic()
        with pytest.raises(SandboxError, match="x"):
            box.get_variable("x", as_str=True)
        assert time.monotonic() - started < 3
        assert box.episode_time_used - used >= 0.9
        assert_healthy(box)


def test_threads_of_a_cell_do_not_keep_running_after_it():
    with small_box(cell_timeout=2.0) as box:
        result = box.run(
            "import threading\n"
            "counter = [0]\n"
            "def spin():\n    while True:\n        counter[0] += 1\n"
            "for _ in range(3):\n    threading.Thread(target=spin, daemon=True).start()\n"
        )
        assert result.ok and "Exception in thread" not in result.stderr, result
        first = box.run("import time\nn = counter[0]\ntime.sleep(0.3)\nprint(counter[0] - n, threading.active_count())")
        assert first.stdout == "0 1\n", first  # nothing counts between or during later cells
        assert_healthy(box)
