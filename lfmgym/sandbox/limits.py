"""One memory limit for a whole sandbox: every process it starts, together.

``RLIMIT_AS`` bounds each process on its own, so five children of a 1 GiB sandbox could hold 5 GiB.
:class:`MemoryGuard` bounds their sum, with the best mechanism the kernel lets this process use:

* a cgroup where the kernel lets this process make one: ``cgroup v2`` (a child cgroup of our
  own with ``memory.max``, swap off, ``memory.oom.group``, when the memory controller is
  delegated to us) or ``cgroup v1`` (a child of our memory cgroup with ``memory.limit_in_bytes``
  and memsw, when that hierarchy is writable: root on most hosts and VMs). The kernel enforces
  it exactly; a kill by its OOM killer is reported as the ``memory`` limit;
* otherwise (rootless, a container with a read-only cgroup tree) a watchdog: one host thread for
  all sandboxes sums the proportional set size (PSS: shared pages split between their users) of
  each sandbox's processes every ``POLL_S`` (a quarter of that above half a limit) and kills
  the largest process while the sum is over the limit. It can overshoot by what the code
  allocates within one poll (up to ~25% in the tests, children touching 200 MiB in milliseconds
  on a busy machine).

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


def _children_map() -> dict[int, list[int]]:
    """parent pid -> child pids of every visible process (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            children.setdefault(int(stat.rsplit(b")", 1)[1].split()[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return children


def process_tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and all its descendants (orphans of a pid namespace reparent inside it)."""
    children = _children_map() if children is None else children
    if not os.path.exists(f"/proc/{root}"):
        return []
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


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
        return _resident(pid)


def tree_memory(root: int) -> int:
    """Bytes held by ``root`` and all its descendants together."""
    return sum(memory_of(pid) for pid in process_tree(root))


class _Watchdog:
    """One thread for every sandbox without a cgroup: one /proc scan per poll serves them all."""

    def __init__(self) -> None:
        self.guards: dict[MemoryGuard, int] = {}
        self.changed = threading.Condition()
        self.thread: threading.Thread | None = None

    def add(self, guard: MemoryGuard, root: int) -> None:
        with self.changed:
            self.guards[guard] = root
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="lfmgym-memory-watchdog", daemon=True)
                self.thread.start()
            self.changed.notify()

    def remove(self, guard: MemoryGuard) -> None:
        with self.changed:
            self.guards.pop(guard, None)

    def _run(self) -> None:
        pause = POLL_S
        while True:
            with self.changed:
                while not self.guards:
                    self.changed.wait()
                watched = list(self.guards.items())
            near = False
            try:
                children = _children_map()
                for guard, root in watched:
                    guard.enforce(root, children)
                    near = near or guard._last_total > guard.limit_bytes // 2
            except Exception:  # a vanished process mid-scan: look again next time
                pass
            # Close to a limit, look four times as often (less overshoot, same cost when idle).
            pause = POLL_S / 4 if near else POLL_S
            time.sleep(pause)


_WATCHDOG = _Watchdog()


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

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` run so that it joins the cgroup first (a shell writes its pid, then execs)."""
        if self.cgroup is None:
            return cmd
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.cgroup / "cgroup.procs"), *cmd]

    def watch(self, root: int) -> None:
        """Enforce on the sandbox whose outermost process is ``root`` (the kernel does it when
        there is a cgroup; otherwise the shared watchdog thread)."""
        if self.cgroup is None:
            _WATCHDOG.add(self, root)

    def enforce(self, root: int, children: dict[int, list[int]] | None = None) -> bool:
        """One watchdog pass: kill the largest process while the processes' sum is over the limit."""
        killed = False
        for _ in range(64):
            pids = process_tree(root, children)
            resident = sum(_resident(pid) for pid in pids)  # cheap, and never below the PSS sum
            if resident <= self.limit_bytes:
                self._last_total = resident
                return killed
            sizes = {pid: memory_of(pid) for pid in pids}
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
            children = None  # look again after the kill
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
        _WATCHDOG.remove(self)

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
