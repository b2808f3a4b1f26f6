"""Python side of RedPacket.sol: calldata, packet ids, claim signatures, state, events.

Pure functions build bytes; the few reads take an `Rpc`. The EIP-712 claim digest is
computed here without eth-account (a test checks it against the contract's own
`claimDigest`), so signing an authorization per group member costs one keccak and one
secp256k1 signature each.
"""

from __future__ import annotations

import random as _random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from wallet import abi, signing
from wallet import address as addr
from wallet.errors import InvalidKey
from wallet.rpc import Rpc

DOMAIN_NAME = "Hongbao RedPacket"
DOMAIN_VERSION = "2"
CLAIM_TYPE = "Claim(bytes32 packetId,address recipient,uint256 slot)"
CLAIM_TYPEHASH = keccak(CLAIM_TYPE.encode())
DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
MAX_SHARES = 500
ZERO = "0x" + "00" * 20

CREATE = "create((bytes32,address,uint256,uint256,uint256,address,uint256,uint256,bool,bool,uint32,bytes32,bytes32))"
CLAIM = "claim(bytes32,address,uint256,bytes32,bytes32,uint256,bytes32[])"
CLAIM_TYPES = ("bytes32", "address", "uint256", "bytes32", "bytes32", "uint256", "bytes32[]")
SUM_BITS = 96
SUM_MASK = (1 << SUM_BITS) - 1
CLAIM_GAS_ALLOWANCE = 100_000  # RedPacket.CLAIM_GAS_ALLOWANCE
REFUND = "refund(bytes32)"

CREATED_TOPIC = keccak(
    b"PacketCreated(bytes32,address,address,uint256,uint256,uint256,bool,bool,address,uint256,uint32,bytes32)"
)
CLAIMED_TOPIC = keccak(b"PacketClaimed(bytes32,address,uint256)")
REIMBURSED_TOPIC = keccak(b"ClaimReimbursed(bytes32,address,uint256)")
REFUNDED_TOPIC = keccak(b"PacketRefunded(bytes32,address,uint256,uint256)")

# Custom errors of the contract, for revert messages people can read.
ERRORS = {
    abi.selector(f"{name}()").hex(): text
    for name, text in {
        "PacketExists": "a packet with this nonce exists already",
        "UnknownPacket": "no such packet",
        "BadShares": f"shares must be 1 to {MAX_SHARES}",
        "TotalBelowShares": "the total is smaller than the number of shares (each share needs at least 1 unit)",
        "AmountTooLarge": "the amount is too large for a packet (below 2^96 base units)",
        "BadDuration": "the duration must be 1 second to 365 days",
        "NoClaimKey": "no claim key",
        "WrongValue": "the ETH sent does not match the packet (total + deposit)",
        "Expired": "the packet has expired (or was refunded)",
        "Exhausted": "every share has been claimed",
        "AlreadyClaimed": "this share was already claimed",
        "BadSignature": "the claim authorization is not valid for this packet and recipient",
        "BadSlot": "bad authorization slot",
        "BadRecipient": "bad recipient",
        "NotCreator": "only the packet's creator can refund it",
        "NotExpired": "the packet has not expired yet",
        "AlreadyRefunded": "the packet was already refunded",
        "NothingToRefund": "nothing is left to refund",
        "EthTransferFailed": "the recipient refused the ETH",
        "BadSplit": "a lucky draw needs named recipients and a split committed to its total (open packets split evenly)",
        "BadProof": "the share's amount or proof does not match the packet's committed split",
        "ReentrancyGuardReentrantCall": "re-entrant call refused",
    }.items()
}
ERRORS[abi.selector("SafeERC20FailedOperation(address)").hex()] = "the token refused the transfer"


def explain_revert(data: bytes | None) -> str:
    if data and data[:4].hex() in ERRORS:
        return ERRORS[data[:4].hex()]
    return abi.revert_reason(data)


@dataclass(frozen=True, slots=True)
class CreateParams:
    nonce: bytes  # 32 bytes
    total: int
    shares: int
    duration: int
    claim_key: str
    token: str | None = None
    deposit: int = 0
    random: bool = False
    open: bool = False
    theme: int = 0
    greeting: bytes = b""  # <= 32 bytes, see encode_greeting
    max_tip: int = 0  # wei per gas above the base fee a reimbursement pays at most
    root: bytes = b"\0" * 32  # random split: the Merkle sum root of the split (see split_tree)

    @property
    def value(self) -> int:
        """The ETH the create transaction carries."""
        return self.deposit + (self.total if self.token is None else 0)


def new_nonce() -> bytes:
    return secrets.token_bytes(32)


def new_claim_key() -> tuple[bytes, str]:
    """A fresh per-packet claim key and its address."""
    while True:
        key = secrets.token_bytes(32)
        try:
            return key, addr.from_private_key(key)
        except InvalidKey:  # 0 or >= n: astronomically rare, draw again
            continue


def encode_greeting(text: str) -> bytes:
    """A greeting that fits 32 UTF-8 bytes goes on chain as is; a longer one as its keccak
    (the text itself travels in the encrypted chat message)."""
    raw = text.encode("utf-8")
    return raw if len(raw) <= 32 else keccak(raw)


def decode_greeting(raw: bytes) -> str | None:
    """The on-chain greeting as text, or None if it is a hash (or not text)."""
    body = raw.rstrip(b"\0")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def packet_id(chain_id: int, contract: str, creator: str, nonce: bytes) -> bytes:
    return keccak(abi.word(chain_id) + abi.word(contract) + abi.word(creator) + abi.word(nonce))


def create_data(p: CreateParams) -> bytes:
    if len(p.nonce) != 32 or len(p.greeting) > 32:
        raise ValueError("nonce must be 32 bytes and greeting at most 32 bytes")
    return abi.call_data(
        CREATE,
        p.nonce,
        p.token or ZERO,
        p.total,
        p.shares,
        p.duration,
        p.claim_key,
        p.deposit,
        p.max_tip,
        p.random,
        p.open,
        p.theme,
        p.greeting,
        p.root,
    )


def domain_separator(chain_id: int, contract: str) -> bytes:
    return keccak(
        DOMAIN_TYPEHASH
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + abi.word(chain_id)
        + abi.word(contract)
    )


def claim_digest(chain_id: int, contract: str, packet: bytes, recipient: str, slot: int = 0) -> bytes:
    struct = keccak(CLAIM_TYPEHASH + abi.word(packet) + abi.word(recipient) + abi.word(slot))
    return keccak(b"\x19\x01" + domain_separator(chain_id, contract) + struct)


def claim_typed_data(chain_id: int, contract: str, packet: bytes, recipient: str, slot: int = 0) -> dict[str, Any]:
    """The same authorization as EIP-712 JSON, for wallets that sign typed data."""
    return {
        "types": {
            "EIP712Domain": signing.EIP712_DOMAIN_TYPES,
            "Claim": [
                {"name": "packetId", "type": "bytes32"},
                {"name": "recipient", "type": "address"},
                {"name": "slot", "type": "uint256"},
            ],
        },
        "primaryType": "Claim",
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": contract},
        "message": {"packetId": "0x" + packet.hex(), "recipient": recipient, "slot": slot},
    }


def sign_claim(claim_key: bytes, chain_id: int, contract: str, packet: bytes, recipient: str, slot: int = 0) -> bytes:
    return signing.sign_hash(claim_key, claim_digest(chain_id, contract, packet, recipient, slot))


def compact(signature: bytes) -> tuple[bytes, bytes]:
    """65-byte r||s||v -> EIP-2098 (r, vs): the y parity goes into the top bit of s."""
    if len(signature) != 65:
        raise ValueError("a signature is 65 bytes")
    v = signature[64]
    parity = v - 27 if v >= 27 else v
    vs = int.from_bytes(signature[32:64], "big") | (parity << 255)
    return signature[:32], vs.to_bytes(32, "big")


def claim_data(
    packet: bytes, recipient: str, slot: int, signature: bytes, amount: int = 0, proof: Sequence[bytes] = ()
) -> bytes:
    """A claim's calldata; `amount` and `proof` are a random packet's committed share and its
    Merkle sum proof (see `split_tree`), 0 and empty for a fixed one."""
    r, vs = compact(signature)
    args = (packet, addr.parse(recipient), slot, r, vs, amount, list(proof))
    return abi.selector(CLAIM) + abi.encode(CLAIM_TYPES, args)


# -- lucky draws: the split is drawn by the creator's client and committed on chain ---------


def draw_split(total: int, shares: int, rng: _random.Random | None = None) -> list[int]:
    """A lucky-draw split of `total` base units into `shares` positive amounts: the
    double-average rule (each draw uniform in [1, 2 x the current average), the last takes
    what remains) from a CSPRNG, then shuffled so that every slot has the same expected
    share, total / shares."""
    if not 1 <= shares <= total:
        raise ValueError("each share needs at least one base unit")
    draw = rng or _random.SystemRandom()
    amounts, remaining = [], total
    for left in range(shares, 1, -1):
        ceiling = 2 * remaining // left  # >= 2, as remaining >= left
        amount = 1 + draw.randrange(ceiling - 1)
        amounts.append(amount)
        remaining -= amount
    amounts.append(remaining)
    draw.shuffle(amounts)
    return amounts


def _node(left: int, right: int, total: int) -> int:
    digest = int.from_bytes(keccak(left.to_bytes(32, "big") + right.to_bytes(32, "big")), "big")
    return (digest & ~SUM_MASK & (2**256 - 1)) | total


def leaf(slot: int, amount: int) -> int:
    """A split's leaf as RedPacket hashes it: keccak(slot, amount)'s top 160 bits | amount."""
    return _node(slot, amount, amount)


@dataclass(frozen=True, slots=True)
class Split:
    """A committed lucky-draw split: amounts[slot], the root the packet stores, and one
    proof per slot (the sibling nodes from the leaf up)."""

    amounts: tuple[int, ...]
    root: bytes
    proofs: tuple[tuple[bytes, ...], ...]


def split_tree(amounts: Sequence[int]) -> Split:
    """The Merkle sum tree over (slot, amount) leaves, padded with empty (0) nodes to a
    power of two: each node is the top 160 bits of keccak(left, right) and, in its low 96
    bits, the sum of the leaves below. The root's low 96 bits are the total."""
    if not amounts or any(not 0 < a <= SUM_MASK for a in amounts) or sum(amounts) > SUM_MASK:
        raise ValueError("a split is one or more positive amounts summing below 2^96")
    level = [leaf(slot, amount) for slot, amount in enumerate(amounts)]
    width = 1
    while width < len(level):
        width *= 2
    level += [0] * (width - len(level))
    levels = [level]
    while len(level) > 1:
        level = [_node(level[i], level[i + 1], (level[i] + level[i + 1]) & SUM_MASK) for i in range(0, len(level), 2)]
        levels.append(level)
    proofs = []
    for slot in range(len(amounts)):
        index, path = slot, []
        for nodes in levels[:-1]:
            path.append(nodes[index ^ 1].to_bytes(32, "big"))
            index >>= 1
        proofs.append(tuple(path))
    return Split(tuple(amounts), level[0].to_bytes(32, "big"), tuple(proofs))


def verify_share(root: bytes, slot: int, amount: int, proof: Sequence[bytes]) -> bool:
    """What the contract checks: does (slot, amount) with `proof` lead to `root`?"""
    if not 0 <= amount <= SUM_MASK:
        return False
    node, index = leaf(slot, amount), slot
    for raw in proof:
        sibling = int.from_bytes(raw, "big")
        total = (node & SUM_MASK) + (sibling & SUM_MASK)
        if total > SUM_MASK:
            return False
        node = _node(node, sibling, total) if index % 2 == 0 else _node(sibling, node, total)
        index >>= 1
    return index == 0 and node.to_bytes(32, "big") == root


def bounded_reimbursement(gas_used: int, gas_price: int, base_fee: int, max_tip: int, share: int) -> int:
    """The most a claim's submitter gets back: min(share of the deposit, min(gas, allowance)
    x min(gas price, base fee + max tip))."""
    return min(share, min(gas_used, CLAIM_GAS_ALLOWANCE) * min(gas_price, base_fee + max_tip))


# -- recognising our contract by its code -------------------------------------------------


def code_hash() -> bytes:
    """keccak of RedPacket's runtime code in the committed artifact (it has no immutables,
    so every deployment's `eth_getCode` is exactly this code)."""
    from .artifacts import load

    return keccak(load("RedPacket").deployed_bytecode)


def is_ours(rpc: Rpc, contract: str) -> bool:
    """Is the code at `contract` our RedPacket (the committed artifact's runtime code)?"""
    code = rpc.call("eth_getCode", addr.parse(contract), "latest")
    return isinstance(code, str) and code.startswith("0x") and keccak(bytes.fromhex(code[2:])) == code_hash()


def refund_data(packet: bytes) -> bytes:
    return abi.call_data(REFUND, packet)


# -- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketState:
    creator: str
    token: str | None
    claim_key: str
    remaining: int
    deposit: int
    expiry: int
    shares: int
    shares_left: int
    random: bool
    open: bool
    refunded: bool
    root: bytes = b"\0" * 32
    max_tip: int = 0


def _call(rpc: Rpc, contract: str, data: bytes) -> bytes:
    return bytes.fromhex(rpc.call("eth_call", {"to": contract, "data": "0x" + data.hex()}, "latest")[2:])


def read_packet(rpc: Rpc, contract: str, packet: bytes) -> PacketState | None:
    from wallet.rpc import RpcError

    try:
        out = _call(rpc, contract, abi.call_data("packet(bytes32)", packet))
    except RpcError as error:
        if "revert" in error.rpc_message.lower() or error.code == 3:
            return None  # UnknownPacket
        raise
    words = [out[i : i + 32] for i in range(0, 13 * 32, 32)]
    token = abi.decode_address(words[1])
    remaining, deposit, expiry, shares, shares_left = (abi.decode_uint(w) for w in words[3:8])
    random, open_, refunded = (bool(abi.decode_uint(w)) for w in words[8:11])
    return PacketState(
        abi.decode_address(words[0]),
        None if token == addr.to_checksum(ZERO) else token,
        abi.decode_address(words[2]),
        remaining,
        deposit,
        expiry,
        shares,
        shares_left,
        random,
        open_,
        refunded,
        words[11],
        abi.decode_uint(words[12]),
    )


def claimed_by(rpc: Rpc, contract: str, packet: bytes, recipient: str) -> int:
    return abi.decode_uint(_call(rpc, contract, abi.call_data("claimedBy(bytes32,address)", packet, recipient)))


def slot_claimed(rpc: Rpc, contract: str, packet: bytes, slot: int) -> bool:
    return bool(abi.decode_uint(_call(rpc, contract, abi.call_data("slotClaimed(bytes32,uint256)", packet, slot))))


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    id: bytes
    creator: str
    token: str | None
    total: int
    shares: int
    expiry: int
    random: bool
    open: bool
    claim_key: str
    deposit: int
    theme: int
    greeting: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    id: bytes
    recipient: str
    amount: int


@dataclass(frozen=True, slots=True)
class Reimbursed:
    id: bytes
    submitter: str
    amount: int


@dataclass(frozen=True, slots=True)
class Refunded:
    id: bytes
    creator: str
    amount: int
    deposit: int


def parse_log(log: dict[str, Any], contract: str) -> Created | Claimed | Reimbursed | Refunded | None:
    """One of our events from an eth_getLogs / receipt log entry, or None. Only logs emitted
    by `contract` count: a token inside a claim could emit a look-alike PacketClaimed."""
    if str(log.get("address", "")).lower() != contract.lower():
        return None
    topics = [bytes.fromhex(t[2:]) for t in log.get("topics", [])]
    if not topics:
        return None
    data = bytes.fromhex(log["data"][2:])
    words = [data[i : i + 32] for i in range(0, len(data), 32)]
    ints = [int.from_bytes(w, "big") for w in words]
    if topics[0] == CREATED_TOPIC and len(words) == 10:
        token = abi.decode_address(words[0])
        return Created(
            topics[1],
            abi.decode_address(topics[2]),
            None if ints[0] == 0 else token,
            ints[1],
            ints[2],
            ints[3],
            bool(ints[4]),
            bool(ints[5]),
            abi.decode_address(words[6]),
            ints[7],
            ints[8],
            words[9],
        )
    if topics[0] == CLAIMED_TOPIC and len(words) == 1:
        return Claimed(topics[1], abi.decode_address(topics[2]), ints[0])
    if topics[0] == REIMBURSED_TOPIC and len(words) == 1:
        return Reimbursed(topics[1], abi.decode_address(topics[2]), ints[0])
    if topics[0] == REFUNDED_TOPIC and len(words) == 2:
        return Refunded(topics[1], abi.decode_address(topics[2]), ints[0], ints[1])
    return None
