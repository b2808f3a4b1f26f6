"""Calls by signature for the protocol bindings: ``data("f(uint256,(address,bool)[])", ...)``
and ``read(rpc, to, "f(address)(uint256,uint256)", ...)``, on top of ``wallet.calls``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from wallet import calls
from wallet.calls import Function
from wallet.rpc import Rpc

__all__ = ["data", "fn", "read", "read_one"]


@lru_cache(maxsize=256)
def fn(signature: str) -> Function:
    return calls.parse_signature(signature)


def data(signature: str, *args: Any) -> bytes:
    """Calldata for ``signature`` (its return types, if written, are ignored)."""
    return calls.calldata(fn(signature), args)


def read(rpc: Rpc, to: str, signature: str, *args: Any, sender: str | None = None, block: str = "latest") -> list[Any]:
    """eth_call ``signature`` on ``to``; the decoded return values."""
    request = {"to": to, "data": "0x" + data(signature, *args).hex()}
    if sender is not None:
        request["from"] = sender
    raw = rpc.call("eth_call", request, block)
    return calls.decode_result(fn(signature), bytes.fromhex((raw or "0x")[2:]))


def read_one(rpc: Rpc, to: str, signature: str, *args: Any, block: str = "latest") -> Any:
    return read(rpc, to, signature, *args, block=block)[0]
