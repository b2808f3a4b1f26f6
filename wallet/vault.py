"""The sealed wallet file format. Pure: documents and bytes in, documents and bytes out.

A vault document is JSON:

    {"format": "hongbao-vault", "version": 1,
     "accounts": [{"index", "kind", "path", "address", "label"}, ...],   # public
     "crypto": {"kdf": "argon2id", "opslimit", "memlimit", "salt",
                "check", "cipher": "xsalsa20-poly1305", "nonce", "ciphertext"},
     "checksum": sha256 of the canonical JSON of everything above}

The password is stretched (Argon2id, or scrypt for files that ask for it) into 64
bytes: the first 32 key the XSalsa20-Poly1305 box, the last 32 give `check`, so a wrong
password and a damaged file are told apart without weakening the KDF (each guess still
costs one Argon2id run). `checksum` catches accidental damage before any KDF work.
The sealed body holds the secrets and a digest of the account list, so an edited list
(a swapped receive address, say) is caught at the next unlock. Labels are not bound:
renaming an account needs no password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from .errors import VaultCorrupt, WrongPassword

FORMAT = "hongbao-vault"
VERSION = 1
CIPHER = "xsalsa20-poly1305"

# (opslimit, memlimit) per preset, libsodium's own figures.
ARGON2ID_PRESETS = {
    "interactive": (2, 64 * 1024**2),
    "moderate": (3, 256 * 1024**2),
    "sensitive": (4, 1024 * 1024**2),
}
DEFAULT_PRESET = "moderate"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Kdf:
    name: str
    opslimit: int
    memlimit: int
    salt: bytes

    @classmethod
    def new(cls, preset: str = DEFAULT_PRESET) -> Kdf:
        import nacl.pwhash
        import nacl.utils

        try:
            ops, mem = ARGON2ID_PRESETS[preset]
        except KeyError:
            raise ValueError(f"unknown KDF preset {preset!r}; choose one of: {', '.join(ARGON2ID_PRESETS)}") from None
        return cls("argon2id", ops, mem, nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES))

    def stretch(self, password: str) -> tuple[bytes, bytes]:
        """(box key, password check) from the password."""
        import nacl.pwhash

        kdf = {"argon2id": nacl.pwhash.argon2id.kdf, "scrypt": nacl.pwhash.scrypt.kdf}[self.name]
        out = kdf(64, password.encode("utf-8"), self.salt, opslimit=self.opslimit, memlimit=self.memlimit)
        return out[:32], hashlib.blake2b(out[32:], digest_size=32, person=b"hongbao-check").digest()


@dataclass(frozen=True, slots=True)
class Sealed:
    """The `crypto` section of a vault document."""

    kdf: Kdf
    check: bytes
    nonce: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "kdf": self.kdf.name,
            "opslimit": self.kdf.opslimit,
            "memlimit": self.kdf.memlimit,
            "salt": _b64(self.kdf.salt),
            "check": _b64(self.check),
            "cipher": CIPHER,
            "nonce": _b64(self.nonce),
            "ciphertext": _b64(self.ciphertext),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sealed:
        if data.get("cipher") != CIPHER or data.get("kdf") not in ("argon2id", "scrypt"):
            raise ValueError("unsupported cipher or KDF")
        kdf = Kdf(data["kdf"], int(data["opslimit"]), int(data["memlimit"]), _unb64(data["salt"]))
        return cls(kdf, _unb64(data["check"]), _unb64(data["nonce"]), _unb64(data["ciphertext"]))


def seal_with_key(kdf: Kdf, key: bytes, check: bytes, plaintext: bytes) -> Sealed:
    """Seal under an already-stretched key (re-saving an unlocked wallet: no KDF rerun)."""
    import nacl.secret
    import nacl.utils

    box = nacl.secret.SecretBox(key)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    return Sealed(kdf, check, nonce, box.encrypt(plaintext, nonce).ciphertext)


def seal(plaintext: bytes, password: str, kdf: Kdf) -> tuple[Sealed, bytes]:
    """Seal `plaintext`; also return the box key so the caller can re-seal cheaply."""
    key, check = kdf.stretch(password)
    return seal_with_key(kdf, key, check, plaintext), key


def unseal(sealed: Sealed, password: str, source: str) -> tuple[bytes, bytes]:
    """(plaintext, box key). WrongPassword or VaultCorrupt(naming `source`)."""
    import nacl.exceptions
    import nacl.secret

    key, check = sealed.kdf.stretch(password)
    if not hmac.compare_digest(check, sealed.check):
        raise WrongPassword(f"wrong password for {source}")
    try:
        return nacl.secret.SecretBox(key).decrypt(sealed.ciphertext, sealed.nonce), key
    except nacl.exceptions.CryptoError:
        raise VaultCorrupt(
            f"{source} is damaged or was tampered with (authentication failed); restore it from a backup"
        ) from None


def accounts_digest(accounts: list[dict[str, Any]]) -> str:
    """Digest of the security-relevant part of the account list (labels excluded)."""
    bound = [[a["index"], a["kind"], a.get("path"), a["address"]] for a in accounts]
    return hashlib.sha256(canonical(bound)).hexdigest()


def dump(accounts: list[dict[str, Any]], sealed: Sealed) -> bytes:
    body = {"format": FORMAT, "version": VERSION, "accounts": accounts, "crypto": sealed.to_json()}
    body["checksum"] = hashlib.sha256(canonical(body)).hexdigest()
    return json.dumps(body, indent=2, ensure_ascii=False).encode() + b"\n"


def load(data: bytes, source: str) -> tuple[list[dict[str, Any]], Sealed]:
    """Parse a vault document; VaultCorrupt naming `source` for any damage."""
    damaged = f"{source} is damaged ({{}}); restore it from a backup"
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VaultCorrupt(damaged.format("not valid JSON: truncated or overwritten?")) from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise VaultCorrupt(f"{source} is not a Hongbao wallet file")
    if body.get("version") != VERSION:
        raise VaultCorrupt(
            f"{source} is vault version {body.get('version')!r}; this Hongbao reads version {VERSION}: upgrade Hongbao"
        )
    stated = body.pop("checksum", None)
    if not isinstance(stated, str) or not hmac.compare_digest(stated, hashlib.sha256(canonical(body)).hexdigest()):
        raise VaultCorrupt(damaged.format("checksum mismatch"))
    try:
        accounts = body["accounts"]
        for account in accounts:
            account["index"], account["kind"], account["address"]
        return accounts, Sealed.from_json(body["crypto"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise VaultCorrupt(damaged.format("missing or malformed fields")) from None
