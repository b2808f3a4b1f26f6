"""Identity bundles: an address's messaging public keys, signed by the address's key.

The signature is EIP-712 typed data under the Hongbao domain (`typed_data()`):

    domain  {name: "Hongbao", version: "1"}
    MessagingIdentity {string statement; address account; bytes32 encryptionKey;
                       bytes32 signingKey; uint64 issuedAt; uint32 version}

Typed data, not a personal message: no text someone pastes into `personal_sign` (or
`hongbao wallet sign-message`) can ever be a bundle, and a wallet shows a typed request
with its domain, so nobody signs one thinking it is something else. `hongbao wallet
sign-message` and `sign-typed-data` refuse the product's own statements outright
(`is_statement`, `is_hongbao_domain`). Bundles signed in the old EIP-191 text form are
refused with a message saying so (their owners' clients republish on next use).

A bundle's version only steps up by at most `MAX_VERSION_STEP` over the one it replaces
(`supersedes`): a bundle someone was tricked into signing at version 999999999 could
otherwise lock its owner out for good (clients publish version + 1, and versions end at
10^9). 1000 leaves room for every honest re-issue (each is + 1) and makes exhausting
the range take a million successful phishings.

Anyone verifies a bundle by recovering the signer and comparing it with the address; the
relay does, and clients do again (they never trust the relay). Pure: bytes in, bytes out.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_hash.auto import keccak

from wallet import address as addr
from wallet import signing
from wallet.errors import WalletError

from . import jsonsafe
from .errors import BundleInvalid, StaleBundle
from .keycheck import require_ed25519, require_x25519
from .keys import MessagingKeys

FORMAT_VERSION = 2  # 1: EIP-191 text (refused now); 2: EIP-712 typed data
HEADER = "Hongbao messaging identity"
MAX_VERSION_STEP = 1000  # how far a bundle's version may jump over the one it replaces
MAX_VERSION = 10**9  # versions are below this (uint32 in the typed data; 9 digits in the old text)
DOMAIN: dict[str, Any] = {"name": "Hongbao", "version": "1"}
STATEMENT = "Hongbao messaging identity: these keys read and sign this address's chat messages"
PRIMARY_TYPE = "MessagingIdentity"
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    PRIMARY_TYPE: [
        {"name": "statement", "type": "string"},
        {"name": "account", "type": "address"},
        {"name": "encryptionKey", "type": "bytes32"},
        {"name": "signingKey", "type": "bytes32"},
        {"name": "issuedAt", "type": "uint64"},
        {"name": "version", "type": "uint32"},
    ],
}


def _type_hash(name: str) -> bytes:
    fields = ",".join(f"{f['type']} {f['name']}" for f in TYPES[name])
    return keccak(f"{name}({fields})".encode())


_DOMAIN_SEPARATOR = keccak(
    _type_hash("EIP712Domain") + keccak(DOMAIN["name"].encode()) + keccak(DOMAIN["version"].encode())
)
_IDENTITY_TYPE_HASH = _type_hash(PRIMARY_TYPE)
_STATEMENT_HASH = keccak(STATEMENT.encode())
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

    def typed_data(self) -> dict[str, Any]:
        """The EIP-712 typed data the address's key signs (what a wallet shows)."""
        return {
            "types": TYPES,
            "primaryType": PRIMARY_TYPE,
            "domain": DOMAIN,
            "message": {
                "statement": STATEMENT,
                "account": self.address,
                "encryptionKey": "0x" + self.x25519.hex(),
                "signingKey": "0x" + self.ed25519.hex(),
                "issuedAt": self.issued_at,
                "version": self.version,
            },
        }

    def digest(self) -> bytes:
        """The EIP-712 digest of `typed_data()`, computed here (every field is of a fixed
        size: no library needed on the hot path; tests compare it with eth-account's)."""
        struct = keccak(
            _IDENTITY_TYPE_HASH
            + _STATEMENT_HASH
            + bytes(12)
            + bytes.fromhex(self.address[2:])
            + self.x25519
            + self.ed25519
            + self.issued_at.to_bytes(32, "big")
            + self.version.to_bytes(32, "big")
        )
        return keccak(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)

    def text(self) -> str:
        """The EIP-191 text bundles were signed over before (FORMAT_VERSION 1): only to
        recognise, and refuse, that form."""
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
        if not 0 <= bundle.issued_at < MAX_ISSUED_AT or not 0 < bundle.version < MAX_VERSION:
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
    signature = signing.sign_hash(account_key, unsigned.digest())
    return Bundle(unsigned.address, unsigned.x25519, unsigned.ed25519, unsigned.issued_at, unsigned.version, signature)


def verify_bundle(bundle: Bundle) -> Bundle:
    """Return the bundle if its signature recovers to its address and both its keys are
    usable (keycheck.py: no low-order or off-curve key, whoever signed it); BundleInvalid if not."""
    require_x25519(bundle.x25519, f"the encryption key in {bundle.address}'s identity bundle", BundleInvalid)
    require_ed25519(bundle.ed25519, f"the signing key in {bundle.address}'s identity bundle", BundleInvalid)
    try:
        signer = signing.recover_hash(bundle.digest(), bundle.signature)
    except WalletError:
        raise BundleInvalid(f"the identity bundle for {bundle.address} has a malformed signature") from None
    if signer != bundle.address:
        if _old_form(bundle):
            raise BundleInvalid(
                f"the identity bundle for {bundle.address} is signed in the old text form (EIP-191), which is no longer accepted: its owner's Hongbao republishes it in the EIP-712 form when next used"
            )
        raise BundleInvalid(f"the identity bundle for {bundle.address} is signed by {signer}, not by that address")
    return bundle


def _old_form(bundle: Bundle) -> bool:
    try:
        return signing.recover_message(bundle.text().encode(), bundle.signature) == bundle.address
    except WalletError:
        return False


def is_statement(message: bytes) -> bool:
    """Whether a personal message mentions what Hongbao treats as a signed statement (an
    identity bundle, in either form): `wallet sign-message` refuses to sign it."""
    text = unicodedata.normalize("NFKC", message.decode("utf-8", "ignore")).casefold()
    return HEADER.casefold() in " ".join(text.split())


def is_hongbao_domain(typed: Any) -> bool:
    """Whether EIP-712 typed data is under a Hongbao domain (or names the identity type):
    only Hongbao itself signs those."""
    if not isinstance(typed, dict):
        return False
    domain = typed.get("domain")
    name = domain.get("name") if isinstance(domain, dict) else None
    folded = unicodedata.normalize("NFKC", name).casefold().strip() if isinstance(name, str) else ""
    types = typed.get("types")
    return (
        "hongbao" in folded
        or typed.get("primaryType") == PRIMARY_TYPE
        or (isinstance(types, dict) and PRIMARY_TYPE in types)
    )


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
        if new.version > MAX_VERSION_STEP:
            raise BundleInvalid(
                f"a first identity bundle has a version of at most {MAX_VERSION_STEP}, not {new.version}"
            )
        return True
    if new.address != old.address:
        raise BundleInvalid(f"bundle for {new.address} cannot replace one for {old.address}")
    if new.version > old.version + MAX_VERSION_STEP:
        raise BundleInvalid(
            f"an identity bundle's version steps up by at most {MAX_VERSION_STEP} (version {new.version} offered over {old.version}): refused"
        )
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
