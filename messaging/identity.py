"""Identity bundles: an address's messaging public keys, signed by the address's key.

The signature is EIP-191 (`personal_sign`) over a canonical, human-readable text, so a
person asked to sign it in any wallet sees what they vouch for:

    Hongbao messaging identity
    Address: 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    Encryption key (X25519): 6a04ab98...
    Signing key (Ed25519): 3b6a27bc...
    Issued at: 2026-11-22T00:00:00Z
    Version: 1

Anyone verifies a bundle by recovering the signer and comparing it with the address; the
relay does, and clients do again (they never trust the relay). Pure: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wallet import address as addr
from wallet import signing
from wallet.errors import WalletError

from . import jsonsafe
from .errors import BundleInvalid, StaleBundle
from .keycheck import require_ed25519, require_x25519
from .keys import MessagingKeys

FORMAT_VERSION = 1  # of the text below; bumping it changes what is signed
HEADER = "Hongbao messaging identity"
MAX_ISSUED_AT = 253402300800  # 10000-01-01: the text's four-digit year
MAX_BUNDLE_BYTES = 1024  # a real one is ~350
_TEXT = re.compile(
    r"^Hongbao messaging identity\n"
    r"Address: (?P<address>0x[0-9a-fA-F]{40})\n"
    r"Encryption key \(X25519\): (?P<x25519>[0-9a-f]{64})\n"
    r"Signing key \(Ed25519\): (?P<ed25519>[0-9a-f]{64})\n"
    r"Issued at: (?P<issued>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)\n"
    r"Version: (?P<version>[0-9]{1,9})\Z"
)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Bundle:
    address: str
    x25519: bytes
    ed25519: bytes
    issued_at: int  # unix seconds
    version: int  # the bundle's own sequence number: a higher one replaces a lower one
    signature: bytes = b""

    def text(self) -> str:
        """The exact text the address's key signs."""
        return (
            f"{HEADER}\n"
            f"Address: {self.address}\n"
            f"Encryption key (X25519): {self.x25519.hex()}\n"
            f"Signing key (Ed25519): {self.ed25519.hex()}\n"
            f"Issued at: {_iso(self.issued_at)}\n"
            f"Version: {self.version}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "x25519": self.x25519.hex(),
            "ed25519": self.ed25519.hex(),
            "issued_at": self.issued_at,
            "version": self.version,
            "signature": "0x" + self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: Any) -> Bundle:
        """Parse (not verify): BundleInvalid for anything malformed."""
        try:
            bundle = cls(
                addr.parse(data["address"]),
                bytes.fromhex(data["x25519"]),
                bytes.fromhex(data["ed25519"]),
                int(data["issued_at"]),
                int(data["version"]),
                bytes.fromhex(str(data["signature"]).removeprefix("0x")),
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, WalletError):
            raise BundleInvalid("malformed identity bundle") from None
        if len(bundle.x25519) != 32 or len(bundle.ed25519) != 32 or len(bundle.signature) != 65:
            raise BundleInvalid("malformed identity bundle (key or signature length)")
        if not 0 <= bundle.issued_at < MAX_ISSUED_AT or not 0 < bundle.version < 10**9:
            raise BundleInvalid("malformed identity bundle (issued_at or version out of range)")
        return bundle

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        if len(data) > MAX_BUNDLE_BYTES:
            raise BundleInvalid("malformed identity bundle (too large)")
        try:
            return cls.from_json(jsonsafe.loads(data, max_depth=2))
        except ValueError:
            raise BundleInvalid("malformed identity bundle (not usable JSON)") from None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self)


def make_bundle(account_key: bytes, issued_at: int, version: int = 1, keys: MessagingKeys | None = None) -> Bundle:
    """Sign a bundle for the account's (derived) messaging keys."""
    keys = keys or MessagingKeys.from_account_key(account_key)
    return sign_bundle(
        account_key,
        Bundle(addr.from_private_key(account_key), keys.x25519_public, keys.ed25519_public, issued_at, version),
    )


def sign_bundle(account_key: bytes, unsigned: Bundle) -> Bundle:
    """`unsigned` with the account's signature (whatever keys it names: tests forge with it)."""
    signature = signing.sign_message(account_key, unsigned.text().encode())
    return Bundle(unsigned.address, unsigned.x25519, unsigned.ed25519, unsigned.issued_at, unsigned.version, signature)


def verify_bundle(bundle: Bundle) -> Bundle:
    """Return the bundle if its signature recovers to its address and both its keys are
    usable (keycheck.py: no low-order or off-curve key, whoever signed it); BundleInvalid if not."""
    require_x25519(bundle.x25519, f"the encryption key in {bundle.address}'s identity bundle", BundleInvalid)
    require_ed25519(bundle.ed25519, f"the signing key in {bundle.address}'s identity bundle", BundleInvalid)
    try:
        signer = signing.recover_message(bundle.text().encode(), bundle.signature)
    except WalletError:
        raise BundleInvalid(f"the identity bundle for {bundle.address} has a malformed signature") from None
    if signer != bundle.address:
        raise BundleInvalid(f"the identity bundle for {bundle.address} is signed by {signer}, not by that address")
    return bundle


def parse_text(text: str) -> dict[str, Any]:
    """The fields of a bundle text (for showing what a wallet is asked to sign)."""
    match = _TEXT.match(text)
    if not match:
        raise BundleInvalid("not a Hongbao identity text")
    return match.groupdict()


def supersedes(new: Bundle, old: Bundle | None) -> bool:
    """Whether `new` may replace `old` (same address; a higher version, or the same one
    re-issued later). Raises StaleBundle for an older bundle offered over a newer one."""
    if old is None:
        return True
    if new.address != old.address:
        raise BundleInvalid(f"bundle for {new.address} cannot replace one for {old.address}")
    if (new.version, new.issued_at) < (old.version, old.issued_at):
        raise StaleBundle(
            f"an older identity bundle for {new.address} (version {new.version}) was offered over version {old.version}"
        )
    return (new.version, new.issued_at) > (old.version, old.issued_at) or same_keys(new, old) is False


def same_keys(a: Bundle, b: Bundle) -> bool:
    return a.address == b.address and a.x25519 == b.x25519 and a.ed25519 == b.ed25519


def fingerprint(bundle: Bundle) -> str:
    """30 digits in six groups of five, over the address and both keys (not the date or
    version, so re-issuing the same keys keeps it). Two people read it to each other to
    know that no one sits between them. About 100 bits: far beyond a forgery's reach."""
    digest = hashlib.sha256(
        b"hongbao-fingerprint-v1" + bytes.fromhex(bundle.address[2:]) + bundle.x25519 + bundle.ed25519
    ).digest()
    number = int.from_bytes(digest[:13], "big") % 10**30
    digits = f"{number:030d}"
    return " ".join(digits[i : i + 5] for i in range(0, 30, 5))
