"""BIP32 hierarchical deterministic keys on secp256k1, and the account path schemes.

Pure: bytes in, bytes out. Point arithmetic goes through coincurve (libsecp256k1).
`Deriver` caches intermediate nodes so that deriving many accounts from one seed costs
one child step each, not a walk from the root (and never another PBKDF2).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from coincurve import PrivateKey

from . import base58
from .errors import InvalidPath

HARDENED = 0x8000_0000
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
XPRV_VERSION = bytes.fromhex("0488ADE4")
XPUB_VERSION = bytes.fromhex("0488B21E")

# Account path schemes: index i -> path.
SCHEMES = {
    "bip44": "m/44'/60'/0'/0/{i}",  # MetaMask, Foundry, Trezor, Rabby
    "ledger-live": "m/44'/60'/{i}'/0/0",  # Ledger Live
    "ledger-legacy": "m/44'/60'/0'/{i}",  # Ledger's old MEW/MyCrypto layout
}
DEFAULT_SCHEME = "bip44"

_SEGMENT = re.compile(r"^([0-9]+)(['hH]?)\Z")


@dataclass(frozen=True, slots=True)
class Node:
    """A private extended key."""

    private_key: bytes
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\0\0\0\0"
    child_number: int = 0

    def __repr__(self) -> str:  # never show key material
        return f"Node(depth={self.depth}, child_number={self.child_number})"

    @property
    def public_key(self) -> bytes:
        """Compressed SEC1 public key (33 bytes)."""
        return PrivateKey(self.private_key).public_key.format(compressed=True)

    @property
    def fingerprint(self) -> bytes:
        sha = hashlib.sha256(self.public_key).digest()
        return hashlib.new("ripemd160", sha).digest()[:4]

    def _header(self, version: bytes) -> bytes:
        return (
            version
            + bytes([self.depth])
            + self.parent_fingerprint
            + self.child_number.to_bytes(4, "big")
            + self.chain_code
        )

    def xprv(self) -> str:
        return base58.encode_check(self._header(XPRV_VERSION) + b"\0" + self.private_key)

    def xpub(self) -> str:
        return base58.encode_check(self._header(XPUB_VERSION) + self.public_key)


def master(seed: bytes) -> Node:
    if not 16 <= len(seed) <= 64:
        raise ValueError("a BIP32 seed is 16 to 64 bytes")
    digest = hmac.digest(b"Bitcoin seed", seed, "sha512")
    key = digest[:32]
    if not 0 < int.from_bytes(key, "big") < CURVE_ORDER:
        raise ValueError("seed gives an invalid master key; use another seed")
    return Node(key, digest[32:])


def child(parent: Node, index: int) -> Node:
    """CKDpriv: the child at `index` (>= HARDENED for a hardened child)."""
    if not 0 <= index < 2**32:
        raise InvalidPath(f"child index {index} is out of range")
    if index >= HARDENED:
        data = b"\0" + parent.private_key + index.to_bytes(4, "big")
    else:
        data = parent.public_key + index.to_bytes(4, "big")
    digest = hmac.digest(parent.chain_code, data, "sha512")
    tweak = int.from_bytes(digest[:32], "big")
    key = (tweak + int.from_bytes(parent.private_key, "big")) % CURVE_ORDER
    if tweak >= CURVE_ORDER or key == 0:  # probability ~2^-127; BIP32 says skip it
        raise InvalidPath(f"child index {index} gives an invalid key; use the next index")
    return Node(
        key.to_bytes(32, "big"),
        digest[32:],
        parent.depth + 1,
        parent.fingerprint,
        index,
    )


def parse_path(path: str) -> tuple[int, ...]:
    """`m/44'/60'/0'/0/3` -> indices; accepts ' h H as the hardened mark."""
    parts = path.strip().split("/")
    if not parts or parts[0] not in ("m", "M"):
        raise InvalidPath(f"derivation path {path!r} must start with m/ (e.g. m/44'/60'/0'/0/0)")
    indices = []
    for part in parts[1:]:
        match = _SEGMENT.match(part)
        if not match or int(match.group(1)) >= HARDENED:
            raise InvalidPath(f"derivation path {path!r} has a bad segment {part!r}")
        indices.append(int(match.group(1)) + (HARDENED if match.group(2) else 0))
    if len(indices) > 255:
        raise InvalidPath("derivation path is deeper than 255 levels")
    return tuple(indices)


def format_path(indices: tuple[int, ...]) -> str:
    return "/".join(["m"] + [f"{i - HARDENED}'" if i >= HARDENED else str(i) for i in indices])


def scheme_path(scheme: str, index: int) -> str:
    try:
        template = SCHEMES[scheme]
    except KeyError:
        raise InvalidPath(f"unknown path scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}") from None
    if not 0 <= index < HARDENED:
        raise InvalidPath(f"account index {index} is out of range")
    return template.format(i=index)


def scheme_of(path: str) -> str | None:
    """The scheme whose template produced `path`, if any."""
    for name, template in SCHEMES.items():
        pattern = re.escape(template).replace(re.escape("{i}"), r"\d+")
        if re.fullmatch(pattern, path):
            return name
    return None


class Deriver:
    """Derives keys from one seed, caching every node it passes through."""

    def __init__(self, seed: bytes) -> None:
        self._cache: dict[tuple[int, ...], Node] = {(): master(seed)}

    def __repr__(self) -> str:
        return f"Deriver(cached={len(self._cache)})"

    def node(self, path: str | tuple[int, ...]) -> Node:
        indices = parse_path(path) if isinstance(path, str) else path
        depth = len(indices)
        while indices[:depth] not in self._cache:
            depth -= 1
        node = self._cache[indices[:depth]]
        for d in range(depth, len(indices)):
            node = child(node, indices[d])
            if d < len(indices) - 1:  # leaves are not reused; keep the cache small
                self._cache[indices[: d + 1]] = node
        return node

    def private_key(self, path: str | tuple[int, ...]) -> bytes:
        return self.node(path).private_key
