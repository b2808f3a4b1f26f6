"""ERC-20 calls: building calldata, reading metadata and balances, decoding transfers."""

from __future__ import annotations

from dataclasses import dataclass

from eth_hash.auto import keccak

from . import abi
from . import address as addr
from .config import Token
from .errors import WalletError
from .rpc import Rpc, RpcError

TRANSFER = "transfer(address,uint256)"
APPROVE = "approve(address,uint256)"
TRANSFER_FROM = "transferFrom(address,address,uint256)"
TRANSFER_TOPIC = "0x" + keccak(b"Transfer(address,address,uint256)").hex()
UNLIMITED = 2**256 - 1


class TokenError(WalletError):
    pass


def transfer_data(to: str, amount: int) -> bytes:
    return abi.call_data(TRANSFER, to, amount)


def _eth_call(rpc: Rpc, token: str, data: bytes, block: str = "latest") -> bytes:
    result = rpc.call("eth_call", {"to": token, "data": "0x" + data.hex()}, block)
    return bytes.fromhex(result[2:])


def balance_of(rpc: Rpc, token: str, owner: str) -> int:
    return abi.decode_uint(_eth_call(rpc, token, abi.call_data("balanceOf(address)", owner)))


def allowance(rpc: Rpc, token: str, owner: str, spender: str) -> int:
    return abi.decode_uint(_eth_call(rpc, token, abi.call_data("allowance(address,address)", owner, spender)))


def read_token(rpc: Rpc, token_address: str) -> Token:
    """Symbol and decimals from the chain; TokenError if it is no ERC-20."""
    token_address = addr.parse(token_address)
    if rpc.call("eth_getCode", token_address, "latest") in (None, "0x", "0x0"):
        raise TokenError(f"no contract at {token_address} on this network: check the address and the network")
    try:
        symbol_raw, decimals_raw = rpc.batch(
            [
                ("eth_call", [{"to": token_address, "data": "0x" + abi.selector("symbol()").hex()}, "latest"]),
                ("eth_call", [{"to": token_address, "data": "0x" + abi.selector("decimals()").hex()}, "latest"]),
            ]
        )
        symbol = abi.decode_text(bytes.fromhex(symbol_raw[2:])).strip()
        decimals = abi.decode_uint(bytes.fromhex(decimals_raw[2:]))
    except (RpcError, ValueError, TypeError, UnicodeDecodeError):
        raise TokenError(f"{token_address} does not answer symbol() and decimals(): is it an ERC-20 token?") from None
    if not symbol or decimals > 77:
        raise TokenError(f"{token_address} reports an unusable symbol or decimals ({decimals})")
    return Token(symbol, token_address, decimals)


@dataclass(frozen=True, slots=True)
class DecodedCall:
    function: str
    args: dict[str, object]


KNOWN_CALLS = {
    abi.selector(TRANSFER): ("transfer", ("to", "amount"), ("address", "uint256")),
    abi.selector(APPROVE): ("approve", ("spender", "amount"), ("address", "uint256")),
    abi.selector(TRANSFER_FROM): ("transferFrom", ("from", "to", "amount"), ("address", "address", "uint256")),
}


def decode_call(data: bytes) -> DecodedCall | None:
    """Decode calldata of the ERC-20 state-changing functions; None if not one of them."""
    known = KNOWN_CALLS.get(bytes(data[:4]))
    if known is None:
        return None
    name, names, types = known
    body = data[4:]
    if len(body) != 32 * len(types):
        return None
    values: list[object] = []
    for i, kind in enumerate(types):
        chunk = body[32 * i : 32 * (i + 1)]
        values.append(abi.decode_address(chunk) if kind == "address" else abi.decode_uint(chunk))
    return DecodedCall(name, dict(zip(names, values, strict=True)))
