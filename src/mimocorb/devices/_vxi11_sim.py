"""VXI-11 for the simulated oscilloscope: ONC RPC over TCP (RFC 5531) with record marking, the
portmapper's GETPORT (RFC 1833, program 100000 version 2) and the VXI-11 core channel (program 0x0607AF
version 1): create_link, device_write, device_read, destroy_link.

A ``TCPIP::HOST::INSTR`` resource first asks the portmapper on port 111 for the core channel's port,
then opens a link there; writes carry SCPI commands (complete once the END flag comes), reads return
the replies, stopping after the termination character when the client asks for it. Only what VISA
clients use to talk to a scope is answered; any other procedure gets PROC_UNAVAIL.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

PORTMAPPER, PORTMAPPER_VERSION, GETPORT = 100000, 2, 3
CORE, CORE_VERSION = 0x0607AF, 1
CREATE_LINK, DEVICE_WRITE, DEVICE_READ, DESTROY_LINK = 10, 11, 12, 23
END_FLAG, TERMCHAR_FLAG = 8, 128  # device_write / device_read flags
REQCNT, CHR, END = 1, 2, 4  # device_read reasons
NO_ERROR, INVALID_LINK, IO_TIMEOUT = 0, 4, 15
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL = 0, 1, 2, 3
MAX_RECV = 1 << 20  # bytes the simulated device accepts per device_write

Handler = Callable[[str], "bytes | None"]  # one SCPI command -> its reply, if it has one


class _Xdr:
    """Reads XDR items (big-endian 32-bit words, opaque data padded to four bytes) from a call."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def uint(self) -> int:
        (value,) = struct.unpack_from(">I", self.data, self.at)
        self.at += 4
        return int(value)

    def opaque(self) -> bytes:
        length = self.uint()
        value = self.data[self.at : self.at + length]
        self.at += (length + 3) & ~3
        return value


def opaque(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data + bytes(-len(data) % 4)


def _record(sock: socket.socket) -> bytes | None:
    """One RPC record (its fragments joined); None once the client closed the connection."""
    record = b""
    while True:
        header = _exactly(sock, 4)
        if header is None:
            return None
        (word,) = struct.unpack(">I", header)
        fragment = _exactly(sock, word & 0x7FFFFFFF)
        if fragment is None:
            return None
        record += fragment
        if word & 0x80000000:
            return record


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            return None
        data += piece
    return data


def _reply(xid: int, status: int, results: bytes = b"") -> bytes:
    """An accepted reply with a null verifier, in one last fragment."""
    body = struct.pack(">6I", xid, 1, 0, 0, 0, status) + results
    return struct.pack(">I", 0x80000000 | len(body)) + body


def serve_rpc(sock: socket.socket, program: int, version: int, procedures: dict[int, Callable]) -> None:
    """Answer calls of ``program`` on one connection until the client closes it; each procedure gets
    the call's arguments and returns its packed results."""
    while (record := _record(sock)) is not None:
        call = _Xdr(record)
        xid, _, _, prog, vers, proc = (call.uint() for _ in range(6))
        call.uint(), call.opaque(), call.uint(), call.opaque()  # credentials, verifier: not checked
        if prog != program:
            sock.sendall(_reply(xid, PROG_UNAVAIL))
        elif vers != version:
            sock.sendall(_reply(xid, PROG_MISMATCH, struct.pack(">II", version, version)))
        elif proc == 0:
            sock.sendall(_reply(xid, SUCCESS))  # NULL: a ping
        elif proc not in procedures:
            sock.sendall(_reply(xid, PROC_UNAVAIL))
        else:
            sock.sendall(_reply(xid, SUCCESS, procedures[proc](call)))


def serve_portmapper(sock: socket.socket, core_port: int) -> None:
    """GETPORT: the core channel's port for the VXI-11 core program over TCP, 0 for anything else."""

    def getport(call: _Xdr) -> bytes:
        prog, vers, protocol, _ = (call.uint() for _ in range(4))
        known = prog == CORE and vers == CORE_VERSION and protocol == socket.IPPROTO_TCP
        return struct.pack(">I", core_port if known else 0)

    serve_rpc(sock, PORTMAPPER, PORTMAPPER_VERSION, {GETPORT: getport})


class CoreChannel:
    """The links of one core-channel connection: commands written, replies waiting to be read."""

    _next_link = 0
    _count_lock = threading.Lock()

    def __init__(self, handle: Handler):
        self.handle = handle
        self.links: dict[int, tuple[bytearray, bytearray]] = {}  # link -> (command so far, output)

    def serve(self, sock: socket.socket) -> None:
        procedures = {
            CREATE_LINK: self.create_link,
            DEVICE_WRITE: self.device_write,
            DEVICE_READ: self.device_read,
            DESTROY_LINK: self.destroy_link,
        }
        serve_rpc(sock, CORE, CORE_VERSION, procedures)

    def create_link(self, call: _Xdr) -> bytes:
        call.uint(), call.uint(), call.uint(), call.opaque()  # client id, lock, lock timeout, device name
        with CoreChannel._count_lock:
            CoreChannel._next_link += 1
            link = CoreChannel._next_link
        self.links[link] = (bytearray(), bytearray())
        return struct.pack(">iiII", NO_ERROR, link, 0, MAX_RECV)  # abort channel: not offered

    def device_write(self, call: _Xdr) -> bytes:
        link, _, _, flags = (call.uint() for _ in range(4))
        data = call.opaque()
        if link not in self.links:
            return struct.pack(">iI", INVALID_LINK, 0)
        pending, output = self.links[link]
        pending += data
        if flags & END_FLAG:
            for line in bytes(pending).decode("ascii", "replace").splitlines():
                reply = self.handle(line.strip())
                if reply is not None:
                    output += reply
            pending.clear()
        return struct.pack(">iI", NO_ERROR, len(data))

    def device_read(self, call: _Xdr) -> bytes:
        """Up to the request size, up to the termination character if asked; nothing waiting is a
        timeout at once, since no reply can come without a command."""
        link, size, _, _, flags, term_char = (call.uint() for _ in range(6))
        if link not in self.links:
            return struct.pack(">ii", INVALID_LINK, 0) + opaque(b"")
        output = self.links[link][1]
        if not output:
            return struct.pack(">ii", IO_TIMEOUT, 0) + opaque(b"")
        take, reason = min(size, len(output)), REQCNT
        stop = output.find(bytes([term_char & 0xFF]), 0, take) if flags & TERMCHAR_FLAG else -1
        if stop >= 0:
            take, reason = stop + 1, CHR
        data = bytes(output[:take])
        del output[:take]
        if not output:
            reason |= END
        return struct.pack(">ii", NO_ERROR, reason) + opaque(data)

    def destroy_link(self, call: _Xdr) -> bytes:
        known = self.links.pop(call.uint(), None) is not None
        return struct.pack(">i", NO_ERROR if known else INVALID_LINK)
