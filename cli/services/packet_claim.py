"""Claiming a red packet, for every front end: a packet received in a chat (by id or id
prefix) or an open packet's claim code; sent from my account, from another local account
(`submit_from`), as a signed ticket for anyone to submit (`export`), or, with no ETH for
gas, over the encrypted chat to the packet's creator, who submits it (`requested`)."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from .packet_create import token_json
from .signing import Fees, Keys, KeySource, fee_paid, send_tx

if TYPE_CHECKING:
    from wallet.chain import Chain

    from .frontend import Frontend


def amount_text(units: int | None, token: Any) -> str:
    from contracts.flows import format_amount

    return "-" if units is None else format_amount(units, token)


def received_messages(m: Any) -> list[Any]:
    """Every red_packet message `m` received, oldest first."""
    found = [
        message
        for summary in m.store.conversations()
        for message in m.store.messages(summary.id, limit=10_000)
        if message.direction == "in" and message.type == "red_packet"
    ]
    return sorted(found, key=lambda x: (x.timestamp_ms, x.id))


def record(chain: Chain, me: str, contract: str, *packet_ids: bytes) -> None:
    """My shares / refunds of these packets into the history and the token list."""
    from ..context import history
    from . import packets

    with contextlib.suppress(WalletError):  # a record is a convenience: the chain has the facts
        packets.record_payments(chain, history(), me, contract, packet_ids)


def record_received(chain: Chain, me: str, rows: Any) -> None:
    """My claims among these received packets (packets.Received) into the history and the token list."""
    by_contract: dict[str, list[bytes]] = {}
    for row in rows:
        if row.status == "claimed":
            by_contract.setdefault(row.message.payload.contract, []).append(row.packet_id)
    for contract, ids in by_contract.items():
        record(chain, me, contract, *ids)


def share_of(ticket: Any, state: Any) -> int:
    """What the claim pays: a lucky draw's committed share, else remaining / shares left."""
    if state.random:
        return int(ticket.amount)
    return int(state.remaining if state.shares_left <= 1 else state.remaining // state.shares_left)


def submit(
    chain: Chain,
    ticket: Any,
    report: Any,
    frontend: Frontend,
    key: Any,
    fees: Fees,
    submitter: str,
) -> dict[str, Any]:
    """Send a checked claim ticket from `submitter` (`key()` its key, asked after the
    confirmation); the JSON of `packet claim` / `packet submit`."""
    from contracts import flows
    from wallet import fees as fees_mod
    from wallet import transfers

    coin = flows.token_of(chain, report.state.token)
    quote = fees_mod.fetch(chain.rpc)
    back = flows.expected_reimbursement(
        report.state,
        quote.base_fee + quote.tiers[fees.speed].priority_fee,
        quote.base_fee,
        eligible=submitter in (ticket.recipient, report.state.creator),
    )
    details = [
        (
            "claim",
            f"packet {flows.id_hex(ticket.packet_id)[:18]}... ({'random' if report.state.random else 'equal'} shares, {report.state.shares_left} of {report.state.shares} left, {amount_text(report.state.remaining, coin)} remaining)",
        ),
        ("share goes to", ticket.recipient),
        ("amount", amount_text(share_of(ticket, report.state), coin)),
        ("submitted by", submitter + (" (pays the gas)" if submitter != ticket.recipient else "")),
        (
            "gas reimbursed",
            f"about {format_units(back, ETH_DECIMALS)} ETH from the packet's deposit"
            if back
            else (
                "no (the packet has no gas deposit)"
                if not report.state.deposit
                else "no (only the recipient or the packet's creator is reimbursed)"
                if submitter not in (ticket.recipient, report.state.creator)
                else "no (the deposit does not cover this claim)"
            ),
        ),
    ]
    # simulated at the price the submitter will pay, with a bounded gas limit: a recipient
    # whose code burns gas only in a real transaction is caught here
    gas = flows.claim_gas(chain, ticket, submitter, transfers.choose_fees(quote, fees.speed, None, None).max_fee)
    tx, receipt = send_tx(
        chain, ticket.draft(submitter), frontend, key, fees, question="Submit the claim?", details=details, gas=gas
    )
    claim = flows.claimed_in(receipt, ticket)
    return {
        "packet_id": flows.id_hex(ticket.packet_id),
        "recipient": ticket.recipient,
        "amount": str(claim.amount),
        "formatted": amount_text(claim.amount, coin),
        "token": token_json(coin),
        "tx": tx.hash,
        "block": claim.block,
        "submitter": submitter,
        "reimbursed": str(claim.reimbursed),
        "fee": str(fee_paid(receipt)),
    }


def submit_ticket(
    ticket_text: str,
    frontend: Frontend,
    keys: KeySource,
    fees: Fees,
    *,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
) -> dict[str, Any]:
    """`packet submit`: someone's claim ticket, checked on chain, sent from my account
    (the share goes to the ticket's recipient)."""
    from contracts import flows

    from ..context import chain as connect
    from ..context import sending_account

    ticket = flows.Ticket.parse(ticket_text)
    wallet, account = sending_account(wallet_name, index)
    chain = connect(network_name)
    chain.verify()
    report = flows.check_claim(chain, ticket)
    return submit(chain, ticket, report, frontend, lambda: keys.key(wallet, index), fees, account.address)


def request_over_chat(chat: Any, ticket: Any, report: Any, coin: Any, frontend: Frontend) -> dict[str, Any]:
    """Preview, confirm, then (opening the chat, `chat()`, if need be) send the signed claim
    to the packet's creator."""
    from contracts import flows
    from messaging.chat import configured_relay
    from wallet.home import home

    from . import packets
    from .frontend import Preview

    creator = report.state.creator
    if configured_relay(home()) is None:
        raise WalletError(
            "you have no ETH for the claim's gas and no relay to send the claim to the creator over the chat: "
            "`hongbao relay use URL`, or pass --submit-from WALLET[:INDEX] (a funded account), or --export the ticket"
        )
    share = share_of(ticket, report.state)
    rows = [
        ("claim", f"packet {flows.id_hex(ticket.packet_id)[:18]}..."),
        ("you receive", amount_text(share, coin)),
        ("gas", f"you have no ETH for it: the signed claim goes to the packet's creator {creator}"),
        (
            "who pays",
            "the creator submits it, reimbursed from the packet's gas deposit"
            if report.state.deposit
            else "the creator submits it and pays the gas (the packet has no gas deposit)",
        ),
        ("fee for you", "none"),
    ]
    frontend.confirm(Preview("Send the claim to the creator?", rows))
    try:
        sent = packets.request_claim(chat(), ticket, creator)
    except WalletError as error:
        raise WalletError(
            f"you have no ETH for the claim's gas and it could not be sent to the creator over the chat ({error}); "
            "pass --submit-from WALLET[:INDEX] (a funded account), or --export the ticket for someone to submit"
        ) from None
    return {
        "status": "requested",
        "packet_id": flows.id_hex(ticket.packet_id),
        "recipient": ticket.recipient,
        "creator": creator,
        "amount": str(share),
        "formatted": amount_text(share, coin),
        "message_id": sent.message_id,
    }


@dataclass
class Claimed:
    """`how`: "claimed" (sent on chain: data has tx, amount, submitter, reimbursed...),
    "requested" (sent to the creator over the chat) or "exported" (data["ticket"])."""

    how: str
    data: dict[str, Any]


def parse_account(text: str) -> tuple[str, int]:
    """`WALLET` or `WALLET:INDEX`."""
    name, _, index = text.partition(":")
    if not name or (index and not index.isdigit()):
        raise WalletError(f"{text!r} is not WALLET or WALLET:INDEX (e.g. `--submit-from gas:0`)")
    return name, int(index or 0)


def check_source(packet: str | None, has_code: bool) -> None:
    """Exactly one of a packet id and a claim code; and a code never as an argument."""
    from contracts import flows

    if packet and packet.strip().lower().startswith(flows.CODE_PREFIX):
        raise WalletError(
            "a claim code is a bearer key and would show in `ps` and your shell history: pass it on stdin "
            "(`hongbao packet claim --code -`) or in a file (`--code FILE`)"
        )
    if (packet is None) == (not has_code):
        raise WalletError("give the packet's ID (from a chat) or --code FILE|- (an open packet's claim code)")


def claim(
    frontend: Frontend,
    *,
    packet: str | None = None,
    code: str | None = None,
    submit_from: str | None = None,
    export: bool = False,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
    fees: Fees | None = None,
    keys: KeySource | None = None,
) -> Claimed:
    """`packet claim`: `packet` (an id or id prefix of a packet received in a chat) or
    `code` (an open packet's claim code: a bearer key). With ETH for gas my account sends
    the claim; without, it goes to the creator over the chat; `submit_from` ("WALLET[:INDEX]")
    pays the gas instead; `export` returns the signed ticket. `keys`: how wallets are
    unlocked (default: through `frontend`)."""
    from contracts import flows

    from ..context import chain as connect
    from ..context import sending_account
    from ..wallets import open_wallet
    from . import packets
    from .chat import open_messenger

    check_source(packet, code is not None)
    fees = fees or Fees()
    keys = keys or Keys(frontend)
    wallet, account = sending_account(wallet_name, index)
    chain = connect(network_name)
    chain.verify()
    sender = None
    with contextlib.ExitStack() as stack:
        m = None
        if code is not None:
            opened = flows.OpenCode.parse(code)
            if opened.chain_id == chain.chain_id:
                packets.recognise(chain, opened.contract)
            ticket = opened.ticket(account.address)
        else:
            assert packet is not None  # noqa: S101  (one of the two, checked above)
            if not re.fullmatch(r"(0x)?[0-9a-fA-F]{4,64}", packet.strip()):
                raise WalletError(f"{packet!r} is not a packet id or id prefix (0x + hex digits)")
            m = stack.enter_context(open_messenger(wallet_name, index, frontend, keys.key(wallet, index)))
            rows = packets.received(chain, received_messages(m), account.address)
            if not any(r.valid for r in packets.find(rows, packet)):
                m.receive()  # perhaps it has just arrived
                rows = packets.received(chain, received_messages(m), account.address)
            found, ticket = packets.claimable(rows, packet)
            sender = found.message.sender
        report = flows.check_claim(chain, ticket)
        coin = flows.token_of(chain, report.state.token)
        if export:
            ticket_json = {
                "ticket": str(ticket),
                "recipient": ticket.recipient,
                "packet_id": flows.id_hex(ticket.packet_id),
            }
            return Claimed("exported", ticket_json)
        if submit_from:
            name, sponsor_index = parse_account(submit_from)
            sponsor_wallet = open_wallet(name)
            sponsor = sponsor_wallet.account(sponsor_index)
            if sponsor.kind == "watch":
                raise WalletError(f"{submit_from} ({sponsor.address}) is watch-only: it cannot submit a claim")
            flows.choose_submitter(chain, ticket, sponsor.address)
            use_wallet, use_index, other = sponsor_wallet, sponsor_index, sponsor_wallet.name != wallet.name
        else:
            try:
                flows.choose_submitter(chain, ticket)
            except flows.PacketError:
                # no ETH for gas: the signed claim goes to the creator over the encrypted chat
                def chat(m: Any = m) -> Any:  # opened (unlocked) after the confirmation when not open yet
                    return m or stack.enter_context(
                        open_messenger(wallet_name, index, frontend, keys.key(wallet, index))
                    )

                return Claimed("requested", request_over_chat(chat, ticket, report, coin, frontend))
            use_wallet, use_index, other = wallet, index, False
    data = submit(
        chain,
        ticket,
        report,
        frontend,
        lambda: keys.key(use_wallet, use_index, other=other),
        fees,
        use_wallet.account(use_index).address,
    )
    data["from"] = sender
    record(chain, ticket.recipient, ticket.contract, ticket.packet_id)
    return Claimed("claimed", data)
