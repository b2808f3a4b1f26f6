"""Recursive Length Prefix encoding (the Ethereum yellow paper, appendix B). Encode only.

Ours rather than pyrlp's because importing pyrlp pulls in eth-utils (~80 ms, measured),
which every `hongbao send` would pay for ~20 lines of code. The tests check byte equality
with pyrlp on random nested structures.
"""

from __future__ import annotations

from typing import TypeAlias

Item: TypeAlias = bytes | int | list["Item"]


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def encode(item: Item) -> bytes:
    """bytes as strings, non-negative ints as minimal big-endian strings, lists as lists."""
    if isinstance(item, bool):
        raise TypeError("RLP has no booleans; pass 0 or 1")
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP encodes non-negative integers only")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")  # 0 -> b"" (canonical)
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, (list, tuple)):
        body = b"".join(encode(x) for x in item)
        return _length_prefix(len(body), 0xC0) + body
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")
