"""Taking back a red packet after its expiry (creator only): what is left and the unused
gas deposit, previewed and confirmed through the front end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.amounts import ETH_DECIMALS, format_units

from .packet_claim import amount_text, record
from .packet_create import token_json
from .packet_views import mine
from .signing import Fees, Keys, KeySource, fee_paid, send_tx

if TYPE_CHECKING:
    from .frontend import Frontend


def refund(
    packet: str,
    frontend: Frontend,
    *,
    wallet_name: str | None = None,
    index: int | None = None,
    network_name: str | None = None,
    fees: Fees | None = None,
    keys: KeySource | None = None,
) -> dict[str, Any]:
    """`packet refund`: `packet` a full id or a prefix of one created here; `index`: the
    creator's account (default: the one that created it here, else 0). The JSON of
    `packet refund --json` (amount, deposit, formatted, tx, fee...)."""
    from contracts import flows

    from ..context import chain as connect
    from ..context import sending_account
    from ..wallets import open_wallet

    keys = keys or Keys(frontend)
    chain = connect(network_name)
    chain.verify()
    contract, packet_id, kept = mine(packet, chain)
    wallet = open_wallet(wallet_name)
    if index is None:
        index = next((a.index for a in wallet.accounts if kept and a.address == kept.creator), 0)
    wallet, account = sending_account(wallet.name, index)
    report = flows.check_refund(chain, contract, packet_id, account.address)
    coin = flows.token_of(chain, report.state.token)
    details = [
        (
            "you receive",
            f"packet {flows.id_hex(packet_id)[:18]}...: {amount_text(report.state.remaining, coin)} left"
            + (
                f" + {format_units(report.state.deposit, ETH_DECIMALS)} ETH gas deposit" if report.state.deposit else ""
            ),
        ),
        ("expired", flows.utc(report.state.expiry)),
    ]
    creator_index = index
    tx, receipt = send_tx(
        chain,
        flows.refund_draft(contract, packet_id, account.address),
        frontend,
        lambda: keys.key(wallet, creator_index),
        fees or Fees(),
        question="Refund?",
        details=details,
    )
    event = flows.refunded_in(receipt, contract, packet_id)
    record(chain, account.address, contract, packet_id)
    return {
        "packet_id": flows.id_hex(packet_id),
        "creator": account.address,
        "amount": str(event.amount),
        "deposit": str(event.deposit),
        "formatted": amount_text(event.amount, coin),
        "token": token_json(coin),
        "tx": tx.hash,
        "fee": str(fee_paid(receipt)),
    }
