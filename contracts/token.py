"""TestToken (contracts/src/TestToken.sol) over ``wallet.rpc.Rpc``: calldata and reads, no web3.

Named ``token`` rather than ``erc20`` so it is not confused with ``wallet/erc20.py``, the
generic ERC-20 helpers (transfer, balances, read_token) that work on any token; this module
is the binding for *our* test token: deployment, open ``mint`` and EIP-2612 ``permit``.

    data = deployment_data("Hongbao Test Token", "TKN", 18, 10**24)       # a contract creation
    typed = permit_typed_data(token, chain_id, name(rpc, token), owner, spender, value,
                              nonces(rpc, token, owner), deadline)
    v, r, s = split_signature(wallet.signing.sign_typed_data(owner_key, typed))
    data = permit_data(owner, spender, value, deadline, v, r, s)           # anyone may send it
"""

from __future__ import annotations

from typing import Any

from wallet import abi, signing
from wallet import address as addr
from wallet.rpc import Rpc

__all__ = [
    "ARTIFACT",
    "PERMIT_TYPES",
    "deployment_data",
    "domain_separator",
    "expected_domain_separator",
    "mint_data",
    "name",
    "nonces",
    "permit_data",
    "permit_typed_data",
    "split_signature",
]

ARTIFACT = "TestToken"
MINT = "mint(address,uint256)"
PERMIT = "permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"
PERMIT_TYPES = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
DOMAIN_VERSION = "1"  # OpenZeppelin's ERC20Permit(name) uses EIP712(name, "1")


def _call(rpc: Rpc, to: str, data: bytes, block: str = "latest") -> bytes:
    result = rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, block)
    return bytes.fromhex((result or "0x")[2:])


# -- transactions (calldata) ----------------------------------------------------------------


def deployment_data(name: str, symbol: str, decimals: int, supply: int) -> bytes:
    """Creation code + constructor args; ``supply`` base units are minted to the deployer."""
    from contracts.artifacts import load
    from contracts.deploy import deployment_tx

    return deployment_tx(load(ARTIFACT), name, symbol, decimals, supply)


def mint_data(to: str, amount: int) -> bytes:
    """``mint(to, amount)``: open to anyone on the test token."""
    return abi.call_data(MINT, to, amount)


def permit_data(owner: str, spender: str, value: int, deadline: int, v: int, r: bytes, s: bytes) -> bytes:
    """``permit(...)`` with the owner's signature; any account may submit it and pay the gas."""
    if len(r) != 32 or len(s) != 32:
        raise ValueError("r and s are 32 bytes each")
    return abi.call_data(PERMIT, owner, spender, value, deadline, v, r, s)


def permit_typed_data(
    token_address: str, chain_id: int, name: str, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """The EIP-712 Permit message (full form, as ``wallet.signing.sign_typed_data`` takes it).

    ``name`` must be the token's ``name()`` and ``nonce`` its current ``nonces(owner)``;
    the domain is (name, version "1", chainId, verifyingContract = the token).
    """
    return {
        "types": {"EIP712Domain": signing.EIP712_DOMAIN_TYPES, "Permit": PERMIT_TYPES},
        "primaryType": "Permit",
        "domain": {
            "name": name,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": addr.parse(token_address),
        },
        "message": {
            "owner": addr.parse(owner),
            "spender": addr.parse(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }


def expected_domain_separator(token_address: str, chain_id: int, name: str) -> bytes:
    """The domain separator ``permit_typed_data`` signs under: a token whose
    ``DOMAIN_SEPARATOR()`` differs (another version string, another name) would refuse it."""
    from eth_hash.auto import keccak

    kind = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    words = [kind, keccak(name.encode()), keccak(DOMAIN_VERSION.encode())]
    return keccak(b"".join([*words, abi.word(chain_id), abi.word(token_address)]))


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """A 65-byte r || s || v signature (``wallet.signing``'s form) as (v, r, s) for ``permit``."""
    if len(signature) != 65:
        raise ValueError(f"a signature is 65 bytes; got {len(signature)}")
    v = signature[64]
    return (v + 27 if v < 27 else v), signature[:32], signature[32:64]


# -- reads (eth_call) -----------------------------------------------------------------------


def name(rpc: Rpc, token: str) -> str:
    return abi.decode_text(_call(rpc, token, abi.selector("name()")))


def nonces(rpc: Rpc, token: str, owner: str) -> int:
    return abi.decode_uint(_call(rpc, token, abi.call_data("nonces(address)", owner)))


def domain_separator(rpc: Rpc, token: str) -> bytes:
    data = _call(rpc, token, abi.selector("DOMAIN_SEPARATOR()"))
    if len(data) != 32:
        raise ValueError(f"{token} DOMAIN_SEPARATOR() returned {len(data)} bytes, not 32")
    return data
