"""Red packets as a user meets them, above the bindings in `redpacket.py`.

- **Creating**: `plan_create` picks the nonce and a fresh claim key, checks the numbers
  against the contract's rules, and signs one authorization per recipient (slot = the
  recipient's index) before anything is mined: ids do not depend on the block.
  `approve_draft` / `create_draft` are the transactions; `Keeper` remembers what we
  created (ids in clear, claim keys sealed under the creator's account key).
- **Reading**: `read` tells a packet's story from the chain alone: its state
  (`packet(id)`) and its events (created, each claim with the reimbursed submitter,
  refund), filtered by the contract's address (a token could emit look-alike events).
  `my_claims` answers "did I claim, and how much" for many packets in two round trips.
- **Claiming**: whatever the source (a chat authorization, an open packet's code), a
  claim becomes a `Ticket`: (chain, contract, packet, recipient, slot, signature). A ticket
  is a signed authorization *anyone* can submit and the share always goes to its
  recipient, so a recipient without ETH for gas hands it to someone who has some (another
  local account with `submit_from`, the sender, a relay operator); the packet's gas deposit,
  if any, reimburses whoever submits it, on chain. `check_claim` refuses early, in words,
  what the contract would refuse (expired, exhausted, already claimed, not for you);
  `choose_submitter` picks who pays the gas.
- **Refunding**: `check_refund` (creator only, after expiry, something left).

No messaging import: the CLI turns chat payloads into tickets and plans into payloads.
Every refusal is a `PacketError` (a `WalletError`: one line, no secret).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wallet import abi, erc20, signing
from wallet import address as addr
from wallet.amounts import ETH_DECIMALS, format_units
from wallet.chain import Chain
from wallet.config import Network, Token
from wallet.errors import WalletError
from wallet.rpc import RpcError, is_revert, revert_data, to_int
from wallet.transfers import Draft

from . import redpacket as rp

CONTRACT_KEY = "red_packet"  # [networks.<name>.contracts] entry written by `hongbao contracts deploy`
RECOGNISED_KEY = "red_packet_recognised"  # a RedPacket a chat message named, recognised by its code (claims only)
MAX_DURATION = 365 * 86_400
MAX_TOTAL = 2**96 - 1
MAX_DEPOSIT = 2**80 - 1
MAX_SLOT = 2**16 - 1
CLAIM_GAS_ALLOWANCE = rp.CLAIM_GAS_ALLOWANCE
DEFAULT_MAX_TIP = 2 * 10**9  # wei per gas above the base fee a claim's reimbursement pays at most
# Themes travel by name in chat payloads and as their index on chain (uint32 `theme`).
THEMES = ("classic", "spring-festival", "birthday", "wedding", "mid-autumn", "thanks")
CODE_PREFIX = "hongbao:redpacket:"
TICKET_PREFIX = "hongbao:claim:"
_HEX_ID = re.compile(r"^(0x)?[0-9a-fA-F]{64}\Z")


class PacketError(WalletError):
    """A red packet operation refused, with what to do."""


# -- small helpers -------------------------------------------------------------------------


def theme_number(name: str) -> int:
    if name not in THEMES:
        raise PacketError(f"unknown theme {name!r}; choose one of: {', '.join(THEMES)}")
    return THEMES.index(name)


def theme_name(number: int) -> str:
    return THEMES[number] if 0 <= number < len(THEMES) else f"theme #{number}"


def parse_id(text: str) -> bytes:
    """A full packet id (0x + 64 hex digits) -> 32 bytes."""
    if not isinstance(text, str) or not _HEX_ID.match(text.strip()):
        raise PacketError(f"{text!r} is not a packet id (0x + 64 hex digits)")
    return bytes.fromhex(text.strip().lower().removeprefix("0x"))


def id_hex(packet_id: bytes) -> str:
    return "0x" + packet_id.hex()


def contract_of(network: Network, *, creating: bool = False) -> str:
    """The network's RedPacket contract (config), or a PacketError saying how to get one.
    Only a creator is told to deploy: a recipient's client records the contract by itself
    from the first packet message it checks."""
    contract = network.contracts.get(CONTRACT_KEY) or (None if creating else network.contracts.get(RECOGNISED_KEY))
    if not contract:
        if not creating:
            raise PacketError(
                f"no RedPacket contract is recorded on {network.name} yet: claim from a chat message "
                "(`hongbao packet list`, `hongbao packet claim ID`), or use the packet's claim code"
            )
        hint = (
            "run `hongbao contracts deploy`"
            if network.is_local
            else f"add its address under [networks.{network.name}.contracts] red_packet in config.toml"
        )
        raise PacketError(f"no RedPacket contract is known on {network.name}: {hint}")
    return contract


def token_of(chain: Chain, address: str | None) -> Token | None:
    """A packet's token (None: ETH), from the config or else read from the chain."""
    if address is None:
        return None
    for token in chain.network.tokens.values():
        if token.address.lower() == address.lower():
            return token
    return erc20.read_token(chain.rpc, address)


def format_amount(units: int, token: Token | None) -> str:
    if token is None:
        return f"{format_units(units, ETH_DECIMALS)} ETH"
    return f"{format_units(units, token.decimals)} {token.symbol}"


def chain_time(chain: Chain) -> int:
    """The latest block's timestamp: the clock the contract judges expiry by."""
    return to_int(chain.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])


def describe_wait(seconds: int) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes and not days else "",
        f"{secs}s" if secs and not days and not hours else "",
    ]
    return "".join(parts) or "0s"


def utc(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


# -- creating ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorization:
    """One recipient's claim signature for an authorized packet."""

    recipient: str
    slot: int
    signature: bytes  # 65 bytes r || s || v
    amount: int = 0  # a lucky draw's committed share for this slot (0: a fixed split)
    proof: tuple[bytes, ...] = ()  # its Merkle sum proof


@dataclass(frozen=True)
class Plan:
    """Everything about a packet before it is mined. `claim_key` is secret (not in repr)."""

    chain_id: int
    contract: str
    creator: str
    params: rp.CreateParams
    packet_id: bytes
    claim_key: bytes = field(repr=False)
    greeting: str = ""
    theme: str = THEMES[0]
    token: Token | None = None
    recipients: tuple[str, ...] = ()  # slot i belongs to recipients[i]
    split: rp.Split | None = None  # a lucky draw's committed split (slot i gets split.amounts[i])

    @property
    def open(self) -> bool:
        return self.params.open

    def slot_of(self, recipient: str) -> int:
        who = addr.parse(recipient)
        try:
            return self.recipients.index(who)
        except ValueError:
            raise PacketError(f"{who} is not one of this packet's recipients") from None

    def authorization(self, recipient: str) -> Authorization:
        """The recipient's own authorization (its slot = its index among the recipients)."""
        if self.open:
            raise PacketError("an open packet has no per-recipient authorizations: share its claim code")
        slot = self.slot_of(recipient)
        who = self.recipients[slot]
        signature = rp.sign_claim(self.claim_key, self.chain_id, self.contract, self.packet_id, who, slot)
        if self.split is None:
            return Authorization(who, slot, signature)
        return Authorization(who, slot, signature, self.split.amounts[slot], self.split.proofs[slot])

    def authorizations(self) -> list[Authorization]:
        return [self.authorization(r) for r in self.recipients]

    @property
    def code(self) -> OpenCode:
        if not self.open:
            raise PacketError(
                "only an open packet has a claim code; this one is claimed with per-recipient authorizations"
            )
        return OpenCode(self.chain_id, self.contract, self.packet_id, self.claim_key)


def plan_create(
    chain_id: int,
    contract: str,
    creator: str,
    *,
    total: int,
    shares: int,
    duration: int,
    random: bool = False,
    open: bool = False,
    token: Token | None = None,
    deposit: int = 0,
    greeting: str = "",
    theme: str = THEMES[0],
    recipients: Iterable[str] = (),
    nonce: bytes | None = None,
    claim_key: bytes | None = None,
    max_tip: int = DEFAULT_MAX_TIP,
    amounts: Iterable[int] | None = None,
) -> Plan:
    """Check the numbers against RedPacket's rules (in words) and fix the packet's id."""
    creator, contract = addr.parse(creator), addr.parse(contract)
    people = tuple(addr.parse(r) for r in recipients)
    if len(set(people)) != len(people):
        raise PacketError("a recipient is listed twice")
    if not open and not people:
        raise PacketError("an authorized packet needs recipients (a contact or group); for a shareable code use --open")
    if len(people) > MAX_SLOT + 1:
        raise PacketError(f"at most {MAX_SLOT + 1} recipients")
    if not 1 <= shares <= rp.MAX_SHARES:
        raise PacketError(f"shares must be 1 to {rp.MAX_SHARES}, not {shares}")
    if people and shares > len(people):
        raise PacketError(
            f"{shares} shares for {len(people)} recipient(s): each recipient claims one share, so the rest could never be "
            f"claimed; use --shares {len(people)} or fewer, or --open for a code anyone you give it to can claim"
        )
    if random and open:
        raise PacketError(
            "a lucky draw (--random) needs named recipients (--to): an open packet's claimers could choose their "
            "share, so open packets split evenly"
        )
    if total < shares:
        raise PacketError(
            f"the total ({format_amount(total, token)}) is smaller than the number of shares ({shares}): each share needs at least one base unit"
        )
    if total > MAX_TOTAL:
        raise PacketError("the total is too large for a packet (below 2^96 base units)")
    if not 1 <= duration <= MAX_DURATION:
        raise PacketError("the expiry must be 1 second to 365 days from now")
    if not 0 <= deposit <= MAX_DEPOSIT:
        raise PacketError("the gas deposit is too large")
    if not 0 <= max_tip < 2**96:
        raise PacketError("the maximum tip is too large")
    if len(greeting) > 512:
        raise PacketError("the greeting is too long (512 characters at most)")
    number = theme_number(theme)
    nonce = nonce if nonce is not None else rp.new_nonce()
    if claim_key is None:
        claim_key, key_address = rp.new_claim_key()
    else:
        key_address = addr.from_private_key(claim_key)
    params = rp.CreateParams(
        nonce=nonce,
        total=total,
        shares=shares,
        duration=duration,
        claim_key=key_address,
        token=token.address if token else None,
        deposit=deposit,
        random=random,
        open=open,
        theme=number,
        greeting=rp.encode_greeting(greeting),
        max_tip=max_tip,
    )
    split = None
    if random:
        drawn = list(amounts) if amounts is not None else rp.draw_split(total, shares)
        if len(drawn) != shares or sum(drawn) != total or min(drawn) < 1:
            raise PacketError("the lucky draw's split does not add up to the packet's total")
        split = rp.split_tree(drawn)
        params = dataclasses.replace(params, root=split.root)
    packet = rp.packet_id(chain_id, contract, creator, nonce)
    return Plan(chain_id, contract, creator, params, packet, claim_key, greeting, theme, token, people, split)


def approve_draft(chain: Chain, plan: Plan) -> Draft | None:
    """The ERC-20 approval the create needs (exactly the total, never unlimited), or None
    when the allowance already covers it. Checks the token balance first."""
    if plan.token is None:
        return None
    held = erc20.balance_of(chain.rpc, plan.token.address, plan.creator)
    if held < plan.params.total:
        raise PacketError(
            f"insufficient {plan.token.symbol}: the packet needs {format_amount(plan.params.total, plan.token)}, {plan.creator} has {format_amount(held, plan.token)}"
        )
    if erc20.allowance(chain.rpc, plan.token.address, plan.creator, plan.contract) >= plan.params.total:
        return None
    return Draft(
        plan.creator, plan.token.address, 0, abi.call_data(erc20.APPROVE, plan.contract, plan.params.total), "call"
    )


def create_draft(plan: Plan) -> Draft:
    return Draft(plan.creator, plan.contract, plan.params.value, rp.create_data(plan.params), "call")


def created_in(receipt: dict[str, Any], plan: Plan) -> rp.Created:
    """The PacketCreated event of our create transaction (PacketError if it is not there)."""
    if to_int(receipt.get("status")) != 1:
        raise PacketError(f"the create transaction {receipt.get('transactionHash')} reverted; no packet was made")
    for log in receipt.get("logs", []):
        event = rp.parse_log(log, plan.contract)
        if isinstance(event, rp.Created) and event.id == plan.packet_id:
            return event
    raise PacketError(
        f"transaction {receipt.get('transactionHash')} emitted no PacketCreated for {id_hex(plan.packet_id)}"
    )


# -- codes and tickets -----------------------------------------------------------------------

MAX_PROOF = 16  # 2^16 slots at most: a longer proof is not one of ours


def parse_proof(text: str) -> tuple[bytes, ...]:
    """A Merkle proof written as one hex string of 32-byte nodes (ValueError if it is not)."""
    raw = bytes.fromhex(text.strip().removeprefix("0x"))
    if len(raw) % 32 or len(raw) > 32 * MAX_PROOF:
        raise ValueError("a proof is up to 16 nodes of 32 bytes")
    return tuple(raw[i : i + 32] for i in range(0, len(raw), 32))


def proof_hex(proof: Iterable[bytes]) -> str:
    return "0x" + b"".join(proof).hex()


def _fields(text: str, prefix: str, count: int, what: str) -> list[str]:
    body = text.strip()
    if not body.lower().startswith(prefix):
        raise PacketError(f"not {what} (it starts with {prefix})")
    parts = body[len(prefix) :].split(":")
    if len(parts) != count:
        raise PacketError(f"{what} has {count} fields after {prefix}; this one has {len(parts)}")
    return parts


def _chain_id(text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise PacketError(f"{text!r} is not a chain id")
    return int(text)


@dataclass(frozen=True)
class OpenCode:
    """An open packet's claim code: `hongbao:redpacket:<chain id>:<contract>:<id>:<claim key>`.
    Whoever holds it can claim one share per address: share it like cash."""

    chain_id: int
    contract: str
    packet_id: bytes
    claim_key: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"{CODE_PREFIX}{self.chain_id}:{self.contract}:{id_hex(self.packet_id)}:0x{self.claim_key.hex()}"

    @classmethod
    def parse(cls, text: str) -> OpenCode:
        chain, contract, packet, key = _fields(text, CODE_PREFIX, 4, "a red packet code")
        try:
            contract = addr.parse(contract)
            claim_key = bytes.fromhex(key.removeprefix("0x"))
            addr.from_private_key(claim_key)
        except (WalletError, ValueError):
            raise PacketError("the red packet code is damaged (bad contract or key); ask for it again") from None
        return cls(_chain_id(chain), contract, parse_id(packet), claim_key)

    def ticket(self, recipient: str) -> Ticket:
        """Sign this recipient's claim with the shared key (open packets ignore the slot: 0)."""
        who = addr.parse(recipient)
        return Ticket(
            self.chain_id,
            self.contract,
            self.packet_id,
            who,
            0,
            rp.sign_claim(self.claim_key, self.chain_id, self.contract, self.packet_id, who, 0),
        )


@dataclass(frozen=True, slots=True)
class Ticket:
    """A signed claim: anyone may submit it and the share goes to `recipient`, never to the
    submitter. `hongbao:claim:<chain id>:<contract>:<id>:<recipient>:<slot>:<signature>`, and
    for a lucky draw `:<amount>:<proof>` (the slot's committed share and its Merkle proof,
    32-byte nodes in one hex string)."""

    chain_id: int
    contract: str
    packet_id: bytes
    recipient: str
    slot: int
    signature: bytes
    amount: int = 0
    proof: tuple[bytes, ...] = ()

    def __str__(self) -> str:
        text = f"{TICKET_PREFIX}{self.chain_id}:{self.contract}:{id_hex(self.packet_id)}:{self.recipient}:{self.slot}:0x{self.signature.hex()}"
        if self.amount:
            text += f":{self.amount}:0x{b''.join(self.proof).hex()}"
        return text

    @classmethod
    def parse(cls, text: str) -> Ticket:
        body = text.strip()
        count = 8 if body.count(":") >= 9 else 6
        fields = _fields(body, TICKET_PREFIX, count, "a claim ticket")
        chain, contract, packet, recipient, slot, signature = fields[:6]
        try:
            sig = bytes.fromhex(signature.removeprefix("0x"))
            amount, proof = (int(fields[6]), parse_proof(fields[7])) if count == 8 else (0, ())
            ticket = cls(
                _chain_id(chain),
                addr.parse(contract),
                parse_id(packet),
                addr.parse(recipient),
                int(slot),
                sig,
                amount,
                proof,
            )
        except (WalletError, ValueError):
            raise PacketError("the claim ticket is damaged; ask for it again") from None
        if len(sig) != 65 or not 0 <= ticket.slot <= MAX_SLOT or not 0 <= amount <= MAX_TOTAL:
            raise PacketError("the claim ticket is damaged (signature, slot or amount); ask for it again")
        return ticket

    @classmethod
    def from_authorization(
        cls,
        chain_id: int,
        contract: str,
        packet_id: bytes | str,
        recipient: str,
        slot: int,
        signature: bytes | str,
        amount: int = 0,
        proof: Iterable[bytes] = (),
    ) -> Ticket:
        """The ticket of an authorization received in a chat (a `red_packet` payload)."""
        sig = signature if isinstance(signature, bytes) else bytes.fromhex(signature.removeprefix("0x"))
        packet = packet_id if isinstance(packet_id, bytes) else parse_id(packet_id)
        return cls(chain_id, addr.parse(contract), packet, addr.parse(recipient), slot, sig, amount, tuple(proof))

    @property
    def data(self) -> bytes:
        return rp.claim_data(self.packet_id, self.recipient, self.slot, self.signature, self.amount, self.proof)

    def signer(self) -> str | None:
        try:
            return signing.recover_hash(
                rp.claim_digest(self.chain_id, self.contract, self.packet_id, self.recipient, self.slot), self.signature
            )
        except WalletError:
            return None

    def draft(self, submitter: str) -> Draft:
        return Draft(addr.parse(submitter), self.contract, 0, self.data, "call")


# -- reading a packet ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    recipient: str
    amount: int
    tx_hash: str
    block: int
    submitter: str | None = None  # who was reimbursed from the deposit (None: nobody)
    reimbursed: int = 0


@dataclass(frozen=True)
class Report:
    """A packet as the chain tells it: state, events, and the chain's clock."""

    chain_id: int
    contract: str
    packet_id: bytes
    state: rp.PacketState
    now: int
    created: rp.Created | None = None
    created_tx: str | None = None
    created_block: int | None = None
    claims: tuple[ClaimRecord, ...] = ()
    refund: rp.Refunded | None = None
    refund_tx: str | None = None

    @property
    def expired(self) -> bool:
        return self.now >= self.state.expiry

    @property
    def status(self) -> str:
        """refunded | exhausted | expired | open."""
        if self.state.refunded:
            return "refunded"
        if self.state.shares_left == 0:
            return "exhausted"
        return "expired" if self.expired else "open"

    @property
    def total(self) -> int:
        return self.created.total if self.created else self.state.remaining + sum(c.amount for c in self.claims)

    @property
    def claimed(self) -> int:
        return sum(c.amount for c in self.claims)

    @property
    def best_luck(self) -> ClaimRecord | None:
        """手气最佳: the biggest share of a lucky draw, once every share is claimed (the first
        such claim on a tie)."""
        if not self.state.random or self.state.shares_left or not self.claims:
            return None
        return max(self.claims, key=lambda c: c.amount)

    def claimed_by(self, who: str) -> int | None:
        """What `who` received (None: no claim of theirs)."""
        who = addr.parse(who)
        amounts = [c.amount for c in self.claims if c.recipient == who]
        return sum(amounts) if amounts else None


def read(chain: Chain, contract: str, packet_id: bytes, *, from_block: int = 0) -> Report:
    """State and events of one packet; PacketError if the contract has no such packet."""
    contract = addr.parse(contract)
    state = rp.read_packet(chain.rpc, contract, packet_id)
    if state is None:
        raise PacketError(
            f"no packet {id_hex(packet_id)} on {chain.network.name} at {contract} (a wrong network, or it is not mined yet?)"
        )
    logs = chain.rpc.call(
        "eth_getLogs",
        {"address": contract, "topics": [None, id_hex(packet_id)], "fromBlock": hex(from_block), "toBlock": "latest"},
    )
    created = created_tx = created_block = refund = refund_tx = None
    claims: list[tuple[rp.Claimed, dict[str, Any]]] = []
    reimbursed: dict[str, rp.Reimbursed] = {}
    for log in logs:
        event = rp.parse_log(log, contract)
        if event is None or event.id != packet_id:
            continue
        if isinstance(event, rp.Created):
            created, created_tx, created_block = event, log["transactionHash"], to_int(log["blockNumber"])
        elif isinstance(event, rp.Claimed):
            claims.append((event, log))
        elif isinstance(event, rp.Reimbursed):
            reimbursed[log["transactionHash"]] = event
        elif isinstance(event, rp.Refunded):
            refund, refund_tx = event, log["transactionHash"]
    records = []
    for event, log in claims:
        paid = reimbursed.get(log["transactionHash"])
        records.append(
            ClaimRecord(
                event.recipient,
                event.amount,
                log["transactionHash"],
                to_int(log["blockNumber"]),
                paid.submitter if paid else None,
                paid.amount if paid else 0,
            )
        )
    return Report(
        chain.chain_id,
        contract,
        packet_id,
        state,
        chain_time(chain),
        created,
        created_tx,
        created_block,
        tuple(records),
        refund,
        refund_tx,
    )


@dataclass(frozen=True, slots=True)
class Mine:
    """A received packet from one recipient's point of view."""

    status: str  # claimed | open | exhausted | expired | refunded | unknown
    amount: int | None = None  # what I received, when claimed
    state: rp.PacketState | None = None


def my_claims(chain: Chain, contract: str, packet_ids: Iterable[bytes], me: str) -> dict[bytes, Mine]:
    """For many packets of one contract: did `me` claim (how much), else the packet's state.
    A `packet(id)` read each and one eth_getLogs over all of them."""
    contract, me = addr.parse(contract), addr.parse(me)
    ids = list(dict.fromkeys(packet_ids))
    if not ids:
        return {}
    states = {packet: rp.read_packet(chain.rpc, contract, packet) for packet in ids}
    known = [p for p in ids if states[p] is not None]
    got: dict[bytes, int] = {}
    if known:
        logs = chain.rpc.call(
            "eth_getLogs",
            {
                "address": contract,
                "topics": ["0x" + rp.CLAIMED_TOPIC.hex(), [id_hex(p) for p in known], "0x" + abi.word(me).hex()],
                "fromBlock": "0x0",
                "toBlock": "latest",
            },
        )
        for log in logs:
            event = rp.parse_log(log, contract)
            if isinstance(event, rp.Claimed) and event.recipient == me:
                got[event.id] = got.get(event.id, 0) + event.amount
    now = chain_time(chain) if known else 0
    result: dict[bytes, Mine] = {}
    for packet in ids:
        state = states[packet]
        if state is None:
            result[packet] = Mine("unknown")
        elif packet in got:
            result[packet] = Mine("claimed", got[packet], state)
        elif state.refunded:
            result[packet] = Mine("refunded", None, state)
        elif state.shares_left == 0:
            result[packet] = Mine("exhausted", None, state)
        elif now >= state.expiry:
            result[packet] = Mine("expired", None, state)
        else:
            result[packet] = Mine("open", None, state)
    return result


# -- claiming --------------------------------------------------------------------------------


def check_contract(chain: Chain, contract: str) -> str:
    """`contract` if its runtime code is our RedPacket's (the committed artifact's code hash);
    a one-line PacketError otherwise: a packet message may name any contract, and a
    stranger's could be made to look like a packet."""
    contract = addr.parse(contract)
    if not rp.is_ours(chain.rpc, contract):
        raise PacketError(
            f"this packet names contract {contract} on {chain.network.name}, which is not a Hongbao RedPacket "
            "(its code is not ours); refusing to call it: ignore the message"
        )
    return contract


def check_ticket_origin(chain: Chain, ticket: Ticket) -> None:
    """The ticket names this network and a contract whose code is our RedPacket's."""
    if ticket.chain_id != chain.chain_id:
        raise PacketError(
            f"this packet is on chain {ticket.chain_id}, but network {chain.network.name} is chain {chain.chain_id}: pick its network with --network"
        )
    check_contract(chain, ticket.contract)


def check_claim(chain: Chain, ticket: Ticket) -> Report:
    """Everything the contract would refuse, refused first in words: unknown packet, a
    signature not valid for this recipient, expired or refunded, exhausted, already claimed."""
    check_ticket_origin(chain, ticket)
    report = read(chain, ticket.contract, ticket.packet_id)
    state = report.state
    if ticket.signer() != state.claim_key:
        raise PacketError(
            f"this claim authorization is not valid for {ticket.recipient} on packet {id_hex(ticket.packet_id)[:10]}...; ask the sender for your own"
        )
    if state.random and not rp.verify_share(state.root, ticket.slot, ticket.amount, ticket.proof):
        raise PacketError(
            f"this lucky-draw share ({ticket.amount} units for slot {ticket.slot}) is not the one packet "
            f"{id_hex(ticket.packet_id)[:10]}... committed to; ask the sender for your own"
        )
    if state.open:
        already = rp.claimed_by(chain.rpc, ticket.contract, ticket.packet_id, ticket.recipient)
        if already:
            raise PacketError(
                f"{ticket.recipient} already claimed this packet ({_amount(chain, state, already)}); one share per address"
            )
    elif rp.slot_claimed(chain.rpc, ticket.contract, ticket.packet_id, ticket.slot):
        got = report.claimed_by(ticket.recipient)
        what = f" ({_amount(chain, state, got)})" if got is not None else ""
        raise PacketError(f"this share was already claimed{what}; each authorization pays once")
    if state.refunded:
        raise PacketError("the packet has been refunded to its creator; nothing is left to claim")
    if state.shares_left == 0:
        raise PacketError(f"every share of this packet has been claimed ({state.shares} of {state.shares}); too late")
    if report.expired:
        raise PacketError(
            f"the packet expired at {utc(state.expiry)}; only its creator can take back what is left (`hongbao packet refund`)"
        )
    return report


def _amount(chain: Chain, state: rp.PacketState, units: int) -> str:
    return format_amount(units, token_of(chain, state.token))


def expected_reimbursement(
    state: rp.PacketState, gas_price: int, base_fee: int | None = None, *, eligible: bool = True
) -> int:
    """The most the submitter of the next claim gets back from the gas deposit, at
    `gas_price` (bounded by `base_fee` + the packet's max tip when given). Only the
    recipient or the creator is `eligible`: anyone else submitting is paid nothing."""
    if state.shares_left == 0 or not eligible:
        return 0
    price = gas_price if base_fee is None else min(gas_price, base_fee + state.max_tip)
    return min(state.deposit // state.shares_left, CLAIM_GAS_ALLOWANCE * price)


CLAIM_GAS_LIMIT = 150_000  # a claim never needs more; a recipient that burns gas is refused


def claim_gas(chain: Chain, ticket: Ticket, submitter: str, gas_price: int) -> int:
    """Simulate the claim from `submitter` at the gas price it will really pay (a recipient
    contract can burn gas only when the price is real) and return a gas limit for it; a
    PacketError if it would fail or needs more than CLAIM_GAS_LIMIT."""
    call = {
        "from": addr.parse(submitter),
        "to": ticket.contract,
        "data": "0x" + ticket.data.hex(),
        "gasPrice": hex(gas_price),
        "gas": hex(CLAIM_GAS_LIMIT * 4),
    }
    try:
        gas = to_int(chain.rpc.call("eth_estimateGas", call, "pending"))
    except RpcError as error:
        if is_revert(error):
            raise PacketError(
                f"the claim would fail ({rp.explain_revert(revert_data(error))}); nothing was sent"
            ) from None
        if "gas" in error.rpc_message.lower():
            gas = CLAIM_GAS_LIMIT * 4
        else:
            raise
    if gas > CLAIM_GAS_LIMIT:
        raise PacketError(
            f"the claim for {ticket.recipient} would use {gas:,} gas (a claim needs under {CLAIM_GAS_LIMIT:,}): the "
            "recipient's code burns gas; not submitted"
        )
    return min(CLAIM_GAS_LIMIT, gas * 6 // 5)


@dataclass(frozen=True, slots=True)
class Submitter:
    address: str
    reason: str  # recipient | chosen


def choose_submitter(
    chain: Chain, ticket: Ticket, submit_from: str | None = None, *, gas_price: int | None = None
) -> Submitter:
    """Who sends the claim transaction: `submit_from` when given (any funded account: the
    recipient's other account, the sender's, a relay operator's), else the recipient itself
    when it holds the ETH the claim's gas may cost. Otherwise a PacketError that says how to
    get the claim submitted by someone else."""
    if submit_from is not None:
        return Submitter(addr.parse(submit_from), "chosen")
    if gas_price is None:
        from wallet import fees

        quote = fees.fetch(chain.rpc)
        gas_price = 2 * quote.base_fee + quote.tiers["normal"].priority_fee
    try:
        gas = to_int(
            chain.rpc.call(
                "eth_estimateGas",
                {"from": ticket.recipient, "to": ticket.contract, "data": "0x" + ticket.data.hex()},
                "pending",
            )
        )
    except RpcError:
        gas = 120_000
    need = gas * 6 // 5 * gas_price
    have = chain.balance(ticket.recipient, "pending")
    if have < need:
        raise PacketError(
            f"{ticket.recipient} has {format_units(have, ETH_DECIMALS)} ETH, not enough for the claim's gas (up to "
            f"{format_units(need, ETH_DECIMALS)} ETH): the claim is a signed authorization anyone can submit, so pass "
            "--submit-from WALLET[:INDEX] (a funded account), or --export and send the ticket to someone who runs "
            "`hongbao packet submit TICKET`; the share still goes to you"
        )
    return Submitter(ticket.recipient, "recipient")


def claimed_in(receipt: dict[str, Any], ticket: Ticket) -> ClaimRecord:
    if to_int(receipt.get("status")) != 1:
        raise PacketError(f"the claim transaction {receipt.get('transactionHash')} reverted; nothing was paid")
    amount, submitter, reimbursed = None, None, 0
    for log in receipt.get("logs", []):
        event = rp.parse_log(log, ticket.contract)
        if isinstance(event, rp.Claimed) and event.id == ticket.packet_id and event.recipient == ticket.recipient:
            amount = event.amount
        elif isinstance(event, rp.Reimbursed) and event.id == ticket.packet_id:
            submitter, reimbursed = event.submitter, event.amount
    if amount is None:
        raise PacketError(f"transaction {receipt.get('transactionHash')} emitted no claim for {ticket.recipient}")
    return ClaimRecord(
        ticket.recipient, amount, receipt["transactionHash"], to_int(receipt["blockNumber"]), submitter, reimbursed
    )


# -- refunding --------------------------------------------------------------------------------


def check_refund(chain: Chain, contract: str, packet_id: bytes, sender: str) -> Report:
    report = read(chain, contract, packet_id)
    state = report.state
    if addr.parse(sender) != state.creator:
        raise PacketError(f"only the packet's creator {state.creator} can refund it (not {addr.parse(sender)})")
    if state.refunded:
        raise PacketError(f"the packet was already refunded (transaction {report.refund_tx or 'unknown'})")
    if not report.expired:
        raise PacketError(
            f"the packet expires at {utc(state.expiry)} (in {describe_wait(state.expiry - report.now)}); it can be refunded after that"
        )
    if state.remaining == 0 and state.deposit == 0:
        raise PacketError("nothing is left to refund: every share was claimed and the deposit is spent")
    return report


def refund_draft(contract: str, packet_id: bytes, sender: str) -> Draft:
    return Draft(addr.parse(sender), addr.parse(contract), 0, rp.refund_data(packet_id), "call")


def refunded_in(receipt: dict[str, Any], contract: str, packet_id: bytes) -> rp.Refunded:
    if to_int(receipt.get("status")) != 1:
        raise PacketError(f"the refund transaction {receipt.get('transactionHash')} reverted")
    for log in receipt.get("logs", []):
        event = rp.parse_log(log, contract)
        if isinstance(event, rp.Refunded) and event.id == packet_id:
            return event
    raise PacketError(f"transaction {receipt.get('transactionHash')} emitted no PacketRefunded")
