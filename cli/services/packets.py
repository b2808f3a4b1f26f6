"""Red packet workflows of the CLI (and any other front end), above contracts/flows.py.

- **Recognising the contract** (`recognise`): a chat's red packet names its chain and
  contract; the contract counts only if its runtime code is our committed RedPacket
  artifact's (code hash), and then it is recorded in the network's config by itself, so a
  fresh wallet claims with nothing configured.
- **Received packets** (`received`): every red_packet message checked against the chain.
  A message counts only if its authorization recovers to the packet's on-chain claim key
  (and, for a lucky draw, its share is the committed one); the creator, token and amounts
  shown come from the chain. Anything else is `invalid` and never shadows a valid message
  with the same packet id (a stranger's look-alike message, issue 13 finding 5).
- **Gasless claims** (`request_claim`, `serve_claim_requests`): a recipient without ETH
  sends its signed claim over the encrypted chat to the packet's creator; the creator's
  receiving commands submit it from the creator's account (reimbursed from the packet's
  deposit, if any), after simulating it at the real gas price.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import flows
from contracts import redpacket as rp
from wallet import address as addr
from wallet.chain import Chain
from wallet.errors import WalletError

CLAIM_SENT = "claim sent; you will be paid when it is submitted"


# -- recognising our contract -----------------------------------------------------------------


def recognise(chain: Chain, contract: str) -> str:
    """`contract` (checksummed) if it is our RedPacket on this chain; a one-line PacketError
    if its code is not ours. Recorded as the network's `red_packet_recognised`, for claims
    and reads only: the same runtime code does not prove the same deployment (a stranger's
    creation code could have written forged packets into its storage before returning our
    code), so packets are only ever *created* in the contract the user deployed or added
    (`red_packet`). A recipient only receives from a contract, so claiming is safe."""
    contract = flows.check_contract(chain, contract)
    net = chain.network
    if contract not in (net.contracts.get(flows.CONTRACT_KEY), net.contracts.get(flows.RECOGNISED_KEY)):
        from wallet import config as config_mod
        from wallet.home import home

        config = config_mod.load(home())
        if net.name in config.networks:
            config.networks[net.name].contracts[flows.RECOGNISED_KEY] = contract
            config_mod.save(home(), config)
        net.contracts[flows.RECOGNISED_KEY] = contract
    return contract


# -- received packets, checked against the chain ------------------------------------------------


def ticket_of(payload: Any, me: str) -> flows.Ticket:
    """The claim a red_packet message gives `me` (its authorization, or the open code's key)."""
    packet = flows.parse_id(payload.packet_id)
    if payload.claim_key:
        return flows.OpenCode(payload.chain_id, payload.contract, packet, bytes.fromhex(payload.claim_key[2:])).ticket(
            me
        )
    amount, proof = (int(payload.amount), flows.parse_proof(payload.proof)) if payload.amount else (0, ())
    return flows.Ticket.from_authorization(
        payload.chain_id, payload.contract, packet, me, payload.slot, payload.authorization, amount, proof
    )


@dataclass
class Received:
    """One red packet message as the chain judges it. `status`: claimed | open | exhausted |
    expired | refunded (from the chain), invalid (the message is not backed by the packet),
    other network."""

    message: Any
    packet_id: bytes
    status: str
    reason: str = ""
    state: rp.PacketState | None = None
    amount: int | None = None  # what I received, when claimed
    ticket: flows.Ticket | None = None
    duplicates: list[Any] = field(default_factory=list)  # older valid copies (a re-sent packet)

    @property
    def valid(self) -> bool:
        return self.status not in ("invalid", "other network")


def _invalid_reason(ticket: flows.Ticket, state: rp.PacketState | None) -> str | None:
    if state is None:
        return "no such packet on chain"
    if ticket.signer() != state.claim_key:
        return "its authorization is not signed by the packet's claim key"
    if state.random and not rp.verify_share(state.root, ticket.slot, ticket.amount, ticket.proof):
        return "its share is not the one the packet committed to"
    return None


def received(chain: Chain, messages: Sequence[Any], me: str) -> list[Received]:
    """Every red_packet message, checked: one row per valid packet (its latest valid message)
    and one per invalid message, in the order received."""
    me = addr.parse(me)
    ours: dict[str, bool] = {}
    states: dict[tuple[str, bytes], rp.PacketState | None] = {}
    rows: list[Received] = []
    valid: dict[tuple[str, bytes], Received] = {}
    for message in messages:
        p = message.payload
        packet = flows.parse_id(p.packet_id)
        if p.chain_id != chain.chain_id:
            rows.append(Received(message, packet, "other network", f"it is for chain {p.chain_id}"))
            continue
        contract = addr.parse(p.contract)
        if contract not in ours:
            try:
                recognise(chain, contract)
                ours[contract] = True
            except flows.PacketError:
                ours[contract] = False
        if not ours[contract]:
            rows.append(Received(message, packet, "invalid", "its contract is not a Hongbao RedPacket"))
            continue
        if (contract, packet) not in states:
            states[(contract, packet)] = rp.read_packet(chain.rpc, contract, packet)
        state = states[(contract, packet)]
        try:
            ticket = ticket_of(p, me)
        except (WalletError, ValueError):
            rows.append(Received(message, packet, "invalid", "its authorization is damaged"))
            continue
        reason = _invalid_reason(ticket, state)
        if reason is not None:
            rows.append(Received(message, packet, "invalid", reason, state))
            continue
        row = Received(message, packet, "open", "", state, None, ticket)
        earlier = valid.get((contract, packet))
        if earlier is not None:
            rows.remove(earlier)
            row.duplicates = [*earlier.duplicates, earlier.message]
        valid[(contract, packet)] = row
        rows.append(row)
    by_contract: dict[str, list[bytes]] = {}
    for contract, packet in valid:
        by_contract.setdefault(contract, []).append(packet)
    for contract, packets in by_contract.items():
        for packet, mine in flows.my_claims(chain, contract, packets, me).items():
            row = valid[(contract, packet)]
            row.status, row.amount = mine.status, mine.amount
            row.state = mine.state or row.state
    return rows


def packet_check(message: Any, me: str) -> str:
    """One red packet message's live state, for the chat: "✓ ..." when it is a real packet
    (open, claimed by me, exhausted, expired, refunded), "✗ ..." when it is not."""
    from wallet import config as config_mod
    from wallet.home import home

    payload = message.payload
    network = next((n for n in config_mod.load(home()).networks.values() if n.chain_id == payload.chain_id), None)
    if network is None:
        return f"not checked: no network with chain id {payload.chain_id} is configured"
    try:
        chain = Chain.connect(network)
        (row,) = received(chain, [message], me)
    except WalletError as error:
        return f"not checked: {error}"
    if not row.valid:
        return f"✗ INVALID: {row.reason}"
    if row.status == "claimed":
        coin = flows.token_of(chain, row.state.token) if row.state else None
        return f"✓ claimed by me ({flows.format_amount(row.amount or 0, coin)})"
    if row.status == "open":
        return "✓ open: you can claim it"
    return f"✓ {row.status}: nothing left to claim"


def find(rows: Iterable[Received], wanted: str) -> list[Received]:
    prefix = wanted.strip().lower().removeprefix("0x")
    return [r for r in rows if r.packet_id.hex().startswith(prefix)]


def claimable(rows: Sequence[Received], wanted: str) -> tuple[Received, flows.Ticket]:
    """The one valid packet of my chats whose id starts with `wanted` (WalletError if none or several)."""
    matches = find(rows, wanted)
    good = [r for r in matches if r.valid]
    if not good:
        if matches:
            raise WalletError(
                f"the red packet message(s) for {wanted} in your chats are not valid ({matches[-1].reason}); "
                "ignore them, or ask the sender for the packet again"
            )
        raise WalletError(
            f"no red packet {wanted} in your chats (see `hongbao packet list`); an open packet's code works too"
        )
    if len({r.packet_id for r in good}) > 1:
        raise WalletError(f"{len(good)} packets in your chats start with {wanted}: give more digits")
    row = good[-1]
    if row.ticket is None:  # a valid row always has its ticket
        raise WalletError(f"the red packet {wanted} has no claim for you")
    return row, row.ticket


# -- gasless claims over the chat -----------------------------------------------------------------


def claim_request(ticket: flows.Ticket) -> Any:
    """The chat payload that carries `ticket` to the packet's creator."""
    from messaging import payloads

    return payloads.RedPacketClaim(
        chain_id=ticket.chain_id,
        contract=ticket.contract,
        packet_id=flows.id_hex(ticket.packet_id),
        recipient=ticket.recipient,
        slot=ticket.slot,
        signature="0x" + ticket.signature.hex(),
        amount=str(ticket.amount) if ticket.amount else None,
        proof=flows.proof_hex(ticket.proof) if ticket.amount else None,
    )


def request_claim(messenger: Any, ticket: flows.Ticket, creator: str) -> Any:
    """Send the signed claim to the packet's creator (who submits it from their account)."""
    return messenger.send(addr.parse(creator), claim_request(ticket))


def ticket_of_request(payload: Any) -> flows.Ticket:
    amount, proof = (int(payload.amount), flows.parse_proof(payload.proof)) if payload.amount else (0, ())
    return flows.Ticket.from_authorization(
        payload.chain_id,
        payload.contract,
        payload.packet_id,
        payload.recipient,
        payload.slot,
        payload.signature,
        amount,
        proof,
    )


@dataclass(frozen=True)
class Served:
    """What became of one claim request: submitted (tx) or refused (reason)."""

    sender: str
    packet_id: str
    recipient: str
    tx: str | None = None
    amount: int | None = None
    reimbursed: int = 0
    reason: str = ""
    message_id: str = ""
    final: bool = True  # False: a passing failure (the chain or relay unreachable): try again later


REQUESTS_FILE = "packets-requests.json"  # beside packets.json: claim requests already handled


def pending_requests(messenger: Any, home: Any) -> list[Any]:
    """Claim requests in my message store not handled yet (whichever command received them:
    `chat watch`, `chat inbox`, `packet list`...), oldest first."""
    handled = set(_handled(home))
    found = [
        message
        for summary in messenger.store.conversations()
        for message in messenger.store.messages(summary.id, limit=10_000)
        if message.direction == "in" and message.type == "red_packet_claim" and message.id not in handled
    ]
    return sorted(found, key=lambda m: (m.timestamp_ms, m.id))


def _handled(home: Any) -> list[str]:
    import json
    from pathlib import Path

    try:
        data = json.loads((Path(home) / REQUESTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    ids = data.get("handled") if isinstance(data, dict) else None
    return [i for i in ids if isinstance(i, str)] if isinstance(ids, list) else []


def mark_handled(home: Any, ids: Iterable[str]) -> None:
    import json
    from pathlib import Path

    from wallet import atomic

    known = _handled(home)
    merged = known + [i for i in ids if i not in set(known)]
    atomic.write_bytes(Path(home) / REQUESTS_FILE, json.dumps({"handled": merged[-10_000:]}).encode())


def serve_claim_requests(
    chain: Chain, messages: Iterable[Any], key: bytes, keeper: Any, history: Any, lock_path: Any
) -> list[Served]:
    """Submit the claim requests among `messages` for packets this home created with the
    account of `key`: each checked as the contract would (valid authorization of ours, not
    claimed, not expired), simulated at the real gas price with a bounded gas limit, then
    sent and awaited. A request for anything else is refused, never sent. No confirmation:
    creating a packet is the creator's consent to pay its claims' gas (bounded per claim,
    one claim per share, reimbursed from the deposit when it has one)."""
    from messaging import payloads
    from wallet import fees, transfers

    me = addr.from_private_key(key)
    done: list[Served] = []
    for message in messages:
        p = message.payload
        if message.direction != "in" or not isinstance(p, payloads.RedPacketClaim):
            continue
        try:
            ticket = ticket_of_request(p)
            kept = keeper.get(ticket.packet_id)
            if kept is None or addr.parse(kept.creator) != me or kept.chain_id != chain.chain_id:
                raise flows.PacketError("it is not a packet of mine on this network")
            if addr.parse(kept.contract) != ticket.contract:
                raise flows.PacketError("it names another contract than my packet's")
            flows.check_claim(chain, ticket)
            quote = fees.fetch(chain.rpc)
            gas = flows.claim_gas(chain, ticket, me, transfers.choose_fees(quote, "normal", None, None).max_fee)
            prepared = transfers.prepare(chain, ticket.draft(me), gas=gas)
            record = transfers.send(chain, prepared, key, history, lock_path=lock_path)
            receipt = transfers.wait_for_receipt(chain, record.hash, history)
            claim = flows.claimed_in(receipt, ticket)
            done.append(
                Served(
                    message.sender,
                    flows.id_hex(ticket.packet_id),
                    ticket.recipient,
                    record.hash,
                    claim.amount,
                    claim.reimbursed,
                    message_id=message.id,
                )
            )
        except (WalletError, ValueError) as error:
            final = isinstance(error, (flows.PacketError, ValueError))
            done.append(
                Served(
                    message.sender,
                    p.packet_id,
                    str(getattr(p, "recipient", "?")),
                    reason=str(error),
                    message_id=message.id,
                    final=final,
                )
            )
    return done


def is_claim_request(message: Any) -> bool:
    from messaging import payloads

    return bool(message.direction == "in" and isinstance(message.payload, payloads.RedPacketClaim))


def serve_pending(messenger: Any, key: bytes, network_name: str | None, names: dict[str, str]) -> list[dict[str, Any]]:
    """Submit the claim requests in my store not handled yet, whichever receiving command
    (`chat watch`, `chat inbox`, `packet list`) fetched them; tell each sender what became
    of it; one event per request (for `chat watch` and notes)."""
    from contracts import packet_keeper
    from wallet.home import home

    from ..context import chain as connect
    from ..context import history, nonce_lock_path

    requests = pending_requests(messenger, home())
    if not requests:
        return []
    try:
        chain = connect(network_name)
        done = serve_claim_requests(chain, requests, key, packet_keeper.Keeper(home()), history(), nonce_lock_path())
    except WalletError as error:
        return [{"kind": "claim_request", "text": f"could not submit the claims sent to you: {error}"}]
    mark_handled(home(), [item.message_id for item in done if item.tx or item.final])
    for item in done:
        tell_recipient(messenger, item)
    return [served_event(item, names) for item in done]


def served_event(item: Served, names: dict[str, str]) -> dict[str, Any]:
    """A `chat watch` line (and JSON object) for one served claim request."""
    who = names.get(item.recipient) or item.recipient
    if item.tx is None:
        text = f"🧧 a claim sent by {names.get(item.sender) or item.sender} for packet {item.packet_id[:10]}... was not submitted: {item.reason}"
    else:
        back = f", {item.reimbursed} wei reimbursed from the deposit" if item.reimbursed else ""
        text = f"🧧 submitted {who}'s claim of packet {item.packet_id[:10]}... (tx {item.tx}{back})"
    return {
        "kind": "claim_request",
        "text": text,
        "packet_id": item.packet_id,
        "recipient": item.recipient,
        "sender": item.sender,
        "tx": item.tx,
        "amount": None if item.amount is None else str(item.amount),
        "reimbursed": str(item.reimbursed),
        "error": item.reason or None,
    }


def tell_recipient(messenger: Any, item: Served) -> None:
    """Tell who sent the claim what became of it (best effort: the chain has the facts)."""
    from messaging import payloads

    if item.tx is not None:
        text = f"🧧 your claim of packet {item.packet_id} was submitted (tx {item.tx}); `hongbao packet list` shows it"
    else:
        text = f"🧧 your claim of packet {item.packet_id} was not submitted: {item.reason}"
    with contextlib.suppress(WalletError):
        messenger.send(item.sender, payloads.Text(text))


# -- records: shares and refunds in the history and the token list --------------------------------


def record_payments(chain: Chain, history: Any, me: str, contract: str, packet_ids: Iterable[bytes]) -> int:
    """Shares paid to `me` and refunds to `me` from these packets, stored as incoming
    transfers in the local history (so `tx list` shows them; idempotent), and their tokens
    added to the network's token list (so `balance` shows them). The number newly stored."""
    from wallet import abi
    from wallet.history import Incoming
    from wallet.rpc import to_int

    me, contract = addr.parse(me), addr.parse(contract)
    ids = list(dict.fromkeys(packet_ids))
    if not ids:
        return 0
    logs = chain.rpc.call(
        "eth_getLogs",
        {
            "address": contract,
            "topics": [
                ["0x" + rp.CLAIMED_TOPIC.hex(), "0x" + rp.REFUNDED_TOPIC.hex()],
                [flows.id_hex(p) for p in ids],
                "0x" + abi.word(me).hex(),
            ],
            "fromBlock": "0x0",
            "toBlock": "latest",
        },
    )
    tokens: dict[bytes, str | None] = {}
    stored = 0
    for log in logs:
        event = rp.parse_log(log, contract)
        if not isinstance(event, (rp.Claimed, rp.Refunded)):
            continue
        if event.id not in tokens:
            state = rp.read_packet(chain.rpc, contract, event.id)
            tokens[event.id] = state.token if state else None
        token = tokens[event.id]
        block = to_int(log["blockNumber"])
        stamp = to_int(chain.rpc.call("eth_getBlockByNumber", hex(block), False)["timestamp"])
        here = to_int(log["logIndex"])
        amount = event.amount
        deposit = event.deposit if isinstance(event, rp.Refunded) else 0
        items: list[tuple[int, str | None, int]] = []
        if token is None:
            items.append((here, None, amount + deposit))
        else:
            items.append((_transfer_index(chain, log["transactionHash"], token, me, here), token, amount))
            if deposit:
                items.append((here, None, deposit))
        for index, coin, value in items:
            if value:
                item = Incoming(chain.chain_id, log["transactionHash"], index, block, contract, me, coin, value, stamp)
                stored += bool(history.add_incoming(item))
    for token in {t for t in tokens.values() if t}:
        remember_token(chain, token)
    return stored


def _transfer_index(chain: Chain, tx_hash: str, token: str, me: str, fallback: int) -> int:
    """The log index of the token's Transfer to `me` in that transaction (what `hongbao
    sync` keys it by, so the same transfer is never counted twice)."""
    from wallet import abi
    from wallet.rpc import to_int

    receipt = chain.rpc.call("eth_getTransactionReceipt", tx_hash) or {}
    for log in receipt.get("logs", []):
        topics = log.get("topics", [])
        if (
            str(log.get("address", "")).lower() == token.lower()
            and len(topics) == 3
            and topics[0] == TRANSFER_TOPIC
            and topics[2].lower() == "0x" + abi.word(me).hex()
        ):
            return to_int(log["logIndex"])
    return fallback


_SYMBOL = re.compile(r"[A-Za-z0-9._-]{1,16}\Z")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def remember_token(chain: Chain, token: str) -> None:
    """Add a token received from a packet to the network's token list (config), if missing."""
    from wallet import config as config_mod
    from wallet import erc20
    from wallet.home import home

    net = chain.network
    if any(t.address.lower() == token.lower() for t in net.tokens.values()):
        return
    try:
        found = erc20.read_token(chain.rpc, token)
    except WalletError:
        return
    config = config_mod.load(home())
    target = config.networks.get(net.name)
    if target is None or found.symbol in target.tokens or not _SYMBOL.match(found.symbol):
        return  # a symbol already taken (never shadow it) or not a plain one (someone else's text)
    target.tokens[found.symbol] = found
    config_mod.save(home(), config)
    net.tokens[found.symbol] = found
