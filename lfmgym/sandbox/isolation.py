"""How the sandboxed worker is launched: the bubblewrap command line and its fallbacks.

Isolation layers (see :func:`bwrap_command`):

* bubblewrap namespaces: no network (``--unshare-net``), own pid/ipc/uts/cgroup namespaces, a
  fresh root holding only read-only system dirs and the Python installation, a private size-capped
  tmpfs at ``/tmp`` (the working dir), no host home, no project tree, ``--die-with-parent``,
  ``--new-session``, ``--clearenv``;
* an unprivileged uid: as root we drop to a dedicated uid with ``setpriv`` (no capabilities, no
  new privileges). A user namespace that maps a sandbox uid back to host root is not enough:
  the kernel exempts host root from RLIMIT_NPROC, so a fork bomb would not be contained;
* a seccomp filter (:func:`seccomp_program`): no user namespaces, so sandboxed code cannot become
  "root" in one and mount filesystems of its own; ``/tmp`` and ``/dev/shm`` are size-capped tmpfs;
* resource limits, set by the worker itself before it reads any model code (see ``_worker.py``),
  and one memory limit for the whole sandbox (see ``limits.py``);
* bubblewrap itself starts with an *empty* environment: its pid-1 process keeps the environment it
  was started with and exposes it at ``/proc/1/environ``, so host secrets must never reach it.
"""

from __future__ import annotations

import functools
import os
import secrets
import threading
import shutil
import site
import subprocess
import sys
import warnings
from pathlib import Path

BWRAP_CANDIDATES = ("/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap")
SETPRIV_CANDIDATES = ("/usr/bin/setpriv", "/bin/setpriv")
SANDBOX_WORKDIR = "/tmp"

# Environment of the sandboxed worker: nothing from the host. One BLAS/OpenMP thread each so that
# importing numpy stays within the process limit and the memory limit.
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": SANDBOX_WORKDIR,
    "TMPDIR": SANDBOX_WORKDIR,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}

# System directories bound read-only (or re-created as the same symlink on merged-/usr systems).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Single system files the dynamic loader benefits from; nothing else from /etc (no passwd, no hosts).
SYSTEM_FILES = ("/etc/ld.so.cache",)

# Sandboxes started by root each get their own uid from this range, so RLIMIT_NPROC (counted
# per uid) is per sandbox: one episode's fork bomb cannot starve a parallel episode.
ROOT_UID_RANGE = (1_100_000, 1_900_000)


class SandboxUnavailable(RuntimeError):
    """Bubblewrap is missing or cannot create namespaces here; the sandbox refuses to run."""


def find_executable(candidates: tuple[str, ...], name: str) -> str | None:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


@functools.cache
def bwrap_path() -> str:
    path = find_executable(BWRAP_CANDIDATES, "bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so model-written code cannot be isolated. "
            "Install it (Debian/Ubuntu: `apt-get install bubblewrap`), or pass unsafe=True "
            "(CLI: --unsafe) to run the code WITHOUT isolation on a machine you do not mind losing."
        )
    return path


@functools.cache
def bwrap_supports(option: str) -> bool:
    """Whether this bubblewrap version knows ``option`` (e.g. ``--size``, ``--disable-userns``)."""
    try:
        text = subprocess.run([bwrap_path(), "--help"], capture_output=True, text=True, env={}, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return option in (text.stdout + text.stderr)


def python_mounts() -> list[str]:
    """Directories the interpreter needs: its prefixes and site-packages, nothing around them.

    The interpreter may live under the host home (pyenv: ``/root/.pyenv/versions/X``); only that
    prefix is bound, never the home itself. Paths already under a bound system dir are skipped.
    """
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    candidates.update(site.getsitepackages())
    candidates.add(str(Path(sys.executable).resolve().parent.parent))
    home = Path.home().resolve()
    forbidden_dirs = [home]
    source_root = Path(__file__).resolve().parents[2]
    if (source_root / "pyproject.toml").is_file():  # an editable/source checkout: the project tree
        forbidden_dirs.append(source_root)
    mounts: list[Path] = []
    for raw in candidates:
        path = Path(raw).resolve()
        if not path.is_dir() or any(path == Path(d) or Path(d) in path.parents for d in SYSTEM_DIRS):
            continue
        for forbidden in forbidden_dirs:
            if path == forbidden or path in forbidden.parents:
                raise SandboxUnavailable(
                    f"the Python installation at {path} contains {forbidden}; binding it would expose "
                    "the host home or the project tree to sandboxed code. Use a Python installed "
                    "elsewhere (a system Python, pyenv, conda or a virtualenv outside the project)."
                )
        mounts.append(path)
    # Keep only outermost directories (site-packages usually sits inside the prefix).
    outermost = [p for p in mounts if not any(q != p and q in p.parents for q in mounts)]
    return sorted({str(p) for p in outermost})


def python_executable() -> str:
    # Not resolved: a virtualenv's python finds its site-packages through its own path.
    return sys.executable


def _system_args() -> list[str]:
    args: list[str] = []
    for directory in SYSTEM_DIRS:
        path = Path(directory)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), directory]
        elif path.is_dir():
            args += ["--ro-bind", directory, directory]
    for file in SYSTEM_FILES:
        if Path(file).is_file():
            args += ["--perms", "0755", "--dir", str(Path(file).parent), "--ro-bind", file, file]
    return args


def running_as_root() -> bool:
    return os.geteuid() == 0


_uids_in_use: set[int] = set()
_uids_lock = threading.Lock()


def pick_uid() -> int:
    """A uid from ``ROOT_UID_RANGE`` that no live sandbox of this process uses (drawn with
    ``secrets``, so seeding ``random`` neither repeats uids nor is disturbed by the draw)."""
    low, high = ROOT_UID_RANGE
    with _uids_lock:
        while True:
            uid = low + secrets.randbelow(high - low)
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid


def release_uid(uid: int | None) -> None:
    with _uids_lock:
        _uids_in_use.discard(uid)



def _ro_bind_with_parents(path: str, below: str = "/") -> list[str]:
    """bwrap arguments binding ``path`` read-only, its parents under ``below`` created first and
    world-traversable: bwrap would copy the host's modes, and /root or a ``mkdtemp`` folder is
    0700, which would hide an interpreter there from the sandbox's unprivileged uid."""
    args: list[str] = []
    for parent in reversed(Path(path).parents):
        if Path(below) in parent.parents:
            args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", path, path]

@functools.cache
def _warn_once(message: str) -> list[str]:
    warnings.warn(f"lfmgym sandbox: {message}", RuntimeWarning, stacklevel=3)
    return []


# --------------------------------------------------------------------------- seccomp
# A seccomp filter (classic BPF, loaded by bubblewrap's --seccomp) that forbids creating a user
# namespace: inside one, sandboxed code is "root" again and may mount an unbounded tmpfs or
# reach kernel surface an unprivileged uid cannot. unshare/clone with CLONE_NEWUSER fail with
# EPERM; clone3 (whose flags sit behind a pointer the filter cannot read) fails with ENOSYS, and
# the C library falls back to clone. Syscalls of any other ABI (i386 int 0x80, x32) fail too.
_CLONE_NEWUSER = 0x10000000
_SECCOMP_ARCH = {  # machine: (AUDIT_ARCH, unshare, clone, clone3)
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program() -> bytes | None:
    """The filter for this machine's architecture, or ``None`` where it is not known."""
    import errno
    import platform
    import struct

    spec = _SECCOMP_ARCH.get(platform.machine())
    if spec is None:
        return None
    arch, unshare, clone, clone3 = spec
    eperm, enosys = _RET_ERRNO | errno.EPERM, _RET_ERRNO | errno.ENOSYS
    # (code, jump-if-true target label, jump-if-false target label, k); labels resolved below.
    program = [
        ("ld", _LD_ABS, None, None, 4),          # 0 arch
        ("", _JEQ, 2, "enosys", arch),           # 1 another ABI: refuse
        ("", _LD_ABS, None, None, 0),            # 2 syscall number
        ("", _JGE, "enosys", 4, 0x40000000),     # 3 x32 numbers: refuse
        ("", _JEQ, "flags", 5, unshare),         # 4
        ("", _JEQ, "flags", 6, clone),           # 5
        ("", _JEQ, "enosys", "allow", clone3),   # 6
        ("flags", _LD_ABS, None, None, 16),      # 7 low 32 bits of args[0] (little endian)
        ("", _JSET, "eperm", "allow", _CLONE_NEWUSER),  # 8
        ("eperm", _RET, None, None, eperm),      # 9
        ("enosys", _RET, None, None, enosys),    # 10
        ("allow", _RET, None, None, _RET_ALLOW), # 11
    ]
    labels = {label: i for i, (label, *_rest) in enumerate(program) if label}
    out = b""
    for i, (_, code, jt, jf, k) in enumerate(program):
        def offset(target):
            if target is None:
                return 0
            index = labels[target] if isinstance(target, str) else target
            return index - i - 1
        out += struct.pack("=HBBI", code, offset(jt), offset(jf), k)
    return out


def bwrap_command(inner: list[str], *, tmp_size_bytes: int, uid: int | None = None,
                  seccomp_fd: int | None = None) -> list[str]:
    """The full command line that runs ``inner`` (a worker command) inside bubblewrap.

    As root, ``uid`` is the unprivileged uid the worker drops to (default: a fresh one from
    ``ROOT_UID_RANGE``); as a normal user the sandbox runs as that user inside a user namespace.
    ``seccomp_fd``: a readable descriptor holding :func:`seccomp_program` (no nested user
    namespaces); the caller keeps it open across the exec.
    """
    cmd = [bwrap_path()]
    if not bwrap_supports("--perms"):
        raise SandboxUnavailable("bubblewrap >= 0.5 is needed (for --perms); upgrade the bubblewrap package")
    if running_as_root():
        setpriv = find_executable(SETPRIV_CANDIDATES, "setpriv")
        if setpriv is None:
            raise SandboxUnavailable(
                "running as root, the sandbox must drop to an unprivileged uid with setpriv "
                "(util-linux), which is not installed"
            )
        uid = pick_uid() if uid is None else uid
        # No user namespace: a userns would map the sandbox uid to host root, which the kernel
        # exempts from RLIMIT_NPROC. setpriv gives a real unprivileged uid instead.
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        inner = [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *inner,
        ]
    else:
        cmd += ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534"]
        if bwrap_supports("--disable-userns"):
            cmd += ["--disable-userns"]
    cmd += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    cmd += _system_args()
    mounts = python_mounts()
    # An interpreter under the sandbox's own /tmp (e.g. a virtualenv in /tmp) is bound after the
    # private tmpfs, which would otherwise hide it.
    under_workdir = [p for p in mounts if Path(SANDBOX_WORKDIR) in Path(p).parents]
    for path in mounts:
        if path not in under_workdir:
            cmd += _ro_bind_with_parents(path)
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    # /dev/shm (POSIX shared memory) is a size-capped tmpfs too, not part of bwrap's unbounded /dev.
    size = ["--size", str(tmp_size_bytes)] if bwrap_supports("--size") else _warn_once(
        "bubblewrap < 0.8 has no --size: /tmp and /dev/shm in the sandbox are not size-capped "
        "(the whole-sandbox memory limit still counts them under a cgroup); upgrade bubblewrap")
    cmd += [*size, "--perms", "1777", "--tmpfs", "/dev/shm"]
    cmd += [*size, "--perms", "1777", "--tmpfs", SANDBOX_WORKDIR]
    for path in under_workdir:
        cmd += _ro_bind_with_parents(path, below=SANDBOX_WORKDIR)
    cmd += ["--chdir", SANDBOX_WORKDIR]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd += ["--clearenv"]
    for key, value in SANDBOX_ENV.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", *inner]
