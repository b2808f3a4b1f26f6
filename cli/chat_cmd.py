"""`hongbao chat ...`: send, inbox, show, watch. Plus what the contacts, group and relay
commands share: opening the account's Messenger and rendering messages.

The work is in messaging/chat.py; this file parses and renders.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wallet.errors import WalletError
from wallet.home import home

from .context import network_option
from .inert import inert, json_text, markup
from .output import console, emit, json_option, note, table
from .wallet_cmd import index_option, password_file_option, wallet_option

if TYPE_CHECKING:
    from wallet.chain import Chain
    from wallet.config import Token


CONTROL = ("receipt", "delivery_pass")  # control traffic: stored, never shown


def account_options(function):
    """--wallet, --index, --password-file, --json: the account that chats."""
    for option in reversed((wallet_option, index_option, password_file_option, json_option)):
        function = option(function)
    return function


def account_key(wallet_name: str | None, index: int, password_file: Path | None) -> bytes:
    """The chatting account's key, from the unlock session or the wallet password."""
    from .wallet_cmd import open_wallet, unlock_wallet

    wallet = open_wallet(wallet_name)
    account = wallet.account(index)
    if account.kind == "watch":
        raise WalletError(f"account {index} ({account.address}) is watch-only: it has no key to chat with")
    return unlock_wallet(wallet, password_file).private_key(index)


@contextlib.contextmanager
def messenger(wallet_name: str | None, index: int, password_file: Path | None, key: bytes | None = None):
    """The account's Messenger, unlocked with the wallet password (or the given key)."""
    from messaging.chat import Messenger

    with Messenger.open(home(), key or account_key(wallet_name, index, password_file)) as opened:
        yield opened


# -- rendering -----------------------------------------------------------------------------


def payload_json(payload) -> dict:
    from messaging import payloads

    return json.loads(payloads.encode(payload))


def message_json(
    message, names: dict[str, str] | None = None, me: str | None = None, store=None, flag: str | None = None
) -> dict:
    data = {
        "id": message.id,
        "conversation": message.conversation,
        "direction": message.direction,
        "sender": message.sender,
        "timestamp_ms": message.timestamp_ms,
        "type": message.type,
        "state": message.state,
        "payload": payload_json(message.payload),
    }
    if names is not None:
        data["sender_name"] = names.get(message.sender)
    check = payment_check(message, me, store) if me else None
    if check is not None:
        data["payment_check"] = check
    if flag is not None:
        data["flag"] = flag
    live = packet_check(message, me) if me else None
    if live is not None:
        data["packet_check"] = live
    trade = trade_check(message) if me else None
    if trade is not None:
        data["trade_check"] = trade
    offered = offer_check(message, me, store) if me else None
    if offered is not None:
        data["offer_check"] = offered
    return data


def names_of(m) -> dict[str, str]:
    """address -> how to show it: "me", a contact name, or nothing (the address itself)."""
    names = {c.address: c.name for c in m.store.contacts() if c.name}
    names[m.address] = "me"
    return names


def _amount(value: str | None, token: str | None, chain_id: int) -> str:
    from wallet import amounts

    if value is None:
        return "?"
    if token is None:
        return amounts.eth(int(value))
    with contextlib.suppress(WalletError):
        from .context import load_config

        for network in load_config().networks.values():
            if network.chain_id == chain_id:
                for known in network.tokens.values():
                    if known.address.lower() == token.lower():
                        return f"{amounts.format_units(int(value), known.decimals)} {known.symbol}"
    return f"{value} base units of token {token}"


def describe(payload, names: dict[str, str] | None = None) -> str:
    """One line for people; never markup (callers print it as plain text)."""
    from messaging import payloads

    names = names or {}

    if isinstance(payload, payloads.Text):
        return payload.body
    if isinstance(payload, payloads.RedPacket):
        total = _amount(payload.total, payload.token, payload.chain_id)
        shares = f" in {payload.shares} shares" if payload.shares else ""
        greeting = f" “{payload.greeting}”" if payload.greeting else ""
        return (
            f"🧧 red packet{greeting}: {total}{shares} (as the message says) — hongbao packet claim {payload.packet_id}"
        )
    if isinstance(payload, payloads.RedPacketClaim):
        return f"🧧 claim for packet {payload.packet_id[:10]}... sent to you to submit (the share goes to {payload.recipient})"
    if isinstance(payload, payloads.Payment):
        note_text = f" “{payload.note}”" if payload.note else ""
        paying = f" for request {payload.request_id}" if payload.request_id else ""
        return f"💸 payment of {_amount(payload.amount, payload.token, payload.chain_id)}{paying}{note_text} (tx {payload.tx_hash})"
    if isinstance(payload, payloads.PaymentRequest):
        note_text = f" “{payload.note}”" if payload.note else ""
        split = f" (a bill split {len(payload.shares)} ways)" if payload.shares else ""
        return f"🧾 payment request: {_amount(payload.amount, payload.token, payload.chain_id)}{split}{note_text} — pay it: hongbao pay {payload.request_id}"
    if isinstance(payload, payloads.RequestDeclined):
        return f"[declined payment request {payload.request_id}]"
    if isinstance(payload, payloads.TradeCard):  # a claim: its amounts are shown only once the chain backs them
        return f"📈 trade card about tx {payload.tx_hash}" + (f" “{payload.note}”" if payload.note else "")
    if isinstance(payload, (payloads.Offer, payloads.OfferAnswer)):
        return _describe_offer(payload)
    if isinstance(payload, payloads.GroupControl):
        if payload.op == "rename":
            return f"[group renamed to {payload.name!r}]"
        who = ", ".join(names.get(m) or m for m in payload.members)
        return f"[group {payload.op} {payload.name!r}: {who}]"
    if isinstance(payload, payloads.Receipt):
        return f"[receipt: {payload.status} {len(payload.message_ids)}]"
    return f"[unknown message type {payloads.type_of(payload)!r}: this version cannot show it]"


def _describe_offer(payload) -> str:
    """An offer or an answer to one (cli/trade_offer_cmd.py), as the message says it."""
    from messaging import payloads

    short = payload.order_hash[:12]
    if isinstance(payload, payloads.OfferAnswer):
        tx = f" (tx {payload.tx_hash})" if payload.tx_hash else ""
        return f"[offer {short} {payload.status}{tx}]"

    def item(kind, token, identifier, amount, *_recipient) -> str:
        if kind == 2:
            return f"NFT {token}#{identifier}"
        return _amount(amount, None if kind == 0 else token, payload.chain_id)

    gives = ", ".join(item(*i) for i in payload.offer)
    wants = ", ".join(item(*i) for i in payload.consideration)
    note_text = f" “{payload.note}”" if payload.note else ""
    countering = f" (counters {payload.replaces[:12]})" if payload.replaces else ""
    return f"🤝 offer{countering}: gives {gives} for {wants}{note_text} — hongbao trade accept {short}"


@functools.lru_cache(maxsize=4)
def _offers_on(me: str, chain_id: int):
    """The offers service on the network with this chain id (one connection for a whole chat)."""
    from .context import chain as connect
    from .context import load_config
    from .services import offers as service

    net = next(n for n in load_config().networks.values() if n.chain_id == chain_id)
    return service.Offers(me, service.venue(net, connect(net.name).rpc))


def offer_check(message, me: str, store) -> str | None:
    """For an offer: what the chain and the checks of cli/services/offers.py say about it."""
    from messaging import payloads

    if not isinstance(message.payload, payloads.Offer) or store is None:
        return None
    try:
        offers = _offers_on(me, message.payload.chain_id)
        view = offers.view_of(message, store.messages_of_types(payloads.OfferAnswer.TYPE))
    except (WalletError, StopIteration) as error:
        return f"✗ NOT CHECKED: {error or 'no network with its chain id'}"
    if view.state == "open" and not view.checks:
        return "✓ open: signed by the sender, restricted to you, fillable now (checked on chain)"
    details = "; ".join(([view.reason] if view.reason else []) + view.checks)
    mark = "✓" if view.state == "filled" and view.fill_tx else "✗"
    return f"{mark} {view.state.upper()}" + (f": {details}" if details else "")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def payment_check(message, me: str, store=None) -> str | None:
    """For an incoming payment notice: what the chain says about it (never trust the note).
    It counts only if the notice's sender paid, and only for the first notice naming the
    transaction (`store`: the MessageStore that knows the others)."""
    from messaging import payloads

    if message.direction != "in" or not isinstance(message.payload, payloads.Payment):
        return None
    from wallet import payments, swap_proof
    from wallet.rpc import Rpc

    from .context import load_config

    payment = message.payload
    if store is not None:
        first = store.first_payment_notices().get((payment.chain_id, payment.tx_hash.lower(), message.sender))
        if first is not None and first != message.id:
            return f"✗ NOT CONFIRMED: transaction {payment.tx_hash} already backs an earlier notice (message {first})"
    network = next((n for n in load_config().networks.values() if n.chain_id == payment.chain_id), None)
    if network is None:
        return f"not checked: no network with chain id {payment.chain_id} is configured"
    try:
        with Rpc(network.rpc_url, timeout=5) as rpc:
            verdict = payments.verify(
                rpc,
                payment.tx_hash,
                me,
                int(payment.amount),
                payment.token,
                payer=message.sender,
                routers=swap_proof.Routers.from_contracts(network.contracts),  # a swap's output to me
            )
    except WalletError as error:
        return f"not checked: {error}"
    return ("✓ " if verdict.ok else "✗ NOT CONFIRMED: ") + verdict.reason


def packet_check(message, me: str) -> str | None:
    """For an incoming red packet: its live state on chain (claimed by me, exhausted,
    expired, refunded), or why the message is invalid (cli.services.packets)."""
    from messaging import payloads

    if message.direction != "in" or not isinstance(message.payload, payloads.RedPacket):
        return None
    from .services import packets as service

    return service.packet_check(message, me)


def trade_check(message) -> str | None:
    """For a trade card (mine or a member's): the trade as the chain shows it, or why not."""
    from messaging import payloads

    if not isinstance(message.payload, payloads.TradeCard):
        return None
    from .trade_follow_cmd import chat_check

    return chat_check(message)


def print_message(message, names: dict[str, str], me: str | None = None, store=None, flag: str | None = None) -> None:
    from rich.text import Text

    who = names.get(message.sender) or message.sender
    where = "" if not message.conversation.startswith("group:") else f" [{message.conversation}]"
    line = Text(f"{_when(message.timestamp_ms)}  ", style="dim")  # Text, never markup; inert: never controls
    line.append(inert(who), style="bold")
    line.append(f"{where}: ")
    line.append(inert(describe(message.payload, names)))
    if message.direction == "out":
        line.append(f"  ({message.state})", style="dim")
    check = payment_check(message, me, store) if me else None
    if check is not None:
        line.append(f"  [{inert(check)}]", style="green" if check.startswith("✓") else "bold red")
    if flag is not None:
        line.append(f"  [{inert(flag)}]", style="bold yellow")
    live = packet_check(message, me) if me else None
    if live is not None:
        line.append(f"  [{inert(live)}]", style="green" if live.startswith("✓") else "bold red")
    trade = trade_check(message) if me else None
    if trade is not None:
        line.append(f"  [{inert(trade)}]", style="green" if trade.startswith("✓") else "bold red")
    offered = offer_check(message, me, store) if me else None
    if offered is not None:
        line.append(f"  [{inert(offered)}]", style="green" if offered.startswith("✓") else "bold red")
    console().print(line)


# -- commands ------------------------------------------------------------------------------


@click.group()
def chat() -> None:
    """Chat: send, inbox, show, watch (end-to-end encrypted through the relay)."""


@chat.command()
@click.argument("to")
@click.argument("text")
@account_options
def send(to, text, wallet_name, index, password_file, as_json):
    """Send TEXT to TO: an address, a contact name, a group name or group:<id>.

    With the relay down, a message to someone already known is kept (state "pending", exit
    0) and sent by the next `chat send`, `chat inbox` or `chat watch`."""
    from messaging import payloads

    with messenger(wallet_name, index, password_file) as m:
        target = m.resolve(to)
        sent, kept = send_or_keep(m, to, payloads.Text(text))
        if kept is not None:
            data = {
                "to": target.conversation,
                "name": target.name,
                "kind": target.kind,
                "id": kept.message_id,
                "recipients": kept.recipients,
                "state": "pending",
                "first_contact": {},
                "protection": m.protection(target.conversation),
                "relay_error": kept.relay_error,
            }
            emit(as_json, data, lambda: _kept(target.name or target.conversation, kept.relay_error))
            return
        data = {
            "to": target.conversation,
            "name": target.name,
            "kind": target.kind,
            "id": sent.message_id,
            "recipients": sent.envelope_ids,
            "state": sent.state,
            "first_contact": sent.first_contact,
            "protection": m.protection(target.conversation),
            "skipped": sent.skipped,
        }

    def human() -> None:
        for address, fp in sent.first_contact.items():
            note(
                f"first message to {address}: their fingerprint is [bold]{fp}[/]; compare it with them (`hongbao contacts verify {address}`)"
            )
        who = inert(target.name or target.conversation)
        for address, why in sent.skipped.items():
            note(f"[yellow]not sent to {address}: {markup(why)}[/]")
        click.echo(
            f"sent to {who} ({len(sent.envelope_ids)} recipient{'s' if len(sent.envelope_ids) != 1 else ''}), id {sent.message_id}; {data['protection']}"
        )

    emit(as_json, data, human)


@dataclasses.dataclass(frozen=True)
class Kept:
    """A message the relay did not take, stored pending (sent by the next send or inbox)."""

    message_id: str
    recipients: dict[str, str]  # recipient -> envelope id
    relay_error: str


def send_or_keep(m, to: str, payload):
    """(sent, None), or (None, Kept) when the relay did not answer but the message was kept
    pending; RelayUnreachable still when nothing was kept (a first contact needs the relay)."""
    from messaging.client import RelayUnreachable

    waiting = {c.message_id for c in m.store.pending_copies()}
    try:
        return m.send(to, payload), None
    except RelayUnreachable as error:
        kept = [c for c in m.store.pending_copies() if c.message_id not in waiting]
        if not kept:
            raise
        return None, Kept(kept[0].message_id, {c.recipient: c.envelope_id for c in kept}, str(error))


def _kept(who: str, reason: str) -> None:
    from rich.text import Text

    console(stderr=True).print(Text(f"the relay did not answer ({reason})", style="yellow"))
    console().print(Text(f"to {who}: kept; will be sent when the relay answers (hongbao chat inbox retries)"))


@chat.command()
@click.option("--no-fetch", is_flag=True, help="Show what is stored; do not ask the relay for new mail.")
@account_options
def inbox(no_fetch, wallet_name, index, password_file, as_json):
    """Fetch new mail, then list conversations with unread counts (and submit the claims
    recipients without ETH sent you for your red packets)."""
    from .services import packets as packet_service

    key = account_key(wallet_name, index, password_file)
    with messenger(wallet_name, index, password_file, key) as m:
        received = None if no_fetch else m.receive()
        names = names_of(m)
        served = [] if no_fetch else packet_service.serve_pending(m, key, None, names)
        requests = set(m.requests()) | {f"group:{g.id}" for g, _ in m.invitations()}
        rows = []
        for summary in m.store.conversations():
            last = next((x for x in reversed(m.store.messages(summary.id, limit=5)) if x.type not in CONTROL), None)
            request = summary.id in requests
            rows.append(
                {
                    "conversation": summary.id,
                    "name": summary.name,
                    "group": summary.is_group,
                    "unread": summary.unread,
                    "request": request,
                    "last_activity_ms": summary.last_activity_ms,
                    "last": None
                    if last is None or request  # a stranger's words wait for `chat requests`
                    else {
                        "sender": last.sender,
                        "sender_name": names.get(last.sender),
                        "type": last.type,
                        "preview": describe(last.payload, names)[:80],
                    },
                }
            )
        data = {
            "received": 0 if received is None else len(received),
            "failures": 0 if received is None else received.failures,
            "errors": [] if received is None else received.errors,
            "session_resets": m.sessions.resets,
            "conversations": rows,
            "claims_submitted": served,
        }

    def human() -> None:
        if received is not None and received.failures:
            note(f"{received.failures} envelope(s) could not be opened and were discarded")
        for event in served:
            note(markup(event["text"]))
        for line in data["session_resets"]:
            note(f"[yellow]{markup(line)}[/]")
        if not rows:
            note('No conversations yet: [bold]hongbao chat send CONTACT "text"[/]')
            return
        table(
            None,
            ["conversation", "unread", "last", ""],
            [
                [
                    r["name"] or r["conversation"],
                    r["unread"],
                    _when(r["last_activity_ms"]),
                    (
                        "group invitation: `hongbao group invitations`"
                        if r["group"]
                        else "message request: `hongbao chat requests`"
                    )
                    if r["request"]
                    else "(no messages)"
                    if r["last"] is None
                    else f"{r['last']['sender_name'] or r['last']['sender'][:10]}: {r['last']['preview']}",
                ]
                for r in rows
            ],
        )

    emit(as_json, data, human)


@chat.command()
@click.argument("conversation")
@click.option(
    "--limit", type=click.IntRange(min=1, max=10_000), default=50, show_default=True, help="Newest messages to show."
)
@click.option("--fetch/--no-fetch", default=True, help="Fetch new mail from the relay first (if it answers).")
@account_options
def show(conversation, limit, fetch, wallet_name, index, password_file, as_json):
    """Show a conversation (contact, address, group or group:<id>); marks it read and
    sends read receipts. New mail is fetched first; with the relay down, what is stored
    locally is shown."""
    from messaging.client import RelayUnreachable

    with messenger(wallet_name, index, password_file) as m:
        target = m.resolve(conversation)
        if fetch:
            try:
                m.receive()
            except RelayUnreachable as error:
                note(f"[yellow]showing stored messages only: {markup(error)}[/]")
        names = names_of(m)
        messages = [x for x in m.store.messages(target.conversation, limit=limit) if x.type not in CONTROL]
        flags = m.flags(messages)
        read = m.mark_read(target.conversation)
        data = {
            "conversation": target.conversation,
            "name": target.name,
            "kind": target.kind,
            "protection": m.protection(target.conversation),
            "messages": [message_json(x, names, m.address, m.store, flags.get(x.id)) for x in messages],
            "marked_read": read.ids,
            "receipts_sent": read.receipts_sent,
        }

    def human() -> None:
        title = markup(target.name or target.conversation)
        note(f"{title}: {markup(data['protection'])}")
        if not messages:
            note(f"No messages with {title} yet")
        for message in messages:
            print_message(message, names, m.address, m.store, flags.get(message.id))
        if read.ids and not read.receipts_sent:
            note("read receipts could not be sent (relay unreachable)")

    emit(as_json, data, human)


# -- consent: message requests, accept, block ---------------------------------------------


@chat.command()
@account_options
def requests(wallet_name, index, password_file, as_json):
    """List message requests: people who wrote to you whom you have not accepted or blocked.
    Nothing is sent to them (no read receipts, no delivery pass) until you accept."""
    with messenger(wallet_name, index, password_file) as m:
        m.receive()
        rows = []
        for address in m.requests():
            shown = [x for x in m.store.messages(address, limit=50) if x.type not in CONTROL and x.sender == address]
            rows.append(
                {"address": address, "messages": len(shown), "last_ms": shown[-1].timestamp_ms if shown else None}
            )

    def human() -> None:
        if not rows:
            note("No message requests")
            return
        table(
            None,
            ["from", "messages", "last"],
            [[r["address"], r["messages"], _when(r["last_ms"]) if r["last_ms"] else ""] for r in rows],
        )
        note(
            "read one with `hongbao chat show ADDRESS`; then `hongbao chat accept ADDRESS` or `hongbao chat block ADDRESS`"
        )

    emit(as_json, rows, human)


@chat.command()
@click.argument("address")
@account_options
def accept(address, wallet_name, index, password_file, as_json):
    """Accept (or unblock) ADDRESS: they get your delivery pass, so their mail reaches your
    mailbox's contact lane whatever strangers send."""
    with messenger(wallet_name, index, password_file) as m:
        given = m.accept(address)
        data = {"address": address, "accepted": True, "pass_given": given}

    def human() -> None:
        click.echo(f"accepted {address}" + ("" if given else "; they get your delivery pass with your next message"))

    emit(as_json, data, human)


@chat.command()
@click.argument("address")
@account_options
def block(address, wallet_name, index, password_file, as_json):
    """Block ADDRESS: their mail is dropped unread, and your delivery pass is replaced (the
    relay stops honouring theirs); the people you accept get the new one."""
    with messenger(wallet_name, index, password_file) as m:
        given = m.block(address)
        data = {"address": address, "blocked": True, "new_pass_given_to": given}

    def human() -> None:
        click.echo(f"blocked {address}; new delivery pass given to {given} contact(s)")

    emit(as_json, data, human)


# -- my packets on chain: claims and deadlines (for `watch`) ---------------------------------

CHAIN_POLL_SECONDS = 5.0


def claim_event(news, names: dict[str, str], amount: str) -> dict:
    k = news.kept
    return {
        "kind": "claim",
        "packet_id": k.packet_id,
        "greeting": k.greeting,
        "recipient": news.recipient,
        "recipient_name": names.get(news.recipient),
        "amount": str(news.amount),
        "formatted": amount,
        "claimed": news.claimed,
        "shares": news.shares,
        "tx": news.tx_hash,
        "block": news.block,
        "text": f"🧧 {names.get(news.recipient) or news.recipient} claimed {amount} from your packet {_packet_name(k)} "
        f"({news.claimed} of {news.shares} claimed)",
    }


def deadline_event(news, left: str) -> dict:
    from contracts import flows

    s, k = news.state, news.kept
    shares = f"{s.shares_left} share{'s' if s.shares_left != 1 else ''} left"
    if news.kind == "expiring":
        text = (
            f"⏳ your packet {_packet_name(k)} expires in {flows.describe_wait(news.seconds_left)}; {shares}: "
            f"`hongbao packet refund {k.packet_id[:10]}` after expiry"
        )
    else:
        text = f"⌛ your packet {_packet_name(k)} has expired with {left} left ({shares}): refund it now: `hongbao packet refund {k.packet_id[:10]}`"
    return {
        "kind": news.kind,
        "packet_id": k.packet_id,
        "greeting": k.greeting,
        "expiry": s.expiry,
        "seconds_left": news.seconds_left,
        "shares_left": s.shares_left,
        "shares": s.shares,
        "remaining": str(s.remaining),
        "deposit": str(s.deposit),
        "formatted": left,
        "text": text,
    }


def _packet_name(kept) -> str:
    return f"“{kept.greeting}”" if kept.greeting else kept.packet_id[:10] + "..."


class ChainNews:
    """The chain side of `watch`: claims of my packets (each told once, see
    contracts.packet_watch.PacketWatch) and deadlines (told once per run and kind)."""

    def __init__(self, address: str, network_name: str | None) -> None:
        from contracts import packet_keeper, packet_watch

        self.address, self.network_name = address, network_name
        self.watch = packet_watch.PacketWatch(packet_keeper.Keeper(home()), address)
        self.chain: Chain | None = None
        self.told: set[tuple[str, str]] = set()
        self.tokens: dict[str | None, Token | None] = {}
        self.failing = False

    def _amount(self, chain: Chain, units: int, token: str | None) -> str:
        from contracts import flows

        if token not in self.tokens:
            self.tokens[token] = flows.token_of(chain, token)
        return flows.format_amount(units, self.tokens[token])

    def poll(self, names: dict[str, str]) -> list[dict]:
        """Events since the last poll; a chain that cannot be read is noted once per outage."""
        from contracts import flows, packet_watch

        from .context import chain as connect

        try:
            if self.chain is None:
                chain = connect(self.network_name)
                if not packet_watch.my_packets(self.watch.keeper, chain.network.chain_id, self.address):
                    return []
                chain.verify()
                self.chain = chain
            chain = self.chain
            claims, due = self.watch.poll(chain)
            events = [claim_event(c, names, self._amount(chain, c.amount, c.kept.token)) for c in claims]
            for news in due:
                if (news.kept.packet_id, news.kind) not in self.told:
                    self.told.add((news.kept.packet_id, news.kind))
                    left = self._amount(chain, news.state.remaining, news.state.token)
                    if news.state.deposit:
                        left += f" + {flows.format_amount(news.state.deposit, None)} gas deposit"
                    events.append(deadline_event(news, left))
        except WalletError as error:
            if not self.failing:
                note(f"[yellow]could not check your red packets on chain: {markup(error)}[/]")
            self.failing = True
            return []
        self.failing = False
        return events


@chat.command()
@click.option("--once", is_flag=True, help="Process what the relay holds now and check the chain once, then exit.")
@network_option
@account_options
def watch(once, network_name, wallet_name, index, password_file, as_json):
    """Live view of new messages, red packets and payments, claims of the packets you
    created and those about to expire (Ctrl-C to stop).

    With --json, one JSON object per line, each with a "kind": message, claim, expiring,
    expired or health (the Aave health factor fell below $HONGBAO_HF_MARGIN, default 1.2)."""
    import asyncio

    from .defi_news import DefiNews
    from .services import packets as packet_service

    def show_one(message, names) -> None:
        flag = m.flags([message]).get(message.id)
        if as_json:
            line({"kind": "message", **message_json(message, names, m.address, m.store, flag)})
        else:
            print_message(message, names, m.address, m.store, flag)

    def line(data: dict) -> None:
        sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False)) + "\n")
        sys.stdout.flush()

    def show_chain(events: list[dict]) -> None:
        from rich.text import Text

        for event in events:
            if as_json:
                line(event)
            else:
                style = {"claim": "bold", "alert": "bold red"}.get(event["kind"], "yellow")
                console().print(Text(inert(event["text"]), style=style))

    key = account_key(wallet_name, index, password_file)
    from .trade_follow_cmd import Autofollow

    autofollow = Autofollow(key, wallet_name, index, network_name, as_json)  # `trade autofollow`: within caps only
    with messenger(wallet_name, index, password_file, key) as m:
        names = names_of(m)
        news = ChainNews(m.address, network_name)
        defi_news = DefiNews(m.address, network_name)  # the Aave health factor against the margin
        from .alerts import ChainAlerts

        alerts = ChainAlerts(m.address, network_name)  # unsigned sends, approvals, thresholds
        if once:
            received = m.receive()
            for message in received:
                show_one(message, names)
                show_chain(autofollow(message))
            show_chain(packet_service.serve_pending(m, key, network_name, names))  # claims sent to me
            if received.failures and not as_json:
                note(f"{received.failures} envelope(s) could not be opened and were discarded")
            show_chain(news.poll(names) + defi_news.poll() + alerts.poll())
            return

        async def poll_chain() -> None:
            while True:
                show_chain(
                    await asyncio.to_thread(news.poll, names)
                    + await asyncio.to_thread(defi_news.poll)
                    + await asyncio.to_thread(alerts.poll)
                )
                await asyncio.sleep(CHAIN_POLL_SECONDS)

        async def run() -> None:
            if not as_json:
                note(f"watching {m.address} on {m.relay.base_url} (Ctrl-C to stop)")
            poller = asyncio.create_task(poll_chain())
            try:
                async for message, _counts in m.watch():
                    if message.sender not in names:
                        names.update(names_of(m))
                    show_one(message, names)
                    show_chain(await asyncio.to_thread(autofollow, message))
                    if packet_service.is_claim_request(message):  # here: the message store is not shared
                        show_chain(packet_service.serve_pending(m, key, network_name, names))
            finally:
                poller.cancel()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
