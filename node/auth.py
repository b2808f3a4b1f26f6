"""Mailbox authentication: a challenge signed with the mailbox's Ed25519 messaging key,
exchanged for a short-lived bearer token that can only ever serve that mailbox.

Challenge text (what the client signs):
    b"hongbao-relay-auth-v1\\0" + mailbox address (20 bytes) + nonce (32 bytes)

Token: base64url without padding of payload || HMAC-SHA256(secret, payload), where
payload = mailbox (20 bytes) || Ed25519 public key (32) || expires_at unix ms (8, big
endian). The secret lives in the database (relay_secrets), so every relay process on it
accepts every other's tokens. A token is valid while its HMAC matches (compared in
constant time), it has not expired, and its key is still the key of the mailbox's current
bundle: publishing a bundle with a new messaging key revokes every older token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from wallet.address import to_checksum

from .errors import Unauthorized
from .store import RelayStore

CHALLENGE_DOMAIN = b"hongbao-relay-auth-v1\0"
SECRET_NAME = "token-hmac-v1"  # noqa: S105  the name the secret is stored under, not the secret
_PAYLOAD = 20 + 32 + 8
_TOKEN_BYTES = _PAYLOAD + 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{123}=?$")  # 92 bytes, with or without padding
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HEX128 = re.compile(r"^[0-9a-fA-F]{128}$")


def challenge_message(mailbox: str, nonce_hex: str) -> bytes:
    return CHALLENGE_DOMAIN + bytes.fromhex(mailbox[2:]) + bytes.fromhex(nonce_hex)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    mailbox: str  # checksummed
    ed25519: bytes
    expires_at: int  # unix ms


class Tokens:
    def __init__(self, store: RelayStore, ttl_s: int) -> None:
        self.store = store
        self.ttl_ms = ttl_s * 1000
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self.store.secret(SECRET_NAME)
        return self._secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()

    def issue(self, mailbox: str, ed25519: bytes, now: int) -> tuple[str, int]:
        expires_at = now + self.ttl_ms
        payload = bytes.fromhex(mailbox[2:]) + ed25519 + expires_at.to_bytes(8, "big")
        token = base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode()
        return token, expires_at

    def exchange(self, mailbox: str, nonce: str, signature_hex: str, now: int) -> tuple[str, int]:
        """A token for a correctly signed, unused, unexpired challenge of this mailbox."""
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError, CryptoError

        if not _HEX64.match(nonce) or not _HEX128.match(signature_hex):
            raise Unauthorized("malformed nonce or signature")
        key = self.store.identity_key(mailbox)
        if key is None:
            raise Unauthorized(f"no identity is published for {mailbox}")
        try:
            crypto_sign_open(bytes.fromhex(signature_hex) + challenge_message(mailbox, nonce), key)
        except (BadSignatureError, CryptoError, ValueError):
            raise Unauthorized("the signature does not match the mailbox's messaging key") from None
        if not self.store.use_challenge(nonce, mailbox, now):
            raise Unauthorized("unknown, expired or already used challenge; ask for a new one")
        return self.issue(mailbox, key, now)

    def verify(self, token: str | None, now: int) -> TokenClaims:
        """The claims of a valid token; Unauthorized (401) for anything else."""
        if not token:
            raise Unauthorized("a bearer token is required (POST /v1/auth/challenge, then /v1/auth/token)")
        if not _TOKEN.match(token):
            raise Unauthorized("malformed token")
        token = token.rstrip("=")
        try:
            raw = base64.urlsafe_b64decode(token + "=")
        except (binascii.Error, ValueError):
            raise Unauthorized("malformed token") from None
        if len(raw) != _TOKEN_BYTES or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
            raise Unauthorized("malformed token")  # one spelling per token
        payload, mac = raw[:_PAYLOAD], raw[_PAYLOAD:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthorized("invalid token")
        mailbox = "0x" + payload[:20].hex()
        ed25519 = payload[20:52]
        expires_at = int.from_bytes(payload[52:], "big")
        if expires_at <= now:
            raise Unauthorized("token expired; authenticate again")
        mailbox = to_checksum(mailbox)
        current = self.store.identity_key(mailbox)
        if current is None or not hmac.compare_digest(current, ed25519):
            raise Unauthorized("token revoked: the mailbox published a new messaging key; authenticate again")
        return TokenClaims(mailbox, ed25519, expires_at)
