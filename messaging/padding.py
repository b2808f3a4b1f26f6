"""Length hiding: every ciphertext is a power of two from 256 B to 64 KiB.

The sealed box adds 48 bytes (ephemeral key + MAC), so plaintexts are padded to
`bucket - 48`: the relay sees only 256, 512, 1024, ... 65536-byte ciphertexts. Padding is
ISO/IEC 7816-4 (0x80 then zeros), unambiguous for any plaintext. Pure.
"""

from __future__ import annotations

from .errors import Oversize, Tampered

MIN_BUCKET = 256
MAX_BUCKET = 64 * 1024
SEAL_OVERHEAD = 48  # crypto_box_SEALBYTES


def bucket_for(length: int) -> int:
    """The ciphertext size for a plaintext of `length` bytes (before padding)."""
    needed = length + 1 + SEAL_OVERHEAD  # + the 0x80 marker
    if needed > MAX_BUCKET:
        raise Oversize(
            f"message too large: {length} bytes; the most an envelope holds is {MAX_BUCKET - SEAL_OVERHEAD - 1}"
        )
    bucket = MIN_BUCKET
    while bucket < needed:
        bucket *= 2
    return bucket


def pad(plaintext: bytes) -> bytes:
    target = bucket_for(len(plaintext)) - SEAL_OVERHEAD
    return plaintext + b"\x80" + b"\0" * (target - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    end = len(padded.rstrip(b"\0"))
    if end == 0 or padded[end - 1] != 0x80:
        raise Tampered("bad padding")
    return padded[: end - 1]
