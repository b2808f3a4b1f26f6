"""Reading a whole message from a Unix socket (the zygote's and the unlock agent's
protocols). Standard library only: the console script imports it before anything else."""

from __future__ import annotations

import socket


def recv_exactly(sock: socket.socket, size: int, peer: str) -> bytes:
    """`size` bytes from `sock`; ConnectionError naming `peer` if it closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"{peer} closed the connection")
        data += chunk
    return data
