"""A small Ethereum JSON-RPC client over one keep-alive HTTP connection.

Why not web3's provider: importing web3 costs ~0.6 s (measured), which every `hongbao`
command touching a chain would pay, and its per-request middleware slows bulk work
(sync, benchmarks). This client speaks plain JSON-RPC 2.0 with batching; web3 stays
available for code that wants it. The endpoint and transport are I/O; callers pass an
`Rpc` in, so tests can point it at anvil.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from .errors import WalletError


class RpcUnreachable(WalletError):
    pass


class RpcError(WalletError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


def revert_data(error: Exception) -> bytes | None:
    """The revert payload an RPC error carries (anvil, geth: `data` as hex or {"data": hex});
    None when absent or not hex (the node is someone else's)."""
    data = getattr(error, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def is_revert(error: Exception) -> bool:
    """The node says the call reverted (its message, or geth's code 3)."""
    return "revert" in str(getattr(error, "rpc_message", "")).lower() or getattr(error, "code", None) == 3


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WalletError(f"RPC URL {url!r} must be http:// or https://")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port
        self._https = parts.scheme == "https"
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._conn: http.client.HTTPConnection | None = None

    def __repr__(self) -> str:
        return f"Rpc({self.url!r})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Rpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            conn = self._connection()
            try:
                conn.request("POST", self._path, body, headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if attempt == 2:
                    raise RpcUnreachable(
                        f"the RPC at {self.url} dropped the connection ({error.__class__.__name__}); is the node healthy?"
                    ) from None
            except (ConnectionRefusedError, TimeoutError, OSError) as error:
                self.close()
                hint = (
                    "start it with `hongbao chain up`"
                    if self._host in ("127.0.0.1", "localhost")
                    else "check the URL and your connection"
                )
                reason = (
                    "timed out"
                    if isinstance(error, (socket.timeout, TimeoutError))
                    else "connection refused"
                    if isinstance(error, ConnectionRefusedError)
                    else error.__class__.__name__
                )
                raise RpcUnreachable(f"cannot reach the RPC at {self.url} ({reason}); {hint}") from None
        if response.status != 200:
            raise RpcUnreachable(f"the RPC at {self.url} answered HTTP {response.status}")
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise RpcUnreachable(f"the RPC at {self.url} did not answer JSON") from None

    @staticmethod
    def _result(method: str, reply: dict[str, Any]) -> Any:
        if "error" in reply and reply["error"] is not None:
            error = reply["error"]
            raise RpcError(method, int(error.get("code", 0)), str(error.get("message", "error")), error.get("data"))
        return reply.get("result")

    def call(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        return self._result(method, reply)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one round trip; results in order. Raises the first error."""
        if not calls:
            return []
        first = next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)} for i, (m, p) in enumerate(calls)
        ]
        for _ in calls[1:]:
            next(self._ids)
        replies = self._post(payload)
        if not isinstance(replies, list):  # some nodes answer a batch error as one object
            raise RpcError(
                "batch",
                int(replies.get("error", {}).get("code", 0)),
                str(replies.get("error", {}).get("message", "batch refused")),
            )
        by_id = {r.get("id"): r for r in replies}
        return [
            self._result(m, by_id.get(first + i, {"error": {"message": "no reply"}})) for i, (m, _) in enumerate(calls)
        ]


def to_int(value: str | int | None) -> int:
    """A JSON-RPC quantity ("0x1a") as an int."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)


def hex_int(value: int) -> str:
    return hex(value)
