"""The persistent Python worker that runs *inside* the sandbox.

This file is never imported on the host: the sandboxed interpreter runs a two-line bootstrap
(``BOOTSTRAP`` in sandbox.py) that reads this source from the pipe and executes it, so it must be
self-contained and use only the standard library.

Protocol (both directions): a 4-byte big-endian length, then that many bytes of UTF-8 JSON
holding one object with an ``op`` field.

host -> worker                                   worker -> host
  {"op": "init", "limits": {...}, ...}             {"op": "ready"}
  {"op": "exec", "code", "budget", "echo"}        {"op": "call", ...}* then {"op": "result", ...}
  {"op": "set", "name": str, "value": any}         {"op": "ok"}
  {"op": "get", "name": str, "as_str": bool}       {"op": "value", ...} | {"op": "missing"}
  {"op": "return"|"raise", ...} (to a call)

Its argv is ``[-c, SOURCE_LENGTH, WORKDIR]``. File descriptors 1 and 2 are two pipes of their own
to the host (named in ``init``), separate from the protocol pipe: what the cell prints (capped in
the worker), and what ``os.write(1, ...)`` or child processes write, reaches the host as it is
written, so nothing printed before a crash, an ``os._exit`` or a kill is lost. Every reply carries
the ``seq`` of the request it answers, so the host can drop a frame that cell code forged.
"""

import ast
import errno
import io
import json
import linecache
import os
import resource
import signal
import struct
import sys
import threading
import time
import traceback

_HEADER = struct.Struct(">I")
_WORKER_FILENAME = "<lfmgym-worker>"


class _CappedText(io.TextIOBase):
    """A text stream that writes the first ``limit`` characters straight to ``fd`` (a pipe to the
    host) and counts the rest."""

    def __init__(self, limit, fd):
        self._limit = limit
        self._fd = fd
        self._kept = 0
        self.dropped = 0

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self._limit - self._kept
        if room > 0:
            part = text[:room]
            self._kept += len(part)
            view = memoryview(part.encode("utf-8", "backslashreplace"))
            while view:
                try:
                    view = view[os.write(self._fd, view):]
                except OSError:  # the host went away: nothing left to show the output to
                    break
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    @property
    def encoding(self):
        return "utf-8"

    def isatty(self):
        return False


class _Channel:
    def __init__(self, read_fd, write_fd, max_bytes):
        self._rfd = read_fd
        self._wfd = write_fd
        self.max_bytes = max_bytes

    def close(self):
        for fd in (self._rfd, self._wfd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_exact(self, size):
        chunks = []
        while size:
            chunk = os.read(self._rfd, min(size, 1 << 20))
            if not chunk:
                raise EOFError("host closed the channel")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def recv(self):
        (size,) = _HEADER.unpack(self._read_exact(_HEADER.size))
        message = json.loads(self._read_exact(size))
        self.seq = message.get("seq") if isinstance(message, dict) else None
        return message

    def encode(self, message):
        # ensure_ascii keeps lone surrogates (printable from Python) encodable.
        return json.dumps(dict(message, seq=getattr(self, "seq", None))).encode("ascii")

    def send_bytes(self, payload):
        view = memoryview(_HEADER.pack(len(payload)) + payload)
        while view:
            written = os.write(self._wfd, view)
            view = view[written:]

    def send(self, message):
        self.send_bytes(self.encode(message))


class CellTimeout(BaseException):
    """Raised in the cell when its wall-clock budget runs out.

    A BaseException so that ``except Exception`` in model code does not swallow it; code that
    swallows it anyway is killed by the host a moment later.
    """


class HostFunctionError(RuntimeError):
    """Raised inside the sandbox when a host function fails or its call budget is spent."""


_LIMIT_ERRNOS = {
    errno.EFBIG: "file_size",
    errno.EMFILE: "open_files",
    errno.ENFILE: "open_files",
    errno.EAGAIN: "processes",
}


def _limit_of(exc):
    """Which resource limit an exception reports, if any (the cell keeps running otherwise)."""
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError) and exc.errno in _LIMIT_ERRNOS:
        return _LIMIT_ERRNOS[exc.errno]
    return None


class Worker:
    def __init__(self, channel):
        self.channel = channel
        self.namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        self.output_limit = 20_000
        self.cell_count = 0
        self.in_cell = False
        self.budget = None
        self.pid = os.getpid()
        self.reap_strays = False

    def _on_alarm(self, signum, frame):
        # Only interrupt model code: outside a cell the worker is talking to the host.
        if self.in_cell:
            self.in_cell = False
            raise CellTimeout(f"cell exceeded its {self.budget:g} s wall-clock limit")

    # -- setup -------------------------------------------------------------------------
    def init(self, message):
        limits = message.get("limits", {})
        for name, value in limits.items():
            # CPU: SIGXCPU at the soft limit (reported as the "cpu" limit); the hard limit one
            # second later is SIGKILL for code that ignores it.
            hard = value + 1 if name == "RLIMIT_CPU" else value
            resource.setrlimit(getattr(resource, name), (value, hard))
        self.output_limit = int(message.get("output_limit", self.output_limit))
        self.channel.max_bytes = int(message.get("max_message_bytes", self.channel.max_bytes))
        for name in message.get("host_functions", []):
            self.namespace[name] = self._host_function(name)
        self.namespace["HostFunctionError"] = HostFunctionError
        self.reap_strays = bool(message.get("reap_strays"))
        # fds 1 and 2 become the host's output pipes (inherited by every child of a cell).
        for target, name in ((1, "stdout_fd"), (2, "stderr_fd")):
            fd = message.get(name)
            if isinstance(fd, int) and fd > 2:
                os.dup2(fd, target)
                os.close(fd)
        signal.signal(signal.SIGALRM, self._on_alarm)
        # A leftover thread stopped at the end of its cell ends quietly (see _stop_leftover_threads).
        default_hook = threading.excepthook
        threading.excepthook = lambda args: None if args.exc_type is CellTimeout else default_hook(args)
        # A process forked by model code must never speak on the protocol pipe.
        os.register_at_fork(after_in_child=self._after_fork_in_child)
        self.channel.send({"op": "ready", "pid": os.getpid(), "uid": os.getuid()})

    def _host_function(self, name):
        channel = self.channel

        def call_host(*args, **kwargs):
            try:
                payload = channel.encode({"op": "call", "name": name, "args": list(args), "kwargs": kwargs})
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name}(): arguments must be JSON-serializable ({exc})") from None
            # Host time does not count against the cell: pause the alarm while the host works.
            remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
            try:
                channel.send_bytes(payload)
                reply = channel.recv()
            finally:
                if remaining > 0:
                    signal.setitimer(signal.ITIMER_REAL, remaining)
            if reply.get("op") == "return":
                return reply.get("value")
            raise HostFunctionError(reply.get("error", f"{name}() failed"))

        call_host.__name__ = call_host.__qualname__ = name
        call_host.__doc__ = f"{name}(...) runs on the host; arguments and result travel as JSON."
        return call_host

    def _after_fork_in_child(self):
        self.channel.close()

    def _reap_stray_processes(self):
        """Kill every process a cell left behind, so none outlives the cell.

        Only inside the sandbox's own pid namespace, where kill(-1) reaches nothing but this
        sandbox's processes (never pid 1, never the caller).
        """
        for _ in range(100):
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            self._reap_children()
            if not self._other_live_processes():
                # Children killed after the reap above are zombies now: reap them too. A zombie
                # still counts against RLIMIT_NPROC, so leaving it would shrink the next cell's budget.
                self._reap_children()
                return
            time.sleep(0.002)

    @staticmethod
    def _reap_children():
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    return
            except ChildProcessError:
                return

    def _other_live_processes(self):
        live = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (1, self.pid):
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                live.append(int(entry))
        return live

    # -- cells -------------------------------------------------------------------------
    @staticmethod
    def _stop_leftover_threads(before, grace=0.2):
        """A cell's threads end with the cell: raise CellTimeout in each Python thread it left
        running (it lands at the thread's next bytecode); return how many are still alive after
        ``grace`` seconds (blocked in C code, e.g. a long sleep)."""
        left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not left:
            return 0
        import ctypes

        for thread in left:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(CellTimeout))
        deadline = time.monotonic() + grace
        for thread in left:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(t.is_alive() for t in left)

    def _format_exception(self, exc):
        # Drop the worker's own frames so the model sees only its code.
        # The innermost frames only: a deep recursion must not cost seconds of formatting.
        lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-30)
        marker = f'  File "{_WORKER_FILENAME}"'
        return "".join(line for line in lines if not line.startswith(marker)).rstrip()

    def exec_cell(self, message):
        self.cell_count += 1
        filename = str(message.get("name") or f"<cell {self.cell_count}>")
        code = message["code"]
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        stdout, stderr = _CappedText(self.output_limit, 1), _CappedText(self.output_limit, 2)
        saved = sys.stdout, sys.stderr
        threads_before = {t.ident for t in threading.enumerate()}
        sys.stdout, sys.stderr = stdout, stderr
        error = limit = None
        exit_code = 0
        self.budget = float(message["budget"])
        try:
            tree = ast.parse(code, filename, "exec")
            last = None
            if message.get("echo", True) and tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            compiled = compile(tree, filename, "exec")
            self.in_cell = True
            signal.setitimer(signal.ITIMER_REAL, self.budget)
            exec(compiled, self.namespace)
            if last is not None:
                # Echo the cell's last expression like a notebook. Running model code is this
                # worker's job; it only ever runs inside the bubblewrap sandbox, never on the host.
                value = eval(compile(last, filename, "eval"), self.namespace)
                if value is not None:
                    print(repr(value))
            self.in_cell = False  # inside the try: an alarm racing this line is still caught below
        except CellTimeout as exc:
            exit_code = 124
            error = self._format_exception(exc)
            limit = "timeout"
        except SystemExit as exc:
            code_ = exc.code
            exit_code = code_ if isinstance(code_, int) else (0 if code_ is None else 1)
            if code_ is not None and not isinstance(code_, int):
                print(code_, file=stderr)
            if exit_code:
                error = f"SystemExit: {code_}"
        except BaseException as exc:  # the model's code may raise anything; report it all
            exit_code = 1
            try:
                error = self._format_exception(exc)
            except BaseException:
                error = f"{type(exc).__name__}: <unprintable>"
            limit = _limit_of(exc)
        finally:
            if os.getpid() != self.pid:  # a process forked by the cell finished the cell's code
                os._exit(0)
            self.in_cell = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = saved
        left = self._stop_leftover_threads(threads_before)
        if left:
            stderr.write(f"[{left} thread(s) started by this cell were still running after it and could not be "
                         "stopped (blocked in C code); they keep running]\n")
        if self.reap_strays:
            self._reap_stray_processes()
        result = {
            "op": "result",
            "stdout_dropped": stdout.dropped,
            "stderr_dropped": stderr.dropped,
            "error": error,
            "limit": limit,
            "exit_code": exit_code,
        }
        self.channel.send(result)

    # -- variables ---------------------------------------------------------------------
    def set_variable(self, message):
        self.namespace[message["name"]] = message["value"]
        self.channel.send({"op": "ok"})

    def get_variable(self, message):
        name = message["name"]
        if name not in self.namespace:
            self.channel.send({"op": "missing"})
            return
        value = self.namespace[name]
        budget = message.get("budget")
        try:
            if isinstance(budget, (int, float)) and budget > 0:
                # A hostile __str__/__repr__ (one that sleeps) is interrupted like a cell.
                self.budget = float(budget)
                self.in_cell = True
                signal.setitimer(signal.ITIMER_REAL, self.budget)
            if message.get("as_str"):
                payload = self.channel.encode({"op": "value", "value": str(value)})
            else:
                try:
                    payload = self.channel.encode({"op": "value", "value": value})
                except (TypeError, ValueError):  # not JSON-safe: hand back its repr
                    payload = self.channel.encode({"op": "value", "value": repr(value), "repr": True})
        except BaseException as exc:  # a hostile __str__/__repr__ must not kill the worker
            try:
                text = f"{type(exc).__name__}: {exc}"
            except BaseException:
                text = f"{type(exc).__name__}: <unprintable>"
            payload = self.channel.encode({"op": "error", "error": text[:2000]})
        finally:
            self.in_cell = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        if len(payload) > self.channel.max_bytes:
            payload = self.channel.encode(
                {"op": "error", "error": f"{name} is too large to transfer ({len(payload)} bytes)"}
            )
        self.channel.send_bytes(payload)

    def serve(self):
        handlers = {"init": self.init, "exec": self.exec_cell, "set": self.set_variable, "get": self.get_variable}
        while True:
            try:
                message = self.channel.recv()
            except EOFError:
                return
            handlers[message["op"]](message)


def main():
    workdir = sys.argv[2]
    os.chdir(workdir)
    # Keep the protocol pipes on private descriptors, then point 0/1 somewhere harmless so nothing
    # the cell does (print from C code, child processes) can write into the protocol; ``init``
    # then points 1 and 2 at the host's output pipes.
    read_fd, write_fd = os.dup(0), os.dup(1)
    os.set_inheritable(read_fd, False)
    os.set_inheritable(write_fd, False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdin = None
    # A write past RLIMIT_FSIZE should raise OSError(EFBIG) in the cell, not kill the worker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # A dead host must not kill the worker with SIGPIPE mid-cell: writes fail with EPIPE instead.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    Worker(_Channel(read_fd, write_fd, 64 << 20)).serve()


if __name__ == "__main__":
    main()
