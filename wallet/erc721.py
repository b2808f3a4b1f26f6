"""ERC-721 over ``wallet.rpc.Rpc``: reads a collection answers, transfer calldata and Transfer logs.

Whatever a collection says is a claim by its contract: ``ownerOf`` and ``tokenURI`` are code
someone else wrote. Callers check what matters after the fact (the owner after a transfer)
and render every string through ``cli/inert.py``. ERC-721 and ERC-20 share the Transfer
event's signature; an ERC-721 log indexes the token id (4 topics, no data), an ERC-20 log
carries the amount as data (3 topics), which is how the two are told apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import abi
from . import address as addr
from .erc20 import DecodedCall
from .errors import WalletError
from .moves import TRANSFER_TOPIC, topic_address
from .rpc import Rpc, RpcError

__all__ = [
    "ERC721_INTERFACE",
    "TRANSFER_TOPIC",
    "NftError",
    "NftLog",
    "Reads",
    "approve_data",
    "decode_owner",
    "decode_safe_transfer",
    "decode_text",
    "get_approved",
    "is_approved_for_all",
    "is_transfer",
    "owner_of",
    "read",
    "safe_transfer_data",
    "set_approval_for_all_data",
    "supports_erc721",
    "transfer_log",
]

ERC721_INTERFACE = bytes.fromhex("80ac58cd")
SAFE_TRANSFER = "safeTransferFrom(address,address,uint256)"
SAFE_TRANSFER_SELECTOR = abi.selector(SAFE_TRANSFER)
TEXT_CAP = 2_000  # characters of a name or tokenURI kept: a contract can return megabytes


class NftError(WalletError):
    pass


@dataclass(frozen=True, slots=True)
class NftLog:
    """One ERC-721 Transfer log: token ``token_id`` of ``contract`` moved ``from_`` -> ``to``."""

    contract: str
    from_: str
    to: str
    token_id: int


def is_transfer(log: Mapping[str, Any]) -> bool:
    """An ERC-721 Transfer: 4 topics (the id indexed) and no data. ERC-20's has 3 and data."""
    topics = log.get("topics") or []
    data = log.get("data") or "0x"
    return len(topics) == 4 and str(topics[0]).lower() == TRANSFER_TOPIC and data in ("0x", "0x0")


def transfer_log(log: Mapping[str, Any]) -> NftLog:
    topics = log["topics"]
    return NftLog(
        addr.to_checksum(log["address"]), topic_address(topics[1]), topic_address(topics[2]), int(topics[3], 16)
    )


def safe_transfer_data(sender: str, to: str, token_id: int) -> bytes:
    """``safeTransferFrom(from, to, id)``: a contract recipient must accept the token (onERC721Received)."""
    return abi.call_data(SAFE_TRANSFER, sender, to, token_id)


def decode_safe_transfer(data: bytes) -> DecodedCall | None:
    """`safeTransferFrom(from, to, id)` calldata decoded for a preview; None if it is not one."""
    if data[:4] != SAFE_TRANSFER_SELECTOR or len(data) != 4 + 3 * 32:
        return None
    words = [data[4 + 32 * i : 36 + 32 * i] for i in range(3)]
    if words[0][:12] != bytes(12) or words[1][:12] != bytes(12):
        return None
    args: dict[str, object] = {
        "from": abi.decode_address(words[0]),
        "to": abi.decode_address(words[1]),
        "tokenId": int.from_bytes(words[2], "big"),
    }
    return DecodedCall("safeTransferFrom", args)


def _call(rpc: Rpc, contract: str, data: bytes) -> bytes | None:
    """The call's return data, or None if it reverted (an answer like any other here)."""
    try:
        result = rpc.call("eth_call", {"to": contract, "data": "0x" + data.hex()}, "latest")
    except RpcError:
        return None
    return bytes.fromhex(str(result or "0x")[2:])


def supports_erc721(rpc: Rpc, contract: str) -> bool:
    """ERC-165 ``supportsInterface(0x80ac58cd)`` says true (an ERC-20 or an account says nothing)."""
    raw = _call(rpc, contract, abi.selector("supportsInterface(bytes4)") + abi.word(ERC721_INTERFACE))
    return raw is not None and len(raw) == 32 and int.from_bytes(raw, "big") == 1


def owner_of(rpc: Rpc, contract: str, token_id: int) -> str | None:
    """The owner the contract reports, or None if it reverts (no such token) or answers nonsense."""
    return decode_owner(_call(rpc, contract, abi.call_data("ownerOf(uint256)", token_id)))


def decode_owner(raw: bytes | None) -> str | None:
    """An ownerOf answer: an address in one word, else None (a revert, 0x0, or nonsense)."""
    if raw is None or len(raw) != 32 or raw[:12] != bytes(12) or not any(raw):
        return None
    return abi.decode_address(raw)


def decode_text(raw: bytes | None) -> str | None:
    """A string answer (name, symbol, tokenURI) capped at TEXT_CAP characters; None if it is none."""
    if not raw:
        return None
    try:
        return abi.decode_text(raw)[:TEXT_CAP]
    except Exception:  # noqa: BLE001  a hostile contract's return data may be any bytes
        return None


def _text(rpc: Rpc, contract: str, data: bytes) -> str | None:
    return decode_text(_call(rpc, contract, data))


@dataclass(frozen=True, slots=True)
class Reads:
    """What a collection says about one token, as it said it (strings untrusted, capped)."""

    contract: str
    token_id: int
    is_erc721: bool
    owner: str | None
    name: str | None
    symbol: str | None
    token_uri: str | None
    approved: str | None = None  # the account getApproved names: it may move the token too


def read(rpc: Rpc, contract: str, token_id: int) -> Reads:
    """The collection's answers about ``token_id``; NftError if ``contract`` has no code."""
    contract = addr.parse(contract)
    if rpc.call("eth_getCode", contract, "latest") in (None, "0x", "0x0"):
        raise NftError(f"no contract at {contract} on this network: check the address and the network")
    return Reads(
        contract,
        token_id,
        supports_erc721(rpc, contract),
        owner_of(rpc, contract, token_id),
        _text(rpc, contract, abi.selector("name()")),
        _text(rpc, contract, abi.selector("symbol()")),
        _text(rpc, contract, abi.call_data("tokenURI(uint256)", token_id)),
        get_approved(rpc, contract, token_id),
    )


# -- approvals (what an exchange such as Seaport needs before it can move a token) -------------


def approve_data(spender: str, token_id: int) -> bytes:
    """``approve(spender, id)``: `spender` may move this one token (until it moves)."""
    return abi.call_data("approve(address,uint256)", spender, token_id)


def set_approval_for_all_data(operator: str, approved: bool) -> bytes:
    """``setApprovalForAll(operator, approved)``: every token of the collection, now and later."""
    return abi.call_data("setApprovalForAll(address,bool)", operator, approved)


def get_approved(rpc: Rpc, contract: str, token_id: int) -> str | None:
    """The one account approved for `token_id`, or None (none, or the call reverted)."""
    return decode_owner(_call(rpc, contract, abi.call_data("getApproved(uint256)", token_id)))


def is_approved_for_all(rpc: Rpc, contract: str, owner: str, operator: str) -> bool:
    raw = _call(rpc, contract, abi.call_data("isApprovedForAll(address,address)", owner, operator))
    return raw is not None and len(raw) == 32 and int.from_bytes(raw, "big") == 1
