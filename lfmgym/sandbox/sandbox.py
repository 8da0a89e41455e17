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
  the :class:`CellResult`, with everything the cell printed before it ended (the output streams to
  the host as it is written, so a segfault, ``os._exit`` or a kill at the time limit loses none). After a crash or a hard kill the next cell starts a fresh worker (cell
  state is lost, injected variables and ``setup_code`` are restored) and reports ``state_lost``.
* Time limits count time spent running code inside the sandbox; time spent in host functions is
  excluded (they are trusted and budgeted by call count). At the limit the cell is interrupted
  (state kept); code that ignores the interruption is killed ``HARD_KILL_GRACE_S`` later.
* Host functions receive JSON-decoded arguments and must return JSON-serializable values; an
  exception on the host becomes ``HostFunctionError`` in the sandbox (type and message only).
* Not thread-safe: use one sandbox per thread.

Limits: ``memory_mb`` for the whole sandbox, all its processes together (a cgroup where the
kernel allows one, else a watchdog: :mod:`lfmgym.sandbox.limits`), and as the address space of each
process; ``cpu_seconds`` of CPU per process (default ``episode_timeout + 5``); ``max_processes``
processes and threads; ``max_open_files`` descriptors; ``max_file_size_mb`` per written file;
``tmp_size_mb`` for each of the private ``/tmp`` and ``/dev/shm``. Memory held in files (``/tmp``,
``memfd``) is bounded by the tmpfs size and by open files x file size (64 x 16 MiB by default), and
freed when the worker dies. Sandboxed code cannot create user namespaces (a seccomp filter), so it
cannot become "root" in one to mount filesystems of its own.
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
from lfmgym.sandbox.channel import Channel, ChannelClosed, ChannelTimeout, OutputPipe, ProtocolError, encode
from lfmgym.sandbox.isolation import SandboxUnavailable
from lfmgym.sandbox.limits import MemoryGuard

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


_LIMITS = ("timeout", "memory", "file_size", "open_files", "processes", "cpu")


def _count(value: Any) -> int:
    """A dropped-character count from the worker: an int in range, else 0 (a forged frame)."""
    return value if isinstance(value, int) and 0 <= value < 1 << 62 else 0


def _seccomp_fd() -> int:
    """A pipe's read end holding the seccomp filter that forbids nested user namespaces."""
    program = isolation.seccomp_program()
    if program is None:
        raise SandboxUnavailable(
            f"no seccomp filter for this CPU architecture ({os.uname().machine}): sandboxed code could "
            "create user namespaces; only x86_64 and aarch64 are supported"
        )
    read_fd, write_fd = os.pipe()
    os.write(write_fd, program)
    os.close(write_fd)
    return read_fd


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# The largest value each setting may take: the kernel's limits and timers overflow past these.
_MAXIMA = {"seconds": 7 * 24 * 3600, "_mb": 1 << 30, "count": 1 << 24}


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        kind = "seconds" if "timeout" in name or name == "cpu_seconds" else "_mb" if name.endswith("_mb") else "count"
        if value > _MAXIMA[kind]:
            raise ValueError(f"{name} must be at most {_MAXIMA[kind]}, got {value!r}")


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
        if cpu_seconds is not None:
            _check_positive(cpu_seconds=cpu_seconds)
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
        self.max_processes = int(max_processes)
        self._guard: MemoryGuard | None = None
        self.host_call_counts: Counter[str] = Counter()
        self.cells_run = 0
        self.restarts = 0
        self.episode_time_used = 0.0
        self.uid: int | None = None
        self._injected: dict[str, dict] = {}  # name -> "set" message, replayed after restarts
        self._outputs: tuple[OutputPipe, ...] = ()  # the worker's stdout and stderr pipes
        self._seq = 0  # numbers each request; a reply with another number is stale or forged
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
        for message in self._injected.values():
            self._request(message, expect="ok")
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
        if self._guard is None:
            self._guard = MemoryGuard(self.memory_mb << 20, self.max_processes)
        pass_fds: tuple[int, ...] = ()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        capture = self.output_limit * 4 + 4  # bytes: room for output_limit characters of UTF-8
        self._outputs = (OutputPipe(out_read, capture), OutputPipe(err_read, capture))
        if self.unsafe:
            self._unsafe_dir = self._unsafe_dir or tempfile.mkdtemp(prefix="lfmgym-unsafe-sandbox-")
            workdir = self._unsafe_dir
            cmd = worker_command(workdir)
            env = dict(isolation.SANDBOX_ENV, HOME=workdir, TMPDIR=workdir)
        else:
            inner = worker_command(isolation.SANDBOX_WORKDIR)
            isolation.release_uid(self.uid)
            self.uid = isolation.pick_uid() if isolation.running_as_root() else None
            pass_fds = (_seccomp_fd(),)
            cmd = isolation.bwrap_command(inner, tmp_size_bytes=self.tmp_size_bytes, uid=self.uid,
                                          seccomp_fd=pass_fds[0])
            workdir, env = None, {}  # bwrap starts with an EMPTY environment: see isolation.py
        try:
            self._proc = subprocess.Popen(
                self._guard.wrap(cmd),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=workdir,
                start_new_session=True,  # its own process group, so the host can kill all of it
                close_fds=True,
                pass_fds=(*pass_fds, out_write, err_write),
            )
        finally:
            for fd in (*pass_fds, out_write, err_write):
                os.close(fd)
        self._guard.watch(self._proc.pid)
        self._channel = Channel(self._proc.stdout.fileno(), self._proc.stdin.fileno(), MAX_FRAME_BYTES)
        init = {
            "op": "init",
            "limits": self.limits,
            "output_limit": self.output_limit,
            "max_message_bytes": MAX_FRAME_BYTES,
            "host_functions": sorted(self.host_functions),
            # Only in a private pid namespace may the worker kill(-1) the cell's leftovers.
            "reap_strays": not self.unsafe,
            "stdout_fd": out_write,
            "stderr_fd": err_write,
            "seq": self._next_seq(),
        }
        deadline = time.monotonic() + self.start_timeout
        try:
            self._channel.send_raw(worker_source(), deadline)
            self._channel.send(init, deadline)
            reply = self._recv(deadline)
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

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _recv(self, deadline: float) -> dict:
        """The worker's reply to the current request, draining its output pipes meanwhile.

        Frames with another sequence number are dropped: cell code that reached the protocol pipe
        (e.g. through ``gc``) and forged a reply would otherwise leave every later reply one off.
        (What such a cell prints after its forged result shows in the next cell's output.)
        """
        assert self._channel is not None
        for _ in range(1000):
            message = self._channel.recv(deadline, self._outputs)
            if message.get("seq") == self._seq:
                return message
        raise ProtocolError("too many frames that answer no request")

    def _kill(self) -> tuple[tuple[str, int], ...]:
        """Kill the worker and everything it started; return what its output pipes still held
        (``(text, bytes dropped)`` for stdout and stderr), read after every writer died."""
        proc, self._proc, self._channel = self._proc, None, None
        if self._guard is not None:
            self._guard.stop()
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
        outputs, self._outputs = self._outputs, ()
        left = []
        for pipe in outputs:
            pipe.read_available()
            left.append(pipe.take())
            pipe.close()
        if self._closed:
            isolation.release_uid(self.uid)
            if self._guard is not None:
                self._guard.close()
        if self._closed and self._unsafe_dir:
            shutil.rmtree(self._unsafe_dir, ignore_errors=True)
            self._unsafe_dir = None
        return tuple(left) or (("", 0), ("", 0))

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
        message = {"op": "set", "name": name, "value": value}
        try:
            encode(message)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"set_variable({name!r}): value must be JSON-serializable ({exc})") from None
        self._injected[name] = message
        if self._proc is not None:
            self._request(message, expect="ok")

    def get_variable(self, name: str, *, as_str: bool = False, default: Any = _MISSING) -> Any:
        """The value of ``name`` in the sandbox.

        JSON-safe values come back as such (tuples as lists); others as their ``repr`` string.
        ``as_str=True`` returns ``str(value)`` instead. A missing name raises ``KeyError`` unless
        ``default`` is given. The conversion runs under the cell time limit and counts against the
        episode's time; a value whose ``__repr__`` is too slow raises :class:`SandboxError`.
        """
        _check_identifier(name, "variable name")
        # Reading runs the value's __str__/__repr__, i.e. model code: it gets a cell's time budget
        # and its time counts against the episode like a cell's.
        remaining = self.episode_timeout - self.episode_time_used
        if remaining <= 0:
            raise SandboxError(f"episode time limit ({self.episode_timeout:g} s) reached: cannot read {name!r}")
        budget = min(self.cell_timeout, remaining)
        self.start()
        started = time.monotonic()
        try:
            reply = self._request({"op": "get", "name": name, "as_str": bool(as_str), "budget": budget},
                                  expect=("value", "missing", "error"), timeout=budget + HARD_KILL_GRACE_S)
        finally:
            self.episode_time_used += time.monotonic() - started
        if reply["op"] == "missing":
            if default is _MISSING:
                raise KeyError(name)
            return default
        if reply["op"] == "error":
            raise SandboxError(f"could not read {name!r} from the sandbox: {reply.get('error')}")
        return reply.get("value")

    def _request(self, message: dict, expect: str | tuple[str, ...], timeout: float = IO_TIMEOUT_S) -> dict:
        self.start()
        assert self._channel is not None
        deadline = time.monotonic() + timeout
        try:
            self._channel.send(dict(message, seq=self._next_seq()), deadline)
            reply = self._recv(deadline)
            for pipe in self._outputs:  # output between cells (e.g. a printing __repr__) is nobody's
                pipe.take()
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
        memory_mark = self._guard.mark() if self._guard is not None else 0
        started = time.monotonic()
        host_time = 0.0
        result: CellResult
        for pipe in self._outputs:  # only what this cell writes is its output
            pipe.read_available()
            pipe.take()
        try:
            request = {"op": "exec", "code": code, "budget": budget, "echo": echo, "seq": self._next_seq()}
            if name is not None:
                request["name"] = name
            self._channel.send(request, started + IO_TIMEOUT_S)
            while True:
                deadline = started + host_time + budget + HARD_KILL_GRACE_S
                message = self._recv(deadline)
                if message["op"] == "call":
                    call_started = time.monotonic()
                    reply = self._host_call(message, cell_calls)
                    host_time += time.monotonic() - call_started
                    reply["seq"] = self._seq
                    self._channel.send(reply, started + host_time + budget + HARD_KILL_GRACE_S)
                    continue
                if message["op"] != "result":
                    raise ProtocolError(f"unexpected message {message['op']!r} during a cell")
                for pipe in self._outputs:
                    pipe.read_available()
                result = self._cell_result(message, binding, tuple(pipe.take() for pipe in self._outputs))
                break
        except ChannelTimeout:
            result = CellResult(
                error=f"TimeoutError: cell exceeded its {budget:g} s wall-clock limit and was killed",
                timed_out=True,
                limit=binding,
                exit_code=124,
                state_lost=True,
            )
            self._add_output(result, self._kill())
        except ChannelClosed:
            result = self._crash_result()
        except Exception as exc:  # anything else from a worker that broke the protocol (forged frames)
            result = CellResult(
                error=f"SandboxError: the worker broke the protocol ({type(exc).__name__}: {str(exc)[:200]}) "
                      "and was killed",
                exit_code=1,
                state_lost=True,
            )
            self._add_output(result, self._kill())
        if self._guard is not None and self._guard.killed_since(memory_mark):
            result.limit = "memory"
            note = (f"MemoryError: the sandbox went over its memory limit of {self.memory_mb} MiB "
                    f"(all its processes together); its largest process was killed")
            result.error = note if result.error is None else f"{result.error}\n{note}"
        result.duration_s = time.monotonic() - started - host_time
        result.host_calls = dict(cell_calls)
        self.episode_time_used += result.duration_s
        return result

    def _add_output(self, result: CellResult, outputs: tuple[tuple[str, int], ...],
                    dropped: tuple[int, int] = (0, 0)) -> None:
        """Put the captured ``(text, bytes dropped)`` of stdout and stderr into ``result``, capped."""
        (out, out_dropped), (err, err_dropped) = outputs
        result.stdout, cut_out = _cap(out, self.output_limit, out_dropped + dropped[0])
        result.stderr, cut_err = _cap(err, self.output_limit, err_dropped + dropped[1])
        result.truncated = cut_out or cut_err

    def _cell_result(self, message: dict, binding: str, outputs: tuple[tuple[str, int], ...]) -> CellResult:
        error = message.get("error")
        if error is not None:
            error, _ = _cap(str(error), self.output_limit)
        limit = message.get("limit")
        if limit is not None and limit not in _LIMITS:
            raise ProtocolError(f"unknown limit {str(limit)[:40]!r}")
        timed_out = limit == "timeout"
        result = CellResult(
            error=error,
            timed_out=timed_out,
            limit=binding if timed_out else limit,
            exit_code=int(message.get("exit_code", 0)),
        )
        dropped = (_count(message.get("stdout_dropped")), _count(message.get("stderr_dropped")))
        self._add_output(result, outputs, dropped)
        return result

    def _crash_result(self) -> CellResult:
        status = self._wait_exit_status()
        detail = self._stderr_tail()
        outputs = self._kill()
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
            message = f"the worker exited with status {status} (os._exit or a C-level exit)"
        if detail:
            message += f"\n{detail[-2000:]}"
        result = CellResult(error=f"SandboxCrash: {message}", limit=limit, exit_code=status, state_lost=True)
        self._add_output(result, outputs)
        return result

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
