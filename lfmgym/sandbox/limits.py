"""One memory limit for a whole sandbox: every process it starts, together.

``RLIMIT_AS`` bounds each process on its own, so five children of a 1 GiB sandbox could hold 5 GiB.
:class:`MemoryGuard` bounds their sum, with the best mechanism the kernel lets this process use:

* a watchdog, always: a host thread sums the proportional set size (PSS: shared pages split
  between their users) of the sandbox's processes every ``POLL_S`` (a quarter of that above half
  the limit) and kills the largest process while the sum is over the limit. Alone, it can
  overshoot by what the code allocates within one poll (about 10% in the tests, on a busy machine);
* a hard cap under it where the kernel lets this process make a cgroup: ``cgroup v2`` (a child
  cgroup of our own with ``memory.max``, swap off, when the memory controller is delegated to
  us) or ``cgroup v1`` (a child of our memory cgroup with ``memory.limit_in_bytes`` and memsw,
  when that hierarchy is writable: root on most hosts and VMs), at the limit plus
  ``CGROUP_HEADROOM`` (0: the file cache a cgroup also counts is reclaimed first). With a
  cgroup the watchdog reads one usage file per poll and lists processes only above the limit.

The sandboxed process joins the cgroup before bubblewrap starts (:meth:`MemoryGuard.wrap`), so
nothing it forks can escape; sandboxed code cannot see ``/sys/fs/cgroup`` at all. Which mechanism
is in force is :attr:`MemoryGuard.mechanism`; the watchdog fallback is announced once per process
with a warning, never silently.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
import warnings
from pathlib import Path

POLL_S = 0.02
CGROUP_HEADROOM = 0
_PAGE = os.sysconf("SC_PAGE_SIZE")
_warned = False


def _cgroup_mounts() -> tuple[Path | None, Path | None, str]:
    """(cgroup2 mount, cgroup1 memory mount, mount root of the v1 memory hierarchy)."""
    v2 = v1 = None
    v1_root = "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None, None, "/"
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        if rfields[0] == "cgroup2" and v2 is None:
            v2 = Path(fields[4])
        elif rfields[0] == "cgroup" and "memory" in rfields[2].split(","):
            v1, v1_root = Path(fields[4]), fields[3]
    return v2, v1, v1_root


def _own_cgroups() -> tuple[str | None, str | None]:
    """Our cgroup path in the v2 hierarchy and in the v1 memory hierarchy."""
    v2 = v1 = None
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
        elif "memory" in parts[1].split(","):
            v1 = parts[2]
    return v2, v1


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _make_v2(limit: int, pids: int) -> Path | None:
    mount, _, _ = _cgroup_mounts()
    own, _ = _own_cgroups()
    if mount is None or own is None:
        return None
    parent = mount / own.lstrip("/")
    if not (parent / "cgroup.controllers").is_file():
        return None
    child = parent / f"lfmgym-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        child.mkdir()
    except OSError:
        return None
    try:
        if "memory" not in (child / "cgroup.controllers").read_text().split():
            # Only possible when our own cgroup holds no process (delegated subtree); else EBUSY.
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        _write(child / "memory.max", str(limit))
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1"), ("pids.max", str(pids))):
            if (child / name).exists():
                _write(child / name, value)
        return child
    except OSError:
        _remove(child)
        return None


def _make_v1(limit: int) -> Path | None:
    _, mount, mount_root = _cgroup_mounts()
    _, own = _own_cgroups()
    if mount is None or own is None:
        return None
    relative = own
    if mount_root != "/" and (own == mount_root or own.startswith(mount_root.rstrip("/") + "/")):
        relative = own[len(mount_root.rstrip("/")):]
    parent = mount / relative.lstrip("/")
    if not (parent / "memory.limit_in_bytes").is_file():
        return None
    child = parent / f"lfmgym-sandbox-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        child.mkdir()
        _write(child / "memory.limit_in_bytes", str(limit))
    except OSError:
        _remove(child)
        return None
    try:  # swap counted too (only when the kernel accounts swap)
        _write(child / "memory.memsw.limit_in_bytes", str(limit))
    except OSError:
        pass
    return child


def _remove(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # processes still exiting
            time.sleep(0.02)


def _process_table() -> dict[int, int]:
    """pid -> parent pid of every visible process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            table[int(entry)] = int(stat.rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return table


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (orphans of a pid namespace reparent inside it)."""
    children: dict[int, list[int]] = {}
    table = _process_table()
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root] if root in table else []
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def memory_of(pid: int) -> int:
    """Bytes of memory ``pid`` holds: PSS (+ swapped PSS), or resident size where smaps is hidden."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            total = 0
            for line in handle:
                if line.startswith((b"Pss:", b"SwapPss:")):
                    total += int(line.split()[1]) << 10
            return total
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_memory(root: int) -> int:
    """Bytes held by ``root`` and all its descendants together."""
    return sum(memory_of(pid) for pid in process_tree(root))


class MemoryGuard:
    """The whole-sandbox memory limit of one sandbox (see the module docstring).

    Args:
        limit_bytes: the most memory all the sandbox's processes may hold together.
        max_processes: a process/thread cap for the cgroup (v2 ``pids.max``), besides RLIMIT_NPROC.
        allow_cgroups: try cgroups first (False: always the watchdog, e.g. in tests).
    """

    def __init__(self, limit_bytes: int, max_processes: int, allow_cgroups: bool = True) -> None:
        self.limit_bytes = int(limit_bytes)
        self.cgroup: Path | None = None
        self.mechanism = "watchdog"
        if allow_cgroups:
            hard = self.limit_bytes + CGROUP_HEADROOM
            self.cgroup = _make_v2(hard, max_processes + 8)
            if self.cgroup is not None:
                self.mechanism = "cgroup v2"
            else:
                self.cgroup = _make_v1(hard)
                if self.cgroup is not None:
                    self.mechanism = "cgroup v1"
        if self.cgroup is None:
            _warn_watchdog_once()
        self.kills = 0
        self._last_total = 0
        self._oom_base = self._oom_kills()
        self._root: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` run so that it joins the cgroup first (a shell writes its pid, then execs)."""
        if self.cgroup is None:
            return cmd
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.cgroup / "cgroup.procs"), *cmd]

    def watch(self, root: int) -> None:
        """Start the watchdog on the sandbox whose outermost process is ``root``."""
        self.stop()
        self._root = root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lfmgym-memory-guard-{root}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        root, stop, pause = self._root, self._stop, POLL_S
        while not stop.wait(pause):
            try:
                self.enforce(root)
            except Exception:  # a vanished process mid-scan: look again next time
                continue
            # Close to the limit, look four times as often (less overshoot for the same cost idle).
            pause = POLL_S / 4 if self._last_total > self.limit_bytes // 2 else POLL_S

    def _pids(self, root: int) -> list[int]:
        if self.cgroup is None:
            return process_tree(root)
        try:
            return [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return process_tree(root)

    def _cgroup_usage(self) -> int | None:
        for name in ("memory.current", "memory.usage_in_bytes"):
            try:
                return int((self.cgroup / name).read_text())
            except (OSError, ValueError, TypeError):
                continue
        return None

    def enforce(self, root: int) -> bool:
        """One watchdog pass: kill the largest process while the processes' sum is over the limit."""
        killed = False
        for _ in range(64):
            if self.cgroup is not None:
                usage = self._cgroup_usage()  # an upper bound of the sum (it adds the file cache)
                if usage is not None and usage <= self.limit_bytes:
                    self._last_total = usage
                    return killed
            sizes = {pid: memory_of(pid) for pid in self._pids(root)}
            self._last_total = sum(sizes.values())
            if self._last_total <= self.limit_bytes or not sizes:
                return killed
            victim = max(sizes, key=sizes.__getitem__)
            try:
                os.kill(victim, signal.SIGKILL)
            except OSError:
                pass
            self.kills += 1
            killed = True
            time.sleep(0.005)
        return killed

    def _oom_kills(self) -> int:
        if self.cgroup is None:
            return 0
        for name in ("memory.events", "memory.oom_control"):
            try:
                for line in (self.cgroup / name).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
            except (OSError, ValueError):
                continue
        return 0

    def killed_since(self, mark: int) -> bool:
        """Whether the limit killed a process since :meth:`mark` returned ``mark``."""
        return self.mark() > mark

    def mark(self) -> int:
        return self.kills + self._oom_kills() - self._oom_base

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        self._thread = None

    def close(self) -> None:
        self.stop()
        if self.cgroup is not None:
            _remove(self.cgroup)
            self.cgroup = None


def _warn_watchdog_once() -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "lfmgym sandbox: no writable cgroup here (v2 with the memory controller delegated, or v1 "
            "memory), so no kernel cap on a sandbox's total memory: only the watchdog, which sums the "
            "processes' memory every 20 ms and kills the largest one over the limit (it can overshoot "
            "briefly). Run as root or delegate a cgroup for a hard cap.",
            RuntimeWarning,
            stacklevel=3,
        )
