"""Host side of the worker pipe: length-prefixed JSON frames with deadlines.

The worker is untrusted once it has run model code, so every read has a deadline and a size cap,
and anything that is not a well-formed frame is a :class:`ProtocolError` (the host then kills the
worker instead of trusting it further).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import time

HEADER = struct.Struct(">I")
PIPE_BYTES = 1 << 20  # bigger pipes: a 1M-character context crosses in a few writes
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class ChannelClosed(Exception):
    """The worker closed its end of the pipe (it exited or crashed)."""


class ChannelTimeout(Exception):
    """The deadline passed before a whole frame arrived or could be sent."""


class ProtocolError(Exception):
    """The worker sent something that is not a valid frame."""


def encode(message: dict) -> bytes:
    payload = json.dumps(message).encode("ascii")
    return HEADER.pack(len(payload)) + payload


class OutputPipe:
    """The host's end of one of the worker's output pipes (its fd 1 or 2): keeps the first
    ``limit`` bytes written during a cell and counts the rest, reading without ever blocking."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.closed = False
        self.data = bytearray()
        self.dropped = 0
        os.set_blocking(fd, False)
        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass

    def read_available(self) -> None:
        while not self.closed:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # every writer is gone
                self.closed = True
                return
            room = max(self.limit - len(self.data), 0)
            self.data += chunk[:room]
            self.dropped += len(chunk) - min(room, len(chunk))

    def take(self) -> tuple[str, int]:
        """(text, bytes dropped) written since the last take; starts the next cell's capture."""
        text, dropped = self.data.decode("utf-8", "replace"), self.dropped
        self.data, self.dropped = bytearray(), 0
        return text, dropped

    def close(self) -> None:
        self.closed = True
        try:
            os.close(self.fd)
        except OSError:
            pass


class Channel:
    def __init__(self, read_fd: int, write_fd: int, max_frame_bytes: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        for fd in (read_fd, write_fd):
            os.set_blocking(fd, False)
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:  # above /proc/sys/fs/pipe-max-size: keep the default
                pass

    def _wait(self, fd: int, events: int, deadline: float, outputs: tuple[OutputPipe, ...] = ()) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout
        poller = select.poll()
        poller.register(fd, events)
        for pipe in outputs:
            if not pipe.closed:
                poller.register(pipe.fd, select.POLLIN)
        ready = poller.poll(remaining * 1000)
        if not ready:
            raise ChannelTimeout
        for pipe in outputs:  # keep the worker's output pipes flowing while waiting for a frame
            if any(ready_fd == pipe.fd for ready_fd, _ in ready):
                pipe.read_available()

    def send(self, message: dict, deadline: float) -> None:
        self.send_raw(encode(message), deadline)

    def send_raw(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.write_fd, view)
            except BlockingIOError:
                self._wait(self.write_fd, select.POLLOUT, deadline)
                continue
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise ChannelClosed from exc
            view = view[written:]

    def _frame(self) -> dict | None:
        if len(self._buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self._buffer)
        if size > self.max_frame_bytes:
            raise ProtocolError(f"frame of {size} bytes exceeds the {self.max_frame_bytes}-byte cap")
        end = HEADER.size + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[HEADER.size : end])
        del self._buffer[:end]
        try:
            message = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(f"frame is not JSON: {type(exc).__name__}") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ProtocolError("frame is not an object with an 'op' field")
        return message

    def recv(self, deadline: float, outputs: tuple[OutputPipe, ...] = ()) -> dict:
        """The next frame; ``outputs`` are drained meanwhile, so a worker blocked writing output
        cannot stall the frame it is about to send."""
        while True:
            message = self._frame()
            if message is not None:
                return message
            try:
                chunk = os.read(self.read_fd, 1 << 20)
            except BlockingIOError:
                self._wait(self.read_fd, select.POLLIN, deadline, outputs)
                continue
            if not chunk:
                raise ChannelClosed
            self._buffer += chunk
