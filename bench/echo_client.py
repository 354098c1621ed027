#!/usr/bin/env python3
"""A raw-socket C-ECHO client: no DICOM library, so it costs next to nothing per association.

Each association: TCP connect (TCP_NODELAY), a hand-built A-ASSOCIATE-RQ with one presentation
context (Verification, Implicit VR Little Endian), wait for the A-ASSOCIATE-AC and check the
context was accepted, one C-ECHO-RQ in a P-DATA-TF, wait for the C-ECHO-RSP and check its
status, A-RELEASE-RQ, wait for the A-RELEASE-RP, close.  Every socket operation has a timeout.

Usage: ``echo_client.py HOST PORT [--aec AE] [-n 200]`` prints the seconds taken.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_UID = "1.2.826.0.1.3680043.8.498.4242.2"
MAX_PDU = 16384


class EchoError(Exception):
    pass


def _item(item_type: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(payload)) + payload


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def _ae(title: str) -> bytes:
    raw = title.encode("ascii")
    if not 0 < len(raw) <= 16:
        raise ValueError(f"bad AE title {title!r}")
    return raw.ljust(16)


def associate_rq(called: str, calling: str) -> bytes:
    context = (struct.pack(">BBBB", 1, 0, 0, 0)
               + _item(0x30, VERIFICATION.encode()) + _item(0x40, IMPLICIT_VR_LE.encode()))
    user_info = (_item(0x51, struct.pack(">I", MAX_PDU))
                 + _item(0x52, IMPLEMENTATION_UID.encode())
                 + _item(0x55, b"BENCH_RAWECHO"))
    body = (struct.pack(">HH", 1, 0) + _ae(called) + _ae(calling) + bytes(32)
            + _item(0x10, APPLICATION_CONTEXT.encode()) + _item(0x20, context)
            + _item(0x50, user_info))
    return _pdu(0x01, body)


def _element(tag_elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0x0000, tag_elem, len(value)) + value


def echo_rq(message_id: int) -> bytes:
    sop = VERIFICATION.encode() + b"\0"  # UI padded to an even length
    elems = (_element(0x0002, sop) + _element(0x0100, struct.pack("<H", 0x0030))
             + _element(0x0110, struct.pack("<H", message_id))
             + _element(0x0800, struct.pack("<H", 0x0101)))
    command = _element(0x0000, struct.pack("<I", len(elems))) + elems
    pdv = struct.pack(">IBB", len(command) + 2, 1, 0x03) + command  # context 1, command, last
    return _pdu(0x04, pdv)


RELEASE_RQ = _pdu(0x05, bytes(4))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EchoError("peer closed the connection")
        buf += chunk
    return bytes(buf)


def recv_pdu(sock: socket.socket) -> tuple[int, bytes]:
    pdu_type, _, length = struct.unpack(">BBI", _recv_exact(sock, 6))
    if length > 1 << 24:
        raise EchoError(f"PDU length {length} too large")
    return pdu_type, _recv_exact(sock, length)


def _check_accept(pdu_type: int, body: bytes) -> None:
    if pdu_type == 0x03:
        raise EchoError(f"association rejected: result/source/reason {tuple(body[1:4])}")
    if pdu_type != 0x02:
        raise EchoError(f"expected A-ASSOCIATE-AC, got PDU type {pdu_type:#04x}")
    pos = 68  # protocol version, reserved, AE titles echoed, 32 reserved
    while pos + 4 <= len(body):
        item_type, _, length = struct.unpack_from(">BBH", body, pos)
        if item_type == 0x21:
            context_id, result = body[pos + 4], body[pos + 6]
            if context_id == 1 and result == 0:
                return
            raise EchoError(f"presentation context {context_id} refused (result {result})")
        pos += 4 + length
    raise EchoError("no presentation context in A-ASSOCIATE-AC")


def _command_elements(command: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 8 <= len(command):
        _group, elem, length = struct.unpack_from("<HHI", command, pos)
        out[elem] = command[pos + 8:pos + 8 + length]
        pos += 8 + length
    return out


def _read_response(sock: socket.socket) -> dict[int, bytes]:
    command = bytearray()
    while True:
        pdu_type, body = recv_pdu(sock)
        if pdu_type != 0x04:
            raise EchoError(f"expected P-DATA-TF, got PDU type {pdu_type:#04x}")
        pos = 0
        while pos + 6 <= len(body):
            length, _context, header = struct.unpack_from(">IBB", body, pos)
            command += body[pos + 6:pos + 4 + length]
            pos += 4 + length
            if header & 0x01 and header & 0x02:  # command fragment, last
                return _command_elements(bytes(command))


def echo_once(sock: socket.socket, called: str, calling: str, message_id: int = 1) -> None:
    sock.sendall(associate_rq(called, calling))
    _check_accept(*recv_pdu(sock))
    sock.sendall(echo_rq(message_id))
    elems = _read_response(sock)
    field = struct.unpack("<H", elems.get(0x0100, b"\0\0"))[0]
    status = struct.unpack("<H", elems.get(0x0900, b"\xff\xff"))[0]
    if field != 0x8030 or status != 0:
        raise EchoError(f"bad C-ECHO-RSP: command field {field:#06x}, status {status:#06x}")
    sock.sendall(RELEASE_RQ)
    pdu_type, _ = recv_pdu(sock)
    if pdu_type != 0x06:
        raise EchoError(f"expected A-RELEASE-RP, got PDU type {pdu_type:#04x}")


def one_association(host: str, port: int, called: str, calling: str = "BENCHECHO",
                    timeout: float = 10.0) -> None:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        echo_once(sock, called, calling)


def echo_loop(host: str, port: int, called: str, n: int, timeout: float = 10.0) -> float:
    """Run ``n`` sequential associations; return the wall time in seconds."""
    t0 = time.perf_counter()
    for _ in range(n):
        one_association(host, port, called, timeout=timeout)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--aec", default="ANY-SCP", help="called AE title")
    ap.add_argument("-n", type=int, default=200, help="associations")
    a = ap.parse_args(argv)
    elapsed = echo_loop(a.host, a.port, a.aec, a.n)
    print(f"{a.n} associations in {elapsed:.3f} s, {1000 * elapsed / a.n:.3f} ms each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
