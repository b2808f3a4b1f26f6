"""Creating a red packet for a chat (or an open claim code), for every front end: the chat
is checked before any money moves (recipients, their keys, the relay), then the approval
(ERC-20), the create transaction (its claim key kept between the confirmation and the
broadcast), and one message per recipient carrying its own authorization."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wallet.amounts import ETH_DECIMALS, AmountError, format_units, parse_amount, to_units
from wallet.errors import WalletError

from .signing import Fees, Keys, block_of, fee_paid, send_tx, status_of

if TYPE_CHECKING:
    from .frontend import Frontend

THEMES = ("classic", "spring-festival", "birthday", "wedding", "mid-autumn", "thanks")
_DURATION = re.compile(r"(\d+)\s*([dhms])", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """`24h`, `30m`, `7d`, `1d12h`, `90s`, or plain seconds."""
    body = text.strip()
    if body.isdigit():
        return int(body)
    parts = _DURATION.findall(body)
    if not parts or _DURATION.sub("", body).strip():
        raise WalletError(f"{text!r} is not a duration: write e.g. 24h, 30m, 7d or 1d12h")
    return sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)


@dataclass(frozen=True)
class Order:
    """A packet as a person asks for it. `amount`: "1 ETH", "250 TKN" (or a number with
    `token`); `to`: a contact, group name, group:<id> or address (each recipient gets its
    own authorization), or `open` for a bearer claim code (sent to `to` if given);
    `shares`: default one per recipient; `random`: a lucky draw, else equal shares;
    `expires`: "24h", "30m", "7d"; `deposit`: ETH reimbursing claim submitters ("0.01 ETH")."""

    amount: str
    to: str | None = None
    token: str | None = None
    shares: int | None = None
    random: bool = False
    expires: str = "24h"
    greeting: str = "恭喜发财"
    theme: str = "classic"
    open: bool = False
    deposit: str | None = None


def token_json(token: Any) -> dict[str, Any] | None:
    return None if token is None else {"symbol": token.symbol, "address": token.address, "decimals": token.decimals}


def payload(plan: Any, recipient: str, total: int) -> Any:
    """The chat message for one recipient: its own authorization (slot = its index among
    the recipients), or an open packet's claim key."""
    from contracts import flows
    from messaging import payloads

    base = dict(
        chain_id=plan.chain_id,
        contract=plan.contract,
        packet_id=flows.id_hex(plan.packet_id),
        greeting=plan.greeting,
        theme=plan.theme,
        token=plan.token.address if plan.token else None,
        total=str(total),
        shares=plan.params.shares,
    )
    if plan.open:
        return payloads.RedPacket(**base, claim_key="0x" + plan.claim_key.hex())
    grant = plan.authorization(recipient)
    return payloads.RedPacket(
        **base,
        slot=grant.slot,
        authorization="0x" + grant.signature.hex(),
        amount=str(grant.amount) if grant.amount else None,
        proof=flows.proof_hex(grant.proof) if grant.amount else None,
    )


@dataclass
class Created:
    """A packet on chain; `sent` (conversation, message_id, recipients) once its messages
    went out, or `delivery_error` when they did not (`hongbao packet resend` sends them)."""

    data: dict[str, Any]  # the JSON of `packet create --json`
    to_name: str  # the contact or group, as shown ("" for an open packet)
    code: str | None  # an open packet's claim code: a bearer key, shown once

    @property
    def packet_id(self) -> str:
        return str(self.data["packet_id"])

    @property
    def delivery_error(self) -> str | None:
        return self.data["delivery_error"]

    @property
    def sent(self) -> dict[str, Any] | None:
        return self.data["sent"]


def _parse(order: Order) -> tuple[Any, str | None, int, int]:
    """(parsed amount, unit, duration s, deposit wei), refused before anything is opened."""
    parsed = parse_amount(order.amount)
    unit = order.token or parsed.unit
    if order.token and parsed.unit and parsed.unit.lower() != order.token.lower():
        raise AmountError(f"the amount says {parsed.unit} but --token says {order.token}")
    if parsed.value is None:
        raise AmountError("a packet needs an exact amount, not 'max'")
    duration = parse_duration(order.expires)
    deposit_wei = 0
    if order.deposit:
        given = parse_amount(order.deposit, "ETH")
        if given.value is None or (given.unit or "ETH").upper() != "ETH":
            raise AmountError('the gas deposit is in ETH, e.g. --deposit "0.01 ETH"')
        deposit_wei = to_units(given.value, ETH_DECIMALS, "ETH")
    if not order.to and not order.open:
        raise WalletError(
            "give --to CONTACT|GROUP (authorizations sent in the chat), or --open for a shareable claim code"
        )
    return parsed, unit, duration, deposit_wei


def _contract(chain: Any, net: Any) -> str:
    from contracts import flows

    contract = flows.contract_of(net, creating=True)
    try:
        flows.check_contract(chain, contract)
    except flows.PacketError:
        raise WalletError(
            f"the RedPacket recorded on {net.name} ({contract}) does not have the current contract's code: "
            + (
                "run `hongbao contracts deploy --force`"
                if net.is_local
                else "record the current deployment with `hongbao contracts add red_packet ADDRESS`"
            )
        ) from None
    return contract


def _keep(keeper: Any, plan: Any, key: bytes, to: str | None) -> None:
    keeper.remember(plan, key, to=to)


def create(
    order: Order,
    frontend: Frontend,
    *,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
    fees: Fees | None = None,
) -> Created:
    """`packet create`: each transaction is previewed and confirmed through `frontend`
    (an ERC-20 packet approves the exact total first: a second transaction)."""
    import contextlib

    from contracts import flows, packet_keeper
    from wallet.home import home

    from ..context import chain as connect
    from ..context import network, sending_account
    from .chat import open_messenger

    fees = fees or Fees()
    parsed, unit, duration, deposit_wei = _parse(order)
    wallet, account = sending_account(wallet_name, index)
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    contract = _contract(chain, net)
    coin = None if unit is None or unit.upper() == "ETH" else net.token(unit)
    total = to_units(parsed.value, coin.decimals if coin else ETH_DECIMALS, coin.symbol if coin else "ETH")
    keys = Keys(frontend)

    def key() -> bytes:
        return keys.key(wallet, index)

    with contextlib.ExitStack() as stack:
        messenger = target = None
        to_name = ""  # the contact or group, as shown
        recipients: list[str] = []
        if order.to:  # the chat is checked before any money moves: recipients, their keys, the relay
            messenger = stack.enter_context(open_messenger(wallet_name, index, frontend, key()))
            target = messenger.resolve(order.to)
            to_name = target.name or target.conversation
            recipients = list(target.recipients)
            if not recipients:
                raise WalletError(f"{to_name} has no one else in it to send a packet to")
            for recipient in recipients:
                messenger.bundle_for(recipient, refresh=True)
                messenger.store.check_can_send(recipient)
        plan = flows.plan_create(
            chain.chain_id,
            contract,
            account.address,
            total=total,
            shares=order.shares or len(recipients) or 1,
            duration=duration,
            random=order.random,
            open=order.open,
            token=coin,
            deposit=deposit_wei,
            greeting=order.greeting,
            theme=order.theme,
            recipients=() if order.open else recipients,
        )
        approved = None
        approval = flows.approve_draft(chain, plan)
        if approval is not None:
            frontend.progress(
                f"step 1 of 2: allow the RedPacket contract to take exactly {flows.format_amount(total, coin)}"
            )
            record, receipt = send_tx(chain, approval, frontend, key, fees, question="Approve?")
            approved = record.hash
            if status_of(receipt) != 1:
                raise WalletError(f"the approval {record.hash} reverted; no packet was created")
            frontend.progress("step 2 of 2: create the packet")
        who = (
            "anyone with the claim code, one share per address"
            if plan.open
            else f"{len(recipients)} recipient(s) of {to_name}, one authorization each"
        )
        details = [
            (
                "red packet",
                f"{flows.format_amount(total, coin)} in {plan.params.shares} {'random' if order.random else 'equal'} share(s)",
            ),
            ("for", who),
            ("expires", f"in {flows.describe_wait(duration)} (then the creator may refund the rest)"),
            ("greeting", order.greeting or "-"),
            ("theme", order.theme),
            (
                "gas deposit",
                f"{format_units(deposit_wei, ETH_DECIMALS)} ETH (reimburses claim submitters)"
                if deposit_wei
                else "none",
            ),
            ("packet id", flows.id_hex(plan.packet_id)),
        ]
        keeper = packet_keeper.Keeper(home())
        # the claim key is kept after the confirmation and before the broadcast, and
        # forgotten again if the transaction never lands
        record, receipt = send_tx(
            chain,
            flows.create_draft(plan),
            frontend,
            key,
            fees,
            question="Create the packet?",
            details=details,
            before_send=lambda k: _keep(keeper, plan, k, target.conversation if target else None),
            send_failed=lambda: keeper.forget(plan.packet_id),
        )
        try:
            event = flows.created_in(receipt, plan)
        except flows.PacketError:
            keeper.forget(plan.packet_id)  # reverted: there is no packet to remember
            raise
        keeper.mined(plan.packet_id, record.hash, block_of(receipt))

        sent = None
        delivery_error = None
        if messenger is not None:
            try:
                sent = messenger.send_each(
                    str(order.to), lambda recipient, _index: payload(plan, recipient, event.total)
                )
            except WalletError as error:
                delivery_error = str(error)

    data = {
        "packet_id": flows.id_hex(plan.packet_id),
        "chain_id": plan.chain_id,
        "contract": plan.contract,
        "creator": plan.creator,
        "tx": record.hash,
        "block": block_of(receipt),
        "approve_tx": approved,
        "token": token_json(coin),
        "total": str(event.total),
        "shares": plan.params.shares,
        "random": order.random,
        "open": plan.open,
        "expiry": event.expiry,
        "deposit": str(deposit_wei),
        "fee": str(fee_paid(receipt)),
        "recipients": [{"address": r, "slot": i} for i, r in enumerate(plan.recipients)],
        "code": str(plan.code) if plan.open else None,
        "sent": None
        if sent is None
        else {"conversation": sent.conversation, "message_id": sent.message_id, "recipients": list(sent.envelope_ids)},
        "delivery_error": delivery_error,
    }
    return Created(data, to_name, data["code"])
