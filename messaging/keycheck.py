"""Public keys from someone else, checked before anything uses them. Pure.

A stranger can sign a bundle (or prekeys) naming any 32 bytes as a key. Low-order
X25519 points (all zeros, and the few others of order 1, 2, 4 or 8, in any encoding)
make every Diffie-Hellman with them all zeros: libsodium refuses to seal to them, and a
sealed box to one would be readable by anyone. An Ed25519 key that is no point of the
main subgroup, or a small-order one, verifies forged signatures. Both are refused where
a key enters (`verify_bundle`, prekey parsing), so no later step meets one.
"""

from __future__ import annotations

import functools

from .errors import MessagingError

# libsodium's own list (has_small_order): the X25519 points of order 1, 2, 4 and 8 and the
# non-canonical encodings of 0 and 1 (p - 1, p, p + 1), compared with the top bit cleared.
_LOW_ORDER_X25519 = frozenset(
    bytes.fromhex(point)
    for point in (
        "00" * 32,
        "01" + "00" * 31,
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


def x25519_usable(public: bytes) -> bool:
    """Whether `public` is a 32-byte X25519 key of large order (a DH with it is not all zeros)."""
    if not isinstance(public, bytes) or len(public) != 32:
        return False
    return public[:31] + bytes([public[31] & 0x7F]) not in _LOW_ORDER_X25519


@functools.lru_cache(maxsize=4096)  # a subgroup check costs a scalar multiplication; peers repeat
def ed25519_usable(public: bytes) -> bool:
    """Whether `public` is a canonical Ed25519 point of the main subgroup, not of small order."""
    from nacl.bindings import crypto_core_ed25519_is_valid_point
    from nacl.exceptions import CryptoError

    if not isinstance(public, bytes) or len(public) != 32:
        return False
    try:
        return bool(crypto_core_ed25519_is_valid_point(public))
    except (CryptoError, ValueError, TypeError):
        return False


def require_x25519(public: bytes, what: str, error: type[MessagingError] = MessagingError) -> bytes:
    if not x25519_usable(public):
        raise error(f"{what} is not a usable X25519 key (low order or malformed)")
    return public


def require_ed25519(public: bytes, what: str, error: type[MessagingError] = MessagingError) -> bytes:
    if not ed25519_usable(public):
        raise error(f"{what} is not a usable Ed25519 key (not a valid point of large order)")
    return public
