"""Just enough ABI: static-argument encoding, selectors, return-value and revert decoding.

Calls with static arguments (address, uint, bool, bytes32) are encoded here without
eth-abi (122 ms to import, measured); dynamic decoding (strings, tuples, arbitrary
signatures) goes to eth-abi, imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eth_hash.auto import keccak

from . import address as addr

ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


@lru_cache(maxsize=256)
def selector(signature: str) -> bytes:
    """`transfer(address,uint256)` -> a9059cbb."""
    return keccak(signature.replace(" ", "").encode())[:4]


def word(value: Any) -> bytes:
    """One static ABI word: int (uint256), bool, address string, or <= 32 bytes."""
    if isinstance(value, bool):
        return int(value).to_bytes(32, "big")
    if isinstance(value, int):
        if not 0 <= value < 2**256:
            raise ValueError("uint256 out of range")
        return value.to_bytes(32, "big")
    if isinstance(value, str):
        return bytes.fromhex(addr.parse(value)[2:]).rjust(32, b"\0")
    if isinstance(value, (bytes, bytearray)) and len(value) <= 32:
        return bytes(value).ljust(32, b"\0")
    raise TypeError(f"cannot encode {type(value).__name__} as a static ABI word")


def call_data(signature: str, *args: Any) -> bytes:
    return selector(signature) + b"".join(word(a) for a in args)


def decode_uint(data: bytes) -> int:
    if len(data) < 32:
        raise ValueError("short return data")
    return int.from_bytes(data[:32], "big")


def decode_address(data: bytes) -> str:
    return addr.to_checksum(data[12:32].hex())


def decode_text(data: bytes) -> str:
    """A string return value; also bytes32 (old tokens like MKR return their symbol so)."""
    if len(data) == 32:
        return data.rstrip(b"\0").decode("utf-8", "replace")
    from eth_abi import decode

    text: str = decode(["string"], data)[0]
    return text


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    from eth_abi import decode as eth_decode

    return eth_decode(list(types), data)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    from eth_abi import encode as eth_encode

    return eth_encode(list(types), list(values))


def revert_reason(data: bytes | None) -> str:
    """Human text for revert data: Error(string), Panic(code), or the custom error selector."""
    if not data:
        return "reverted without a reason"
    if data[:4] == ERROR_STRING:
        try:
            return decode_text(data[4:]) if len(data) > 4 + 32 else "reverted"
        except Exception:  # noqa: BLE001  malformed revert payloads come from untrusted contracts
            return "reverted with a malformed reason"
    if data[:4] == PANIC and len(data) >= 36:
        code = int.from_bytes(data[4:36], "big")
        return f"panic: {PANIC_CODES.get(code, hex(code))}"
    return f"custom error 0x{data[:4].hex()}"
