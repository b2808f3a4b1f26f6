"""Messaging keys derived from an account private key. Pure.

Each key is BLAKE2b keyed by the account key over a fixed label (domain separation): the
same account always gives the same messaging keys, so the mnemonic alone recovers them,
imported keys get them too, and learning a messaging key reveals nothing about the
account key (or about the other messaging key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nacl.public import PrivateKey
    from nacl.signing import SigningKey

X25519_LABEL = b"hongbao/messaging/v1/x25519"
ED25519_LABEL = b"hongbao/messaging/v1/ed25519"
STORE_LABEL = b"hongbao/messaging/v1/local-store"


def derive(account_key: bytes, label: bytes) -> bytes:
    if len(account_key) != 32:
        raise ValueError("an account private key is 32 bytes")
    return hashlib.blake2b(label, key=account_key, digest_size=32).digest()


@dataclass(frozen=True)
class MessagingKeys:
    """The two messaging key pairs of one account. repr shows only public keys."""

    x25519_private: bytes
    ed25519_seed: bytes

    @classmethod
    def from_account_key(cls, account_key: bytes) -> MessagingKeys:
        return cls(derive(account_key, X25519_LABEL), derive(account_key, ED25519_LABEL))

    def __repr__(self) -> str:
        return f"MessagingKeys(x25519={self.x25519_public.hex()[:16]}..., ed25519={self.ed25519_public.hex()[:16]}...)"

    @cached_property
    def box_key(self) -> PrivateKey:
        from nacl.public import PrivateKey

        return PrivateKey(self.x25519_private)

    @cached_property
    def signing_key(self) -> SigningKey:
        from nacl.signing import SigningKey

        return SigningKey(self.ed25519_seed)

    @cached_property
    def ed25519_secret(self) -> bytes:
        """libsodium's 64-byte signing key (seed || public key)."""
        return bytes(self.signing_key._signing_key)

    @cached_property
    def x25519_public(self) -> bytes:
        return bytes(self.box_key.public_key)

    @cached_property
    def ed25519_public(self) -> bytes:
        return bytes(self.signing_key.verify_key)


def store_key(account_key: bytes) -> bytes:
    """The key that encrypts message bodies at rest in the local store."""
    return derive(account_key, STORE_LABEL)
