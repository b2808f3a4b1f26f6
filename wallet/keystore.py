"""Web3 Secret Storage v3 keystores (geth, Foundry's `cast`, MetaMask, MyEtherWallet).

Reads both KDFs the definition allows (scrypt with any r/p, including the legacy r=1,
p=8 that older Python tools wrote, and pbkdf2-hmac-sha256); writes scrypt n=2^18, r=8,
p=1 by default, which all of those tools open.
"""

from __future__ import annotations

import json
from typing import Any

from . import address as addr
from .errors import KeystoreError, WrongPassword

DEFAULT_SCRYPT_N = 262144
MIN_SCRYPT_N = 2**12  # below this a keystore is trivial to brute-force


def encrypt(private_key: bytes, password: str, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> dict[str, Any]:
    from eth_keyfile import create_keyfile_json

    addr.check_private_key(private_key)
    if scrypt_n < MIN_SCRYPT_N or scrypt_n & (scrypt_n - 1):
        raise KeystoreError(f"scrypt n must be a power of two >= {MIN_SCRYPT_N}; got {scrypt_n}")
    document = create_keyfile_json(private_key, password.encode("utf-8"), kdf="scrypt", iterations=scrypt_n)
    document["address"] = addr.from_private_key(private_key)[2:].lower()
    return document


def parse(data: bytes | str, source: str = "keystore") -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeystoreError(f"{source} is not JSON: is it a keystore file?") from None
    if not isinstance(document, dict):
        raise KeystoreError(f"{source} is not a keystore (expected a JSON object)")
    crypto = document.get("crypto") or document.get("Crypto")
    if document.get("version") != 3 or not isinstance(crypto, dict):
        raise KeystoreError(f"{source} is not a version 3 keystore")
    if crypto.get("kdf") not in ("scrypt", "pbkdf2") or crypto.get("cipher") != "aes-128-ctr":
        raise KeystoreError(
            f"{source} uses kdf {crypto.get('kdf')!r} / cipher {crypto.get('cipher')!r}; supported: scrypt or pbkdf2 with aes-128-ctr"
        )
    return document


def decrypt(document: dict[str, Any], password: str, source: str = "keystore") -> bytes:
    """The private key; WrongPassword on a MAC mismatch, KeystoreError if malformed."""
    from eth_keyfile import decode_keyfile_json

    try:
        key = decode_keyfile_json(document, password.encode("utf-8"))
    except ValueError as error:
        if "MAC mismatch" in str(error):
            raise WrongPassword(f"wrong password for {source}") from None
        raise KeystoreError(f"{source} is malformed: {error}") from None
    except (KeyError, TypeError):
        raise KeystoreError(f"{source} is malformed (missing fields)") from None
    key = addr.check_private_key(bytes(key))
    stated = document.get("address")
    if stated and addr.from_private_key(key)[2:].lower() != str(stated).lower().removeprefix("0x"):
        raise KeystoreError(f"{source} says address 0x{stated} but its key belongs to another address")
    return key
