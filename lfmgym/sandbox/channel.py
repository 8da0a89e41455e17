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

    def _wait(self, fd: int, events: int, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout
        poller = select.poll()
        poller.register(fd, events)
        if not poller.poll(remaining * 1000):
            raise ChannelTimeout

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
        except ValueError as exc:
            raise ProtocolError(f"frame is not JSON: {exc}") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ProtocolError("frame is not an object with an 'op' field")
        return message

    def recv(self, deadline: float) -> dict:
        while True:
            message = self._frame()
            if message is not None:
                return message
            try:
                chunk = os.read(self.read_fd, 1 << 20)
            except BlockingIOError:
                self._wait(self.read_fd, select.POLLIN, deadline)
                continue
            if not chunk:
                raise ChannelClosed
            self._buffer += chunk
