"""Public keys from someone else, checked before anything uses them. Pure.

A stranger can sign a bundle (or prekeys) naming any 32 bytes as a key. Low-order
X25519 points (all zeros, and the few others of order 1, 2, 4 or 8, in any encoding)
make every Diffie-Hellman with them all zeros: libsodium refuses to seal to them, and a
sealed box to one would be readable by anyone. An Ed25519 key that is no point of the
main subgroup, or a small-order one, verifies forged signatures. Both are refused where
a key enters (`verify_bundle`, prekey parsing), so no later step meets one.
"""

from __future__ import annotations

from .errors import MessagingError

_PROBE = bytes(range(1, 33))  # any scalar: libsodium clamps it to a multiple of 8


def x25519_usable(public: bytes) -> bool:
    """Whether `public` is a 32-byte X25519 key of large order (a DH with it is not all zeros)."""
    from nacl.bindings import crypto_scalarmult
    from nacl.exceptions import CryptoError

    if len(public) != 32:
        return False
    try:
        crypto_scalarmult(_PROBE, public)  # raises when the result is all zeros: a low-order point
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def ed25519_usable(public: bytes) -> bool:
    """Whether `public` is a canonical Ed25519 point of the main subgroup, not of small order."""
    from nacl.bindings import crypto_core_ed25519_is_valid_point
    from nacl.exceptions import CryptoError

    if len(public) != 32:
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
