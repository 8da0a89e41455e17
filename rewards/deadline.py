"""A hard deadline for reward code that may not finish, from any thread, without signals.

Some checks cannot be bounded from inside: math-verify's timeout is ``SIGALRM``, which only works
in the main thread, and sympy can spend minutes in one C call (``\\boxed{9^{9^{9}}}``). The
concurrent rollout engine scores in worker threads, so :func:`call_with_deadline` runs such a
function in a helper process (a small pool, started on first use with ``spawn``, safe next to
CUDA and threads) and kills and replaces the process when the deadline passes.

Functions and arguments must be picklable (module-level functions, plain data). Starting a helper
and importing the function's module (and ``preload``) happen before the clock starts: on a busy
machine that takes seconds, and the deadline is for the call.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["DeadlineExceeded", "call_with_deadline", "POOL_SIZE"]

POOL_SIZE = max(1, min(4, (os.cpu_count() or 1)))
STARTUP_TIMEOUT_S = 300.0  # starting a helper and importing modules (not part of any deadline)


class DeadlineExceeded(TimeoutError):
    """The function did not return within its deadline; its process was killed."""


def _serve(conn) -> None:  # runs in the helper process
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # the function's module failed to import here
            conn.send((False, f"{type(exc).__name__}: {exc}"))
            continue
        try:
            conn.send((True, fn(*args)))
        except Exception as exc:  # reported to the caller, who decides
            conn.send((False, f"{type(exc).__name__}: {exc}"))


def _import(*names: str) -> None:  # runs in the helper process
    for name in names:
        importlib.import_module(name)


class _Helper:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="lfmgym-reward-helper")
        self.process.start()
        child.close()
        self.loaded: set[str] = set()

    def ask(self, fn: Callable[..., Any], args: tuple, timeout: float, what: str) -> tuple[bool, Any]:
        self.conn.send((fn, args))
        if not self.conn.poll(timeout):
            raise DeadlineExceeded(f"{what} did not finish within {timeout:g} s")
        return self.conn.recv()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


_idle: queue.LifoQueue[_Helper] = queue.LifoQueue()
_slots = threading.BoundedSemaphore(POOL_SIZE)
_all: list[_Helper] = []
_lock = threading.Lock()


def call_with_deadline(fn: Callable[..., Any], *args: Any, timeout: float, preload: tuple[str, ...] = ()) -> Any:
    """``fn(*args)`` in a helper process, within ``timeout`` seconds (``preload``: modules the
    helper imports first, off the clock, e.g. the heavy library ``fn`` imports lazily).

    Raises:
        DeadlineExceeded: the deadline passed (the helper is killed; the next call gets a new one).
        RuntimeError: ``fn`` raised in the helper (its type and message), or the helper died.
    """
    with _slots:
        try:
            helper = _idle.get_nowait()
        except queue.Empty:
            helper = _Helper()
            with _lock:
                _all.append(helper)
        try:
            modules = tuple(m for m in (fn.__module__, *preload) if m not in helper.loaded)
            if modules:
                ok, value = helper.ask(_import, modules, STARTUP_TIMEOUT_S, f"importing {', '.join(modules)}")
                if not ok:
                    raise RuntimeError(value)
                helper.loaded.update(modules)
            ok, value = helper.ask(fn, args, timeout, getattr(fn, "__name__", "call"))
        except BaseException:
            helper.kill()
            with _lock:
                _all.remove(helper)
            raise
        _idle.put(helper)
    if not ok:
        raise RuntimeError(value)
    return value


@atexit.register
def _shutdown() -> None:
    with _lock:
        for helper in _all:
            helper.kill()
        _all.clear()
