"""Signatures: EIP-191 personal messages, EIP-712 typed data, EIP-1559 and legacy txs.

Pure functions over bytes and dicts. EIP-191 goes straight through coincurve (fast, and
the CLI need not import eth-account for it); typed data and transactions use
eth-account, imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

from . import address as addr
from .errors import SigningError

_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def personal_message_hash(message: bytes) -> bytes:
    """EIP-191 version 0x45: keccak("\\x19Ethereum Signed Message:\\n" + len + message)."""
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def sign_hash(private_key: bytes, digest: bytes) -> bytes:
    """65-byte r || s || v signature (v = 27/28, low s) over a 32-byte digest."""
    raw = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def recover_hash(digest: bytes, signature: bytes) -> str:
    """The address that signed `digest`; SigningError if the signature is malformed."""
    if len(signature) != 65:
        raise SigningError(f"a signature is 65 bytes (130 hex digits); got {len(signature)} bytes")
    v = signature[64]
    recid = v - 27 if v >= 27 else v
    s = int.from_bytes(signature[32:64], "big")
    if recid not in (0, 1) or not 0 < s <= _N // 2:
        raise SigningError("malformed signature (bad v, or a high-s value that EIP-2 forbids)")
    try:
        public = PublicKey.from_signature_and_message(signature[:64] + bytes([recid]), digest, hasher=None)
    except Exception:  # noqa: BLE001  coincurve raises plain Exception for unrecoverable points
        raise SigningError("the signature does not recover to any public key") from None
    return addr.from_public_key(public.format(compressed=False))


def sign_message(private_key: bytes, message: bytes) -> bytes:
    return sign_hash(private_key, personal_message_hash(message))


def recover_message(message: bytes, signature: bytes) -> str:
    return recover_hash(personal_message_hash(message), signature)


def parse_signature(text: str) -> bytes:
    try:
        return bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        raise SigningError("the signature is not hex") from None


# -- EIP-712 ---------------------------------------------------------------------------


# The EIP712Domain of a contract's typed data (name, version, chainId, verifyingContract).
EIP712_DOMAIN_TYPES: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def typed_data_hash(typed: dict[str, Any]) -> bytes:
    """keccak(0x19 0x01 || domainSeparator || hashStruct(message))."""
    from eth_account.messages import encode_typed_data

    try:
        signable = encode_typed_data(full_message=typed)
    except Exception as error:  # noqa: BLE001  eth-abi/eth-utils raise many types; typed data is public input
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SigningError(f"not valid EIP-712 typed data: {first_line}") from None
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_typed_data(private_key: bytes, typed: dict[str, Any]) -> bytes:
    return sign_hash(private_key, typed_data_hash(typed))


def recover_typed_data(typed: dict[str, Any], signature: bytes) -> str:
    return recover_hash(typed_data_hash(typed), signature)


# -- transactions ----------------------------------------------------------------------

_INT_FIELDS = ("chainId", "nonce", "gas", "value", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "type")


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    raw: bytes
    hash: bytes
    sender: str


def normalize_transaction(tx: dict[str, Any]) -> dict[str, Any]:
    """Coerce a JSON-ish tx (hex or decimal strings) into eth-account's form.

    A chain id is required (EIP-155 replay protection); the type follows from the fee
    fields: maxFeePerGas -> EIP-1559 (type 2), gasPrice -> legacy.
    """
    out: dict[str, Any] = {}
    for key, value in tx.items():
        if key in _INT_FIELDS:
            out[key] = _to_int(key, value)
        elif key == "to":
            if value is not None and not isinstance(value, str):
                raise SigningError("to must be an address string (or null to create a contract)")
            out[key] = addr.parse(value) if value else None
        elif key == "data":
            out[key] = _to_bytes(key, value)
        elif key == "accessList":
            if not isinstance(value, list):
                raise SigningError("accessList must be a list of {address, storageKeys}")
            out[key] = value
        elif key != "from":
            raise SigningError(f"unknown transaction field {key!r}")
    missing = [k for k in ("chainId", "nonce", "gas") if k not in out]
    if missing:
        raise SigningError(f"transaction lacks {', '.join(missing)}")
    has_1559 = "maxFeePerGas" in out
    if has_1559 == ("gasPrice" in out):
        raise SigningError("give either maxFeePerGas + maxPriorityFeePerGas (EIP-1559) or gasPrice (legacy)")
    if has_1559:
        out.setdefault("type", 2)
        out.setdefault("maxPriorityFeePerGas", 0)
        if out["maxPriorityFeePerGas"] > out["maxFeePerGas"]:
            raise SigningError("maxPriorityFeePerGas exceeds maxFeePerGas")
    out.setdefault("value", 0)
    out.setdefault("data", b"")
    return out


def _to_bytes(key: str, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise SigningError(f"{key} must be a 0x hex string")
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise SigningError(f"{key} must be a 0x hex string of whole bytes") from None


def _to_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise SigningError(f"{key} must be an integer")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise SigningError(f"{key} must be an integer (decimal or 0x hex); got {value!r}") from None
    if number < 0:
        raise SigningError(f"{key} must not be negative")
    return number


def _access_list(entries: list[Any]) -> list[list[Any]]:
    out = []
    for entry in entries:
        address_bytes = bytes.fromhex(addr.parse(entry["address"])[2:])
        keys = [bytes.fromhex(str(k).removeprefix("0x")).rjust(32, b"\0") for k in entry.get("storageKeys", [])]
        out.append([address_bytes, keys])
    return out


def _fields(tx: dict[str, Any]) -> tuple[bytes, int, bytes]:
    return bytes.fromhex(tx["to"][2:]) if tx.get("to") else b"", tx["value"], bytes(tx["data"])


def _r_s(signature: bytes) -> tuple[int, int]:
    # As integers: RLP drops their leading zero bytes (nodes refuse non-canonical ones).
    return int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")


def sign_transaction(private_key: bytes, tx: dict[str, Any]) -> SignedTransaction:
    """Sign a normalised-or-raw transaction dict.

    Encoded here with RLP rather than through eth-account, whose dict validation costs
    ~0.4 ms a signature (profiled); the tests check byte equality with eth-account.
    """
    from . import rlp

    tx = normalize_transaction(tx)
    to, value, data = _fields(tx)
    if tx.get("type", 0) == 2:
        body = [
            tx["chainId"],
            tx["nonce"],
            tx["maxPriorityFeePerGas"],
            tx["maxFeePerGas"],
            tx["gas"],
            to,
            value,
            data,
            _access_list(tx.get("accessList", [])),
        ]
        signature = PrivateKey(private_key).sign_recoverable(keccak(b"\x02" + rlp.encode(body)), hasher=None)
        raw = b"\x02" + rlp.encode([*body, signature[64], *_r_s(signature)])
    elif tx.get("type", 0) == 0 and "accessList" not in tx:
        body = [tx["nonce"], tx["gasPrice"], tx["gas"], to, value, data]
        signature = PrivateKey(private_key).sign_recoverable(
            keccak(rlp.encode([*body, tx["chainId"], 0, 0])), hasher=None
        )
        v = signature[64] + 35 + 2 * tx["chainId"]  # EIP-155
        raw = rlp.encode([*body, v, *_r_s(signature)])
    else:
        raise SigningError(f"transaction type {tx.get('type')} is not supported; use 2 (EIP-1559) or legacy")
    return SignedTransaction(raw, keccak(raw), addr.from_private_key(private_key))
