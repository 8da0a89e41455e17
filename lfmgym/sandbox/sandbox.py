"""A persistent, isolated Python worker for one episode of model-written code.

Contract::

    with Sandbox(cell_timeout=10.0, episode_timeout=120.0, memory_mb=1024,
                 host_functions={"llm_query": ask_model}, host_call_budget={"llm_query": 20}) as box:
        box.set_variable("context", long_text)        # sent once; restored after a worker restart
        result = box.run("n = len(context)\\nprint(n)")
        result.stdout                                   # "1000000\\n"
        box.run("llm_query('summarise ' + context[:100])")  # runs ask_model(...) on the host
        box.get_variable("n")                           # 1000000

* One worker process lives for the whole episode, so variables persist between cells.
* ``run`` never raises for anything the code does: errors, timeouts, limits and crashes come back in
  the :class:`CellResult`. After a crash or a hard kill the next cell starts a fresh worker (cell
  state is lost, injected variables and ``setup_code`` are restored) and reports ``state_lost``.
* Time limits count time spent running code inside the sandbox; time spent in host functions is
  excluded (they are trusted and budgeted by call count). At the limit the cell is interrupted
  (state kept); code that ignores the interruption is killed ``HARD_KILL_GRACE_S`` later.
* Host functions receive JSON-decoded arguments and must return JSON-serializable values; an
  exception on the host becomes ``HostFunctionError`` in the sandbox (type and message only).
* Not thread-safe: use one sandbox per thread.

Limits (all per sandbox): ``memory_mb`` of address space; ``cpu_seconds`` of CPU (default
``episode_timeout + 5``); ``max_processes`` processes and threads; ``max_open_files`` descriptors;
``max_file_size_mb`` per written file; ``tmp_size_mb`` for the private ``/tmp``. Memory held in
files (``/tmp``, ``memfd``) is not address space: it is bounded by the tmpfs size and by open
files x file size (64 x 16 MiB by default), and freed when the worker dies.
"""

from __future__ import annotations

import functools
import keyword
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfmgym.sandbox import isolation
from lfmgym.sandbox.channel import Channel, ChannelClosed, ChannelTimeout, ProtocolError, encode
from lfmgym.sandbox.isolation import SandboxUnavailable

HARD_KILL_GRACE_S = 1.0
IO_TIMEOUT_S = 30.0
MAX_FRAME_BYTES = 64 << 20
TRUNCATION_MARKER = "\n... [output truncated: {dropped} more characters]"
_MISSING = object()


class SandboxError(RuntimeError):
    """The host could not do what was asked of the sandbox (not an error in the sandboxed code)."""


@dataclass
class CellResult:
    """What one cell did.

    ``limit`` names the limit that stopped the cell, if any: ``cell_timeout``, ``episode_timeout``,
    ``memory``, ``cpu``, ``file_size``, ``open_files`` or ``processes``. ``exit_code`` is 0 on
    success, the ``SystemExit`` code, 1 for an uncaught exception, 124 for a timeout, or the
    worker's exit status (128 + signal for a signal) when the worker died.
    """

    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    timed_out: bool = False
    limit: str | None = None
    exit_code: int = 0
    truncated: bool = False
    state_lost: bool = False
    duration_s: float = 0.0
    host_calls: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    def transcript(self) -> str:
        """Stdout, stderr and the error as one text, the way a REPL would show them."""
        parts = [part.rstrip("\n") for part in (self.stdout, self.stderr, self.error or "") if part]
        if self.state_lost:
            parts.append("[the sandbox was restarted: variables defined by earlier cells are gone]")
        return "\n".join(parts)


# What the sandboxed interpreter runs: read the worker's source (argv[1] bytes) from the pipe and
# execute it. Keeps the command line short and the source out of `ps`.
BOOTSTRAP = (
    "import os,sys\n"
    "n=int(sys.argv[1]);b=b''\n"
    "while len(b)<n:\n c=os.read(0,n-len(b))\n if not c:raise SystemExit(1)\n b+=c\n"
    "exec(compile(b,'<lfmgym-worker>','exec'))"
)


@functools.cache
def worker_source() -> bytes:
    return (Path(__file__).with_name("_worker.py")).read_bytes()


def worker_command(workdir: str) -> list[str]:
    return [isolation.python_executable(), "-I", "-B", "-c", BOOTSTRAP, str(len(worker_source())), workdir]


def _cap(text: str, limit: int, dropped: int = 0) -> tuple[str, bool]:
    if len(text) > limit:
        dropped += len(text) - limit
        text = text[:limit]
    if dropped:
        return text + TRUNCATION_MARKER.format(dropped=dropped), True
    return text, False


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value is None or value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


def _check_identifier(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{what} must be a Python identifier, got {name!r}")


class Sandbox:
    """One episode's isolated Python worker. See the module docstring for the contract."""

    def __init__(
        self,
        cell_timeout: float = 10.0,
        episode_timeout: float = 120.0,
        memory_mb: int = 1024,
        output_limit: int = 20_000,
        host_functions: dict[str, Callable[..., Any]] | None = None,
        host_call_budget: int | dict[str, int] | None = None,
        setup_code: str = "",
        max_processes: int = 64,
        max_open_files: int = 64,
        max_file_size_mb: int = 16,
        tmp_size_mb: int = 128,
        cpu_seconds: int | None = None,
        start_timeout: float = 30.0,
        unsafe: bool = False,
    ) -> None:
        _check_positive(
            cell_timeout=cell_timeout,
            episode_timeout=episode_timeout,
            memory_mb=memory_mb,
            output_limit=output_limit,
            max_processes=max_processes,
            max_open_files=max_open_files,
            max_file_size_mb=max_file_size_mb,
            tmp_size_mb=tmp_size_mb,
            start_timeout=start_timeout,
        )
        self.host_functions = dict(host_functions or {})
        for name, function in self.host_functions.items():
            _check_identifier(name, "host_functions key")
            if not callable(function):
                raise ValueError(f"host_functions[{name!r}] must be callable")
        if isinstance(host_call_budget, dict):
            unknown = set(host_call_budget) - set(self.host_functions)
            if unknown:
                raise ValueError(f"host_call_budget names unknown host functions: {sorted(unknown)}")
        self.cell_timeout = float(cell_timeout)
        self.episode_timeout = float(episode_timeout)
        self.memory_mb = int(memory_mb)
        self.output_limit = int(output_limit)
        self.host_call_budget = host_call_budget
        self.setup_code = setup_code
        self.cpu_seconds = int(cpu_seconds) if cpu_seconds else int(self.episode_timeout) + 5
        self.start_timeout = float(start_timeout)
        self.unsafe = unsafe
        self.limits = {
            "RLIMIT_AS": self.memory_mb << 20,
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": int(max_file_size_mb) << 20,
            "RLIMIT_NOFILE": int(max_open_files),
            "RLIMIT_NPROC": int(max_processes),
            "RLIMIT_CORE": 0,
        }
        self.tmp_size_bytes = int(tmp_size_mb) << 20
        self.host_call_counts: Counter[str] = Counter()
        self.cells_run = 0
        self.restarts = 0
        self.episode_time_used = 0.0
        self.uid: int | None = None
        self._injected: dict[str, bytes] = {}  # name -> encoded "set" frame, replayed after restarts
        self._proc: subprocess.Popen | None = None
        self._channel: Channel | None = None
        self._unsafe_dir: str | None = None
        self._started_once = False
        self._closed = False
        if unsafe:
            warnings.warn(
                "Sandbox(unsafe=True): model-written code runs WITHOUT isolation (no namespaces, "
                "host filesystem and network visible); only resource limits apply.",
                RuntimeWarning,
                stacklevel=2,
            )
        else:
            isolation.bwrap_path()  # fail closed now, with the install hint, not at the first cell

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the worker now (otherwise the first call does), restoring injected variables."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        if self._proc is not None:
            return
        self._spawn()
        if self._started_once:
            self.restarts += 1
        self._started_once = True
        for frame in self._injected.values():
            self._request_raw(frame, expect="ok")
        if self.setup_code:
            result = self._exec(self.setup_code, budget=self.cell_timeout, echo=False, name="<setup>")
            if not result.ok:
                self._kill()
                raise SandboxError(f"setup_code failed in the sandbox:\n{result.transcript()}")

    def close(self) -> None:
        """Kill the worker and everything it started; the sandbox cannot be used afterwards."""
        self._closed = True
        self._kill()

    def _spawn(self) -> None:
        if self.unsafe:
            self._unsafe_dir = self._unsafe_dir or tempfile.mkdtemp(prefix="lfmgym-unsafe-sandbox-")
            workdir = self._unsafe_dir
            cmd = worker_command(workdir)
            env = dict(isolation.SANDBOX_ENV, HOME=workdir, TMPDIR=workdir)
        else:
            inner = worker_command(isolation.SANDBOX_WORKDIR)
            isolation.release_uid(self.uid)
            self.uid = isolation.pick_uid() if isolation.running_as_root() else None
            cmd = isolation.bwrap_command(inner, tmp_size_bytes=self.tmp_size_bytes, uid=self.uid)
            workdir, env = None, {}  # bwrap starts with an EMPTY environment: see isolation.py
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=workdir,
            start_new_session=True,  # its own process group, so the host can kill all of it
            close_fds=True,
        )
        self._channel = Channel(self._proc.stdout.fileno(), self._proc.stdin.fileno(), MAX_FRAME_BYTES)
        init = {
            "op": "init",
            "limits": self.limits,
            "output_limit": self.output_limit,
            "max_message_bytes": MAX_FRAME_BYTES,
            "host_functions": sorted(self.host_functions),
            # Only in a private pid namespace may the worker kill(-1) the cell's leftovers.
            "reap_strays": not self.unsafe,
        }
        deadline = time.monotonic() + self.start_timeout
        try:
            self._channel.send_raw(worker_source(), deadline)
            self._channel.send(init, deadline)
            reply = self._channel.recv(deadline)
            if reply.get("op") != "ready":
                raise ProtocolError(f"expected 'ready', got {reply.get('op')!r}")
        except (ChannelClosed, ChannelTimeout, ProtocolError) as exc:
            detail = self._stderr_tail() or type(exc).__name__
            self._kill()
            raise SandboxUnavailable(f"the sandbox worker failed to start: {detail}") from None

    def _stderr_tail(self) -> str:
        if self._proc is None or self._proc.stderr is None:
            return ""
        os.set_blocking(self._proc.stderr.fileno(), False)
        try:
            data = self._proc.stderr.read(8192) or b""
        except OSError:
            data = b""
        return data.decode("utf-8", "replace").strip()

    def _kill(self) -> None:
        proc, self._proc, self._channel = self._proc, None, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
        if self._closed:
            isolation.release_uid(self.uid)
        if self._closed and self._unsafe_dir:
            shutil.rmtree(self._unsafe_dir, ignore_errors=True)
            self._unsafe_dir = None

    def _wait_exit_status(self) -> int | None:
        """The dead worker's exit status as a shell reports it (128 + signal for a signal), or
        None when it is still running although it closed the pipe."""
        assert self._proc is not None
        try:
            status = self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return None
        return 128 - status if status < 0 else status

    # -- variables -----------------------------------------------------------------------
    def set_variable(self, name: str, value: Any) -> None:
        """Bind ``name`` to ``value`` (JSON-serializable) in the sandbox; it survives restarts."""
        _check_identifier(name, "variable name")
        try:
            frame = encode({"op": "set", "name": name, "value": value})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"set_variable({name!r}): value must be JSON-serializable ({exc})") from None
        self._injected[name] = frame
        if self._proc is not None:
            self._request_raw(frame, expect="ok")

    def get_variable(self, name: str, *, as_str: bool = False, default: Any = _MISSING) -> Any:
        """The value of ``name`` in the sandbox.

        JSON-safe values come back as such (tuples as lists); others as their ``repr`` string.
        ``as_str=True`` returns ``str(value)`` instead. A missing name raises ``KeyError`` unless
        ``default`` is given.
        """
        _check_identifier(name, "variable name")
        self.start()
        reply = self._request({"op": "get", "name": name, "as_str": bool(as_str)}, expect=("value", "missing", "error"))
        if reply["op"] == "missing":
            if default is _MISSING:
                raise KeyError(name)
            return default
        if reply["op"] == "error":
            raise SandboxError(f"could not read {name!r} from the sandbox: {reply.get('error')}")
        return reply.get("value")

    def _request(self, message: dict, expect: str | tuple[str, ...]) -> dict:
        return self._request_raw(encode(message), expect)

    def _request_raw(self, frame: bytes, expect: str | tuple[str, ...]) -> dict:
        self.start()
        assert self._channel is not None
        deadline = time.monotonic() + IO_TIMEOUT_S
        try:
            self._channel.send_raw(frame, deadline)
            reply = self._channel.recv(deadline)
        except (ChannelClosed, ChannelTimeout, ProtocolError) as exc:
            self._kill()
            raise SandboxError(f"the sandbox worker stopped responding ({type(exc).__name__})") from None
        if reply.get("op") not in ((expect,) if isinstance(expect, str) else expect):
            self._kill()
            raise SandboxError(f"unexpected reply {reply.get('op')!r} from the sandbox worker")
        return reply

    # -- cells ---------------------------------------------------------------------------
    def run(self, code: str, *, echo: bool = True) -> CellResult:
        """Run one cell. ``echo``: print the repr of a trailing expression, like a REPL."""
        if not isinstance(code, str):
            raise TypeError(f"code must be str, got {type(code).__name__}")
        remaining = self.episode_timeout - self.episode_time_used
        if remaining <= 0:
            self._kill()
            return CellResult(
                error=f"episode time limit ({self.episode_timeout:g} s) reached: no more cells run",
                timed_out=True,
                limit="episode_timeout",
                exit_code=124,
            )
        self.start()
        self.cells_run += 1
        budget = min(self.cell_timeout, remaining)
        binding = "cell_timeout" if budget == self.cell_timeout else "episode_timeout"
        # Name the cell after the host's count, so tracebacks say "<cell 3>" for the third cell the
        # caller ran (setup code and worker restarts do not shift the numbering).
        return self._exec(code, budget=budget, echo=echo, binding=binding, name=f"<cell {self.cells_run}>")

    def _exec(self, code: str, *, budget: float, echo: bool, binding: str = "cell_timeout",
              name: str | None = None) -> CellResult:
        assert self._channel is not None
        cell_calls: Counter[str] = Counter()
        started = time.monotonic()
        host_time = 0.0
        result: CellResult
        try:
            request = {"op": "exec", "code": code, "budget": budget, "echo": echo}
            if name is not None:
                request["name"] = name
            self._channel.send(request, started + IO_TIMEOUT_S)
            while True:
                deadline = started + host_time + budget + HARD_KILL_GRACE_S
                message = self._channel.recv(deadline)
                if message["op"] == "call":
                    call_started = time.monotonic()
                    reply = self._host_call(message, cell_calls)
                    host_time += time.monotonic() - call_started
                    self._channel.send(reply, started + host_time + budget + HARD_KILL_GRACE_S)
                    continue
                if message["op"] != "result":
                    raise ProtocolError(f"unexpected message {message['op']!r} during a cell")
                result = self._cell_result(message, binding)
                break
        except ChannelTimeout:
            self._kill()
            result = CellResult(
                error=f"TimeoutError: cell exceeded its {budget:g} s wall-clock limit and was killed",
                timed_out=True,
                limit=binding,
                exit_code=124,
                state_lost=True,
            )
        except ChannelClosed:
            result = self._crash_result()
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            self._kill()
            result = CellResult(
                error=f"SandboxError: the worker broke the protocol ({exc}) and was killed",
                exit_code=1,
                state_lost=True,
            )
        result.duration_s = time.monotonic() - started - host_time
        result.host_calls = dict(cell_calls)
        self.episode_time_used += result.duration_s
        return result

    def _cell_result(self, message: dict, binding: str) -> CellResult:
        stdout, cut_out = _cap(str(message.get("stdout", "")), self.output_limit, int(message.get("stdout_dropped", 0)))
        stderr, cut_err = _cap(str(message.get("stderr", "")), self.output_limit, int(message.get("stderr_dropped", 0)))
        error = message.get("error")
        if error is not None:
            error, _ = _cap(str(error), self.output_limit)
        limit = message.get("limit")
        timed_out = limit == "timeout"
        return CellResult(
            stdout=stdout,
            stderr=stderr,
            error=error,
            timed_out=timed_out,
            limit=binding if timed_out else limit,
            exit_code=int(message.get("exit_code", 0)),
            truncated=cut_out or cut_err,
        )

    def _crash_result(self) -> CellResult:
        status = self._wait_exit_status()
        detail = self._stderr_tail()
        self._kill()
        limit = None
        if status is None:
            message, status = "the worker closed its pipe to the host and was killed", 1
        elif status > 128:
            sig = status - 128
            if sig == signal.SIGXCPU:
                limit = "cpu"
            message = f"the worker was killed by {_signal_name(sig)}"
            if sig == signal.SIGSEGV:
                message += " (a crash in C code, e.g. ctypes or a stack overflow from deep recursion)"
            elif sig == signal.SIGXCPU:
                message += f" (CPU time limit of {self.cpu_seconds} s)"
        else:
            message = f"the worker exited with status {status}"
        if detail:
            message += f"\n{detail[-2000:]}"
        return CellResult(error=f"SandboxCrash: {message}", limit=limit, exit_code=status or 1, state_lost=True)

    def _host_call(self, message: dict, cell_calls: Counter[str]) -> dict:
        name, args, kwargs = message.get("name"), message.get("args", []), message.get("kwargs", {})
        if name not in self.host_functions or not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"op": "raise", "error": f"no host function {name!r}"}
        budget = self.host_call_budget.get(name) if isinstance(self.host_call_budget, dict) else self.host_call_budget
        if budget is not None and self.host_call_counts[name] >= budget:
            return {"op": "raise", "error": f"call budget exhausted: {name}() may be called {budget} times per episode"}
        self.host_call_counts[name] += 1
        cell_calls[name] += 1
        try:
            value = self.host_functions[name](*args, **kwargs)
            reply = {"op": "return", "value": value}
            encode(reply)
        except Exception as exc:  # the host function's failure is reported to the sandboxed code
            return {"op": "raise", "error": f"{name}() failed: {type(exc).__name__}: {exc}"}
        return reply
