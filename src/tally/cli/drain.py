"""Graceful shutdown without resets: drain the kernel's accept queue before the listening socket closes.

uvicorn stops accepting by closing its listening socket. A connection whose handshake the kernel had already
completed, but which the server had not yet accepted, is then reset by the kernel, and its client, which had
already sent its request, sees "connection reset by peer" on a request nobody read.

On Linux, `DrainingServer` first attaches a classic BPF filter to the listening socket that drops new SYNs
(their clients retry the SYN and then find the port closed: a clean "connection refused"). Handshakes
already under way still complete. It then keeps accepting and serving until the accept queue is empty, and
only then lets uvicorn close the socket and drain the requests in flight. Elsewhere, or if the filter cannot
be attached, it is uvicorn's own shutdown.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import struct
import sys
import time

import uvicorn

log = logging.getLogger("tally")

_SO_ATTACH_FILTER = 26
_TCP_INFO_UNACKED = 24  # offset of tcpi_unacked: on a listening socket, the accept queue's length
_DRAIN_SECONDS = 5.0  # bound on the wait for the accept queue to empty


class _Insn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def refuse_new_connections(sock: socket.socket) -> bool:
    """Drop every TCP segment with SYN set that reaches `sock` (a listener sees the transport header at
    offset 0, its flags at byte 13); ACKs that complete a handshake still pass. True when attached."""
    if not sys.platform.startswith("linux"):
        return False
    program = (_Insn * 4)(
        _Insn(0x30, 0, 0, 13),  # ldb [13]           the TCP flags
        _Insn(0x45, 0, 1, 0x02),  # jset #SYN         set: next, else skip one
        _Insn(0x06, 0, 0, 0),  # ret #0             drop
        _Insn(0x06, 0, 0, 0xFFFFFFFF),  # ret #-1  accept
    )
    prog = _Prog(len(program), ctypes.cast(program, ctypes.POINTER(_Insn)))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, bytes(prog))  # the kernel copies the program
    except OSError as exc:
        log.warning("cannot attach the shutdown filter (%s): a connection not yet accepted may be reset", exc)
        return False
    return True


def accept_queue_length(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int(struct.unpack_from("I", info, _TCP_INFO_UNACKED)[0])


class DrainingServer(uvicorn.Server):
    """uvicorn's server, whose shutdown first serves every connection the kernel already accepted."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        super().__init__(config)
        self._sock = sock

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if refuse_new_connections(self._sock):
            await asyncio.sleep(0.02)  # handshakes already under way (a loopback round trip is microseconds)
            deadline = time.monotonic() + _DRAIN_SECONDS
            while accept_queue_length(self._sock) and time.monotonic() < deadline:
                await asyncio.sleep(0.005)  # the event loop accepts meanwhile
            await asyncio.sleep(0.05)  # let the requests on the last accepted connections be read
        await super().shutdown(sockets)
