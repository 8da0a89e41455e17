"""Whole-sandbox limits: memory summed over every process, no nested user namespaces, bounded
shared memory. Run with a cgroup where this machine allows one and with the watchdog fallback."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from lfmgym.sandbox import Sandbox, isolation, limits
from lfmgym.sandbox import sandbox as sandbox_module

MiB = 1 << 20

# Five children of 200 MiB each: 1 GiB wanted, 512 MiB allowed for the whole sandbox.
CHILDREN = """
import os, time
kids = []
for i in range(5):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(200 << 20)
            for j in range(0, len(block), 4096):
                block[j] = 1
            print("child", i, "allocated", flush=True)
            time.sleep(2)
        finally:
            os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
print("parent done")
"""


class PeakSampler(threading.Thread):
    """Samples the sandbox's process tree (PSS, shared pages split) every 10 ms; keeps the peak."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.done = root, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, limits.tree_memory(self.root))


@pytest.fixture(params=["best", "watchdog"])
def mechanism(request, monkeypatch):
    if request.param == "watchdog":
        monkeypatch.setattr(sandbox_module, "MemoryGuard", functools.partial(limits.MemoryGuard, allow_cgroups=False))
    return request.param


@pytest.mark.filterwarnings("ignore:lfmgym sandbox")
def test_many_children_stay_under_the_sandbox_memory_limit(mechanism):
    with Sandbox(cell_timeout=20.0, episode_timeout=60.0, memory_mb=512) as box:
        box.start()
        print(f"memory limit by {box._guard.mechanism}")
        if mechanism == "watchdog":
            assert box._guard.mechanism == "watchdog"
        sampler = PeakSampler(box._proc.pid)
        sampler.start()
        result = box.run(CHILDREN)
        sampler.done.set()
        sampler.join()
        assert result.limit == "memory", result
        assert "memory limit of 512 MiB" in result.error
        # The watchdog overshoots by what five processes allocate in one poll; a cgroup caps that.
        allowed = 512 * (1.02 if box._guard.cgroup is not None else 1.25)
        print(f"peak {sampler.peak / MiB:.0f} MiB with {box._guard.mechanism}")
        assert sampler.peak <= allowed * MiB, f"peak {sampler.peak / MiB:.0f} MiB with {box._guard.mechanism}"
        after = box.run("print('ok')")
        assert after.stdout == "ok\n"


def test_under_the_limit_nothing_is_killed(mechanism):
    with Sandbox(cell_timeout=20.0, memory_mb=512) as box:
        result = box.run(CHILDREN.replace("range(5)", "range(2)"))
        assert result.ok and result.limit is None, result
        assert result.stdout.count("allocated") == 2


@pytest.mark.parametrize("as_root", [True, False])
def test_nested_user_namespaces_are_refused(as_root, monkeypatch):
    if not as_root:
        monkeypatch.setattr(isolation, "running_as_root", lambda: False)
    elif not isolation.running_as_root():
        pytest.skip("the root launch path needs root")
    with Sandbox(cell_timeout=10.0, memory_mb=512) as box:
        result = box.run(
            "import ctypes, os, shutil, subprocess\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER -> EPERM (1)
            "if shutil.which('unshare'):\n"
            "    print(subprocess.run(['unshare', '-r', 'id'], capture_output=True, text=True).returncode)\n"
            "else:\n"
            "    print(1)\n"
            "print(subprocess.run(['true']).returncode)\n"  # fork/exec (clone, clone3 fallback) still work
        )
        assert result.ok, result
        assert result.stdout.splitlines() == ["-1 1", "1", "0"], result.stdout


def test_dev_shm_is_a_bounded_tmpfs():
    with Sandbox(cell_timeout=10.0, tmp_size_mb=8) as box:
        result = box.run(
            "import os\n"
            "try:\n"
            "    with open('/dev/shm/big', 'wb') as f:\n"
            "        for _ in range(64):\n"
            "            f.write(b'x' * (1 << 20))\n"
            "    print('wrote 64 MiB')\n"
            "except OSError as exc:\n"
            "    print('refused', exc.errno)\n"
        )
        assert result.stdout.startswith("refused"), result


def test_watchdog_kills_the_largest_process_of_a_tree():
    import subprocess
    import sys

    code = "import time; b = bytearray(120 << 20); b[::4096] = b'1' * len(b[::4096]); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {code!r}])"])
    try:
        guard = limits.MemoryGuard(64 * MiB, 8, allow_cgroups=False)
        deadline = time.monotonic() + 20
        while limits.tree_memory(parent.pid) < 100 * MiB and time.monotonic() < deadline:
            time.sleep(0.05)
        assert guard.enforce(parent.pid)
        assert guard.killed_since(0)
        assert limits.tree_memory(parent.pid) <= 64 * MiB or parent.wait(timeout=10) is not None
    finally:
        parent.kill()
        parent.wait()
