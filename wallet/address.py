"""Ethereum addresses: from keys, and parsed from user input with EIP-55 checks."""

from __future__ import annotations

import re
from functools import lru_cache

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

from .errors import InvalidAddress, InvalidKey

_HEX_ADDRESS = re.compile(r"^(0x)?[0-9a-fA-F]{40}\Z")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@lru_cache(maxsize=8192)  # hot in message opening and sync; addresses repeat
def to_checksum(address_hex: str) -> str:
    """EIP-55 mixed-case form of a 40-hex-digit address (with or without 0x)."""
    lower = address_hex.lower().removeprefix("0x")
    digest = keccak(lower.encode("ascii")).hex()
    # not strict: the digest has 64 hex digits and only the first 40 set the case
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c for c, d in zip(lower, digest, strict=False)
    )


def from_public_key(public_key: bytes) -> str:
    """Address of a SEC1 public key (compressed or not)."""
    raw = PublicKey(public_key).format(compressed=False)[1:]
    return to_checksum(keccak(raw)[-20:].hex())


def check_private_key(private_key: bytes) -> bytes:
    if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < _SECP256K1_N:
        raise InvalidKey("not a valid secp256k1 private key (32 bytes, 0 < k < n)")
    return private_key


def from_private_key(private_key: bytes) -> str:
    check_private_key(private_key)
    raw = PrivateKey(private_key).public_key.format(compressed=False)[1:]
    return to_checksum(keccak(raw)[-20:].hex())


def parse(text: str) -> str:
    """A user-typed address -> its checksummed form.

    All-lower or all-upper hex carries no checksum and is accepted; mixed case must match
    EIP-55 exactly, since a mismatch means a typo (we never suggest the 'fixed' form).
    """
    text = text.strip()
    if not _HEX_ADDRESS.match(text):
        raise InvalidAddress(f"{text!r} is not an address: expected 0x followed by 40 hex digits")
    body = text.removeprefix("0x")
    checksummed = to_checksum(body)
    if body != body.lower() and body != body.upper() and checksummed[2:] != body:
        raise InvalidAddress(f"address {text} has a wrong EIP-55 checksum (a typo?); copy it again from its source")
    return checksummed


def is_checksummed(text: str) -> bool:
    return bool(_HEX_ADDRESS.match(text)) and to_checksum(text) == "0x" + text.removeprefix("0x")
