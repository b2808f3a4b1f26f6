"""Sending money, for every front end: ETH or a token to an address or a contact, simulated
and previewed (decoded call, balance change, fee, the local security rules' findings)
before the wallet is unlocked; then, with `notify`, a payment notice in the chat that the
recipient's wallet checks against the chain (and that may name the request it pays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wallet.amounts import AmountError, parse_amount
from wallet.errors import WalletError

from .signing import Fees, Keys, transact

if TYPE_CHECKING:
    from .frontend import Frontend


@dataclass(frozen=True)
class Payment:
    """`to`: an address or a contact name; `amount`: "1.5" (ETH), "250 TKN", "max";
    `token`: a symbol or address when the amount has no unit. `notify`: a payment notice
    after the receipt (`note` in it; `request_id`: the request it pays). `wait`: False to
    return once broadcast (no notice then). `gas`: a gas limit instead of the estimate."""

    to: str
    amount: str
    token: str | None = None
    notify: bool = False
    note: str = ""
    request_id: str | None = None
    wait: bool = True
    gas: int | None = None


@dataclass
class Paid:
    """The transaction (wallet.history record), its receipt (None when not waited for),
    the explorer link, and what became of the notice: {"notified": bool, ...} or None;
    `notice_problem`: a line for people when it was not sent."""

    record: Any
    receipt: dict[str, Any] | None
    explorer_link: str | None
    notice: dict[str, Any] | None = None
    notice_problem: str | None = None


def pay(
    payment: Payment,
    frontend: Frontend,
    *,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
    fees: Fees | None = None,
    key: bytes | None = None,
) -> Paid:
    """`send` (and `pay`, with the request's id and the `key` it unlocked already), through
    `signing.transact` (a plain transfer: no packet errors to translate)."""
    from wallet import transfers

    from .. import names
    from ..context import chain as connect
    from ..context import sending_account

    if payment.notify and not payment.wait:
        raise WalletError("--notify sends the notice after the receipt: drop --no-wait")
    fees = fees or Fees()
    parsed = parse_amount(payment.amount)
    unit = payment.token or parsed.unit
    if payment.token and parsed.unit and parsed.unit.lower() != payment.token.lower():
        raise AmountError(f"the amount says {parsed.unit} but the token argument says {payment.token}")
    fees.overrides()  # a malformed fee cap is refused before any wallet or network work
    wallet, account = sending_account(wallet_name, index)
    to = names.address(payment.to, account.address)
    chain = connect(network_name)
    chain.verify()
    net = chain.network
    if unit is None or unit.upper() == "ETH":
        draft = transfers.eth_transfer(account.address, to, parsed)
    else:
        draft = transfers.token_transfer(chain, account.address, to, parsed, net.token(unit))
    keys = Keys(frontend)

    def signer() -> bytes:  # after the confirmation (transact asks then), and again for the notice
        return key or keys.key(wallet, index)

    sent = transact(
        chain,
        draft,
        frontend,
        signer,
        fees,
        question="Sign and send?",
        gas=payment.gas,
        known_tokens={t.address.lower() for t in net.tokens.values()},
        wait=payment.wait,
        packet_errors=False,
    )
    paid = Paid(sent.record, sent.receipt, sent.link)
    if payment.notify and sent.receipt is not None:
        paid.notice, paid.notice_problem = notify(
            signer(), to, sent.record, sent.receipt, net.chain_id, payment.note, payment.request_id
        )
    return paid


def notify(
    key: bytes, recipient: str, record: Any, receipt: dict[str, Any], chain_id: int, note: str, request_id: str | None
) -> tuple[dict[str, Any], str | None]:
    """Send a payment notice through the chat. The money has moved by now, so a failure here
    is reported (a line for people, and `notified: false`), not raised."""
    from messaging import payloads
    from messaging.chat import Messenger
    from wallet.home import home
    from wallet.rpc import to_int

    from .chat import send_or_keep

    if to_int(receipt.get("status")) != 1:
        return {"notified": False, "notify_error": "the transaction failed; no notice sent"}, None
    amount = record.token_amount if record.token else record.value
    notice = payloads.Payment(chain_id, record.hash, str(amount), record.token, note, request_id=request_id)
    try:
        with Messenger.open(home(), key) as messenger:
            _sent, kept = send_or_keep(messenger, recipient, notice)
    except WalletError as error:
        return {
            "notified": False,
            "notify_error": str(error),
        }, f"payment confirmed, but the notice was not sent: {error}"
    if kept is not None:
        return {"notified": False, "notice": "pending", "notify_error": kept.relay_error}, (
            "payment confirmed; the notice is kept and will be sent when the relay answers (hongbao chat inbox retries)"
        )
    return {"notified": True, **({"request_id": request_id} if request_id else {})}, None
