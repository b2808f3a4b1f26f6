"""Payment requests and split bills in chats (issue 17).

A request is a `payment_request` message: pay its sender an amount of ETH or a token on
one chain before it expires. `hongbao pay ID` pays it through `send` and answers with a
payment notice naming the request. Nothing about a request's state is stored apart from
the messages themselves: it is worked out from them each time.

- On the payer's side a request is paid once we have sent a notice naming it (a notice
  is only sent after the receipt), declined once we have declined it, expired after its
  expiry (by our clock), else open. A paid, declined or expired request is refused.
- On the requester's side a person asked has paid only if their notice names the request
  and checks out against the chain: the transaction is mined, paid by them (its sender or
  the Transfer's `from`), to us, at least their share in the requested token, and it
  backs no earlier notice of theirs. A stranger's notice, or the asked person's notice
  about someone else's transaction, pays nothing.

Plain inputs and results; the chain check is passed in (`Verify`), the CLI renders.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from messaging import payloads
from messaging.chat import Messenger, SentMessage
from messaging.client import RelayUnreachable
from messaging.errors import PayloadError
from messaging.store import GROUP_PREFIX, KeyChangeUnconfirmed, StoredMessage
from wallet import address as addr
from wallet.errors import WalletError
from wallet.payments import PaymentCheck

# (notice's payment, payer, what they owe, the request) -> the chain's verdict
Verify = Callable[[payloads.Payment, str, int, payloads.PaymentRequest], PaymentCheck]

_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
DEFAULT_EXPIRY = "7d"
_SHARE = re.compile(r"([^=,]+)=([0-9]{1,6})")


class RequestError(WalletError):
    pass


# -- pure helpers ------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """`30m`, `12h`, `7d`, `2w` -> milliseconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise RequestError(f"{text[:20]!r} is not a duration: write e.g. 30m, 12h, 7d or 2w")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` base units split by `weights`, exactly: each share is its weighted part
    rounded down, and the units left over go one each to the first shares."""
    if not weights or any(w <= 0 for w in weights):
        raise RequestError("every share needs a weight of at least 1")
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    for i in range(total - sum(shares)):  # fewer than len(weights) units
        shares[i] += 1
    return shares


def parse_shares(text: str) -> list[tuple[str, int]]:
    """`alice=2,bob=1` -> [("alice", 2), ("bob", 1)]."""
    pairs = []
    for part in text.split(","):
        match = _SHARE.fullmatch(part.strip())
        if not match or int(match.group(2)) == 0:
            raise RequestError(f"{part.strip()[:40]!r} is not a share: write NAME=WEIGHT, e.g. alice=2,bob=1")
        pairs.append((match.group(1).strip(), int(match.group(2))))
    return pairs


def eip681(recipient: str, chain_id: int, amount: int, token: str | None) -> str:
    """An EIP-681 payment link: `ethereum:0xTO@CHAIN?value=WEI` for ETH, or
    `ethereum:0xTOKEN@CHAIN/transfer?address=0xTO&uint256=UNITS` for an ERC-20."""
    recipient = addr.parse(recipient)
    if token is None:
        return f"ethereum:{recipient}@{chain_id}?{urlencode({'value': _scientific(amount)})}"
    query = urlencode({"address": recipient, "uint256": _scientific(amount)})
    return f"ethereum:{addr.parse(token)}@{chain_id}/transfer?{query}"


def _scientific(units: int) -> str:
    """EIP-681 numbers: `5e17` for 500000000000000000 (exact: digits, then e and the zeros)."""
    digits = str(units)
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    return f"{stripped}e{zeros}" if zeros >= 3 and stripped else digits


def new_request_id() -> str:
    return secrets.token_hex(16)


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    address: str
    owed: int
    state: str  # paid | declined | owes
    tx_hash: str | None = None
    reason: str = ""  # the chain's verdict on the last notice, if one did not count


@dataclass(frozen=True, slots=True)
class RequestView:
    request_id: str
    direction: str  # sent | received
    conversation: str
    requester: str
    request: payloads.PaymentRequest
    owed: int | None  # received: what I owe (None: not asked); sent: the total asked
    state: str  # open | paid | declined | expired | not asked (a split that leaves me out)
    timestamp_ms: int
    members: list[Member] = field(default_factory=list)  # sent: each person asked


# -- the service -------------------------------------------------------------------------


class Requests:
    def __init__(self, messenger: Messenger, now_ms: Callable[[], int]) -> None:
        self.messenger = messenger
        self.me = messenger.address
        self.now_ms = now_ms

    # sending

    def ask(
        self,
        to: str,
        amount: int,
        token: str | None,
        chain_id: int,
        note: str = "",
        expires_in_ms: int | None = None,
    ) -> tuple[payloads.PaymentRequest, SentMessage]:
        """Ask one contact (not a group: that is `split`) for `amount`."""
        target = self.messenger.resolve(to)
        if target.kind != "direct":
            raise RequestError(f"{to!r} is a group: ask its members with `hongbao request --split {to} AMOUNT`")
        if target.conversation == self.me:
            raise RequestError("that is your own address: ask someone else")
        request = self._request(amount, token, chain_id, note, expires_in_ms, ())
        return request, self.messenger.send(target.conversation, request)

    def split_bill(
        self,
        group: str,
        total: int,
        token: str | None,
        chain_id: int,
        note: str = "",
        expires_in_ms: int | None = None,
        *,
        exclude_me: bool = False,
        weights: Sequence[tuple[str, int]] = (),
    ) -> tuple[payloads.PaymentRequest, SentMessage]:
        """Ask each member of `group` for their share of `total` (equal, or by `weights`
        given as (member name or address, weight); members left out of `weights` owe
        nothing). Unless `exclude_me`, my own share counts in the split and is not asked."""
        target, shares = self._split(group, total, exclude_me, weights)
        request = self._request(total, token, chain_id, note, expires_in_ms, shares)
        return request, self.messenger.send(target.conversation, request)

    def split_shares(
        self, group: str, total: int, *, exclude_me: bool = False, weights: Sequence[tuple[str, int]] = ()
    ) -> tuple[tuple[str, str], ...]:
        """What `split_bill` would ask each member for: (address, base units), nothing sent."""
        return self._split(group, total, exclude_me, weights)[1]

    def _split(
        self, group: str, total: int, exclude_me: bool, weights: Sequence[tuple[str, int]]
    ) -> tuple[Any, tuple[tuple[str, str], ...]]:
        target = self.messenger.resolve(group)
        if target.kind != "group":
            raise RequestError(f"{group!r} is not a group: `--split` asks each member of a group")
        members = [m for m in target.recipients if m != self.me]
        if weights:
            chosen = [(self._member(name, members), weight) for name, weight in weights]
            if len({who for who, _ in chosen}) != len(chosen):
                raise RequestError("a member is named twice in --shares")
            people, parts = [w for w, _ in chosen], [n for _, n in chosen]
            if not exclude_me:
                people, parts = [*people, self.me], [*parts, 1]
        else:
            people = members if exclude_me else [*members, self.me]
            parts = [1] * len(people)
        if not members:
            raise RequestError(f"{group!r} has no other members to ask")
        owed = split(total, parts)
        shares = tuple((who, str(units)) for who, units in zip(people, owed, strict=True) if who != self.me and units)
        if not shares:
            raise RequestError("every share rounds to 0: ask for a larger amount")
        return target, shares

    def _member(self, name: str, members: list[str]) -> str:
        text = name.strip()
        if text.lower() in ("me", "myself"):
            return self.me
        try:
            who = addr.parse(text)
        except WalletError:
            contact = self.messenger.store.contact(text)
            if contact is None or not contact.saved:
                raise RequestError(
                    f"unknown contact {text[:40]!r} in --shares: add it with `hongbao contacts add`"
                ) from None
            who = contact.address
        if who not in members:
            raise RequestError(f"{text[:40]!r} is not a member of that group")
        return who

    def _request(
        self,
        amount: int,
        token: str | None,
        chain_id: int,
        note: str,
        expires_in_ms: int | None,
        shares: tuple[tuple[str, str], ...],
    ) -> payloads.PaymentRequest:
        if amount <= 0:
            raise RequestError("ask for more than 0")
        expires = self.now_ms() + expires_in_ms if expires_in_ms is not None else None
        request = payloads.PaymentRequest(new_request_id(), chain_id, str(amount), token, note, expires, shares)
        try:
            request.validate()
        except PayloadError as error:
            raise RequestError(f"cannot send that request: {error}") from None
        return request

    def decline(self, request_id: str, requester: str | None = None) -> RequestView:
        view = self._payable(request_id, requester)
        self.messenger.send(view.requester, payloads.RequestDeclined(view.request_id))
        return view

    # reading

    def views(self, verify: Verify | None = None) -> list[RequestView]:
        """Every request sent and received, oldest first, with its state (`verify`: check
        notices against the chain; without it a sent request's notices count as unverified)."""
        messages = self.messenger.store.messages_of_types(
            payloads.PaymentRequest.TYPE, payloads.Payment.TYPE, payloads.RequestDeclined.TYPE
        )
        first = self.messenger.store.first_payment_notices()
        result = []
        for message in messages:
            request = message.payload
            if not isinstance(request, payloads.PaymentRequest):
                continue
            if message.direction == "out":
                result.append(self._sent(message, request, messages, first, verify))
            else:
                result.append(self._received(message, request, messages))
        return result

    def find(
        self,
        request_id: str,
        verify: Verify | None = None,
        *,
        direction: str | None = None,
        requester: str | None = None,
    ) -> RequestView:
        """The request with this id. Ids are not secret (every member of a split sees one),
        so someone may send a copy: my own request wins over a copy sent to me, and
        between requests from others `requester` (their address) decides."""
        wanted = request_id.strip().lower()
        who = addr.parse(requester) if requester else None
        found = [
            v
            for v in self.views(verify)
            if v.request_id == wanted and direction in (None, v.direction) and who in (None, v.requester)
        ]
        mine = [v for v in found if v.direction == "sent"]
        if len(mine) == 1:
            return mine[0]
        if not found:
            raise RequestError(f"no payment request {request_id[:40]!r}: see `hongbao request list`")
        senders = sorted({v.requester for v in found})
        if len(senders) > 1:
            raise RequestError(
                f"{len(found)} requests carry id {wanted}, from {', '.join(senders)}: "
                "say whose with --from ADDRESS (the others are copies)"
            )
        if len(found) > 1:
            raise RequestError(f"{senders[0]} sent {len(found)} requests with id {wanted}: ask them for a new one")
        return found[0]

    def payable(self, request_id: str, requester: str | None = None) -> RequestView:
        """A received request I may pay now, or one line saying why not. The notice that
        follows the payment must be sendable, or the request would stay open (and payable
        again) after the money moved: a key change to confirm is refused now."""
        view = self._payable(request_id, requester)
        with contextlib.suppress(RelayUnreachable):  # then the notice waits as pending, which counts
            self.messenger.bundle_for(view.requester, refresh=True)
        try:
            self.messenger.store.check_can_send(view.requester)
        except KeyChangeUnconfirmed as error:
            raise RequestError(
                f"{error}; nothing was paid (`hongbao contacts verify {view.requester}` first)"
            ) from None
        return view

    def _payable(self, request_id: str, requester: str | None = None) -> RequestView:
        view = self.find(request_id, direction="received", requester=requester)
        if view.state != "open":
            raise RequestError(
                {
                    "paid": f"request {view.request_id} is paid already (your payment notice was sent): not paying twice",
                    "declined": f"you declined request {view.request_id}",
                    "expired": f"request {view.request_id} has expired: ask for a new one",
                    "not asked": f"request {view.request_id} does not ask you for anything",
                }[view.state]
            )
        return view

    def _received(
        self, message: StoredMessage, request: payloads.PaymentRequest, messages: list[StoredMessage]
    ) -> RequestView:
        owed = request.share_of(self.me)
        answered = {
            type(m.payload)
            for m in messages
            if m.direction == "out"
            and m.conversation == message.sender
            and isinstance(m.payload, (payloads.Payment, payloads.RequestDeclined))
            and m.payload.request_id == request.request_id
        }
        if owed is None:
            state = "not asked"
        elif payloads.Payment in answered:
            state = "paid"
        elif payloads.RequestDeclined in answered:
            state = "declined"
        elif request.expires_ms is not None and self.now_ms() > request.expires_ms:
            state = "expired"
        else:
            state = "open"
        return RequestView(
            request.request_id,
            "received",
            message.conversation,
            message.sender,
            request,
            owed,
            state,
            message.timestamp_ms,
        )

    def _sent(
        self,
        message: StoredMessage,
        request: payloads.PaymentRequest,
        messages: list[StoredMessage],
        first: dict[tuple[int, str, str], str],
        verify: Verify | None,
    ) -> RequestView:
        asked = (
            [(addr.parse(who), int(units)) for who, units in request.shares]
            if request.shares
            else [(message.conversation, int(request.amount))]
        )
        members = [self._member_state(request, who, owed, messages, first, verify) for who, owed in asked]
        if all(m.state == "paid" for m in members):
            state = "paid"
        elif not message.conversation.startswith(GROUP_PREFIX) and members[0].state == "declined":
            state = "declined"
        elif request.expires_ms is not None and self.now_ms() > request.expires_ms:
            state = "expired"
        else:
            state = "open"
        total = sum(owed for _, owed in asked)
        return RequestView(
            request.request_id,
            "sent",
            message.conversation,
            self.me,
            request,
            total,
            state,
            message.timestamp_ms,
            members,
        )

    def _member_state(
        self,
        request: payloads.PaymentRequest,
        who: str,
        owed: int,
        messages: list[StoredMessage],
        first: dict[tuple[int, str, str], str],
        verify: Verify | None,
    ) -> Member:
        reason = ""
        declined = False
        for m in messages:
            payload = m.payload
            if m.direction != "in" or m.sender != who or m.conversation.startswith(GROUP_PREFIX):
                continue
            if isinstance(payload, payloads.RequestDeclined) and payload.request_id == request.request_id:
                declined = True
            if not isinstance(payload, payloads.Payment) or payload.request_id != request.request_id:
                continue
            if payload.chain_id != request.chain_id or (payload.token or "").lower() != (request.token or "").lower():
                reason = "the notice names another chain or token"
                continue
            if first.get((payload.chain_id, payload.tx_hash.lower(), who)) != m.id:
                reason = f"transaction {payload.tx_hash} already backs an earlier notice"
                continue
            if verify is None:
                return Member(who, owed, "paid (unverified)", payload.tx_hash)
            verdict = verify(payload, who, owed, request)
            if verdict.ok:
                return Member(who, owed, "paid", payload.tx_hash)
            reason = verdict.reason
        return Member(who, owed, "declined" if declined else "owes", None, reason)


__all__ = [
    "DEFAULT_EXPIRY",
    "Member",
    "RequestError",
    "RequestView",
    "Requests",
    "Verify",
    "amount_units",
    "asked_json",
    "chain_verifier",
    "eip681",
    "new_request_id",
    "parse_duration",
    "parse_shares",
    "split",
    "view_json",
]


# -- for front ends: the chain check, amounts as typed, JSON ----------------------------------


def chain_verifier(me: str) -> Verify:
    """A requester's check of a notice against the chain (at least the share, paid by the
    person asked, to me, in the requested token); its network found by chain id."""
    from wallet import payments
    from wallet.rpc import Rpc

    from ..context import load_config

    def verify(payment: payloads.Payment, payer: str, owed: int, request: payloads.PaymentRequest) -> PaymentCheck:
        net = next((n for n in load_config().networks.values() if n.chain_id == request.chain_id), None)
        if net is None:
            return payments.PaymentCheck(False, f"not checked: no network with chain id {request.chain_id}")
        try:
            with Rpc(net.rpc_url, timeout=5) as rpc:
                return payments.verify(rpc, payment.tx_hash, me, owed, request.token, payer=payer, at_least=True)
        except WalletError as error:
            return payments.PaymentCheck(False, f"not checked: {error}")

    return verify


def amount_units(amount_text: str, network_name: str | None) -> tuple[int, str | None, int]:
    """ "0.5 ETH" / "120 TKN" -> (base units, token address or None, chain id)."""
    from wallet.amounts import ETH_DECIMALS, AmountError, parse_amount, to_units

    from ..context import network

    net = network(network_name)
    parsed = parse_amount(amount_text, "ETH")
    if parsed.value is None:
        raise AmountError("a request asks for an exact amount, not max")
    if (parsed.unit or "ETH").upper() == "ETH":
        return to_units(parsed.value, ETH_DECIMALS, "ETH"), None, net.chain_id
    token = net.token(parsed.unit or "")
    return to_units(parsed.value, token.decimals, token.symbol), token.address, net.chain_id


def view_json(view: RequestView) -> dict[str, object]:
    request = view.request
    data: dict[str, object] = {
        "id": view.request_id,
        "direction": view.direction,
        "conversation": view.conversation,
        "requester": view.requester,
        "chain_id": request.chain_id,
        "token": request.token,
        "amount": request.amount,
        "owed": None if view.owed is None else str(view.owed),
        "note": request.note,
        "expires_ms": request.expires_ms,
        "state": view.state,
    }
    if view.members:
        data["members"] = [
            {"address": m.address, "owed": str(m.owed), "state": m.state, "tx_hash": m.tx_hash, "reason": m.reason}
            for m in view.members
        ]
    return data


def asked_json(
    request: payloads.PaymentRequest, sent: SentMessage, units: int, token: str | None, chain_id: int
) -> dict[str, object]:
    """The JSON of `request ask` / `request --split`: the request and where it went."""
    return {
        "id": request.request_id,
        "conversation": sent.conversation,
        "message_id": sent.message_id,
        "state": sent.state,
        "chain_id": chain_id,
        "token": token,
        "amount": str(units),
        "expires_ms": request.expires_ms,
        "shares": [{"address": who, "owed": owed} for who, owed in request.shares],
        "skipped": sent.skipped,  # members whose keys are unusable: not reached (they still owe)
    }


def payment_for(view: RequestView, net: Any) -> Any:
    """The payment (cli/services/payments.Payment) that settles `view`, a request from
    `payable`: what is still owed, in its token, with a notice naming it, on network `net`
    (which must be the chain the request is for)."""
    from wallet.amounts import format_units

    from .payments import Payment

    request = view.request
    if net.chain_id != request.chain_id:
        raise RequestError(
            f"request {view.request_id} is for chain id {request.chain_id}, but network {net.name!r} is chain id "
            f"{net.chain_id}: pass --network"
        )
    owed = view.owed or 0
    if request.token is None:
        amount, symbol = f"{format_units(owed, 18)} ETH", None
    else:
        token = net.token(request.token)
        amount, symbol = f"{format_units(owed, token.decimals)} {token.symbol}", token.symbol
    return Payment(view.requester, amount, symbol, notify=True, note=request.note, request_id=view.request_id)
