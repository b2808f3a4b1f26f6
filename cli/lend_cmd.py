"""`hongbao lend supply|withdraw|borrow|repay ASSET AMOUNT` and `lend status`: Aave v3."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click

from wallet.errors import WalletError

from .context import network_option
from .defi_cmd import _finish, _say, tx_inputs, tx_options
from .output import emit, json_option, table
from .wallet_cmd import index_option, wallet_option

MARGIN_ENV = "HONGBAO_HF_MARGIN"
margin_option = click.option(
    "--margin",
    "margin_text",
    envvar=MARGIN_ENV,
    default="1.2",
    show_default=True,
    help=f"The lowest health factor a borrow or withdrawal may leave (or ${MARGIN_ENV}).",
)


def _margin(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise WalletError(f"--margin {text!r} is not a number (e.g. 1.2)") from None
    if value < 1:
        raise WalletError(f"--margin {text} is below 1.0, where Aave liquidates: give 1.0 or more")
    return value


@click.group()
def lend() -> None:
    """Aave v3: supply, withdraw, borrow, repay, status."""


def _action(action: str):
    @click.argument("asset")
    @click.argument("amount")
    @margin_option
    @click.option("--force", is_flag=True, help="Go below the safety margin (never below 1.0).")
    @tx_options
    def command(asset, amount, margin_text, force, **opts):
        from .services import defi_actions

        frontend, tx = tx_inputs(opts)
        data = defi_actions.lend(
            action, asset, amount, frontend, margin=_margin(margin_text), force=force, opts=tx, approval_apart=True
        )
        shown = data.pop("amount_formatted")
        if not opts["as_json"]:
            _say(f"{action}: {shown} done; health factor now {data['health_factor']}")
        _finish(opts, data)

    command.__doc__ = {
        "supply": "Supply AMOUNT of ASSET (ETH is wrapped to WETH first) to earn interest and back borrows.",
        "withdraw": "Withdraw AMOUNT (or `max`) of ASSET; refused if the health factor would fall below --margin.",
        "borrow": "Borrow AMOUNT of ASSET at the variable rate; refused if the health factor would fall below --margin.",
        "repay": "Repay AMOUNT (or `max`) of your ASSET debt.",
    }[action]
    return lend.command(action)(command)


for _name in ("supply", "withdraw", "borrow", "repay"):
    _action(_name)


@lend.command()
@click.argument("address", required=False)
@margin_option
@wallet_option
@index_option
@network_option
@json_option
def status(address, margin_text, wallet_name, index, network_name, as_json):
    """Collateral, debt, health factor, liquidation prices and APYs, from the protocol."""
    from .services import lending
    from .services.defi_actions import reader

    owner, net, protocols = reader(address, wallet_name, index, network_name)
    data = lending.lend_status(protocols, owner, _margin(margin_text))

    def human() -> None:
        rows = [
            ["collateral", f"${data['collateral_usd']}"],
            ["debt", f"${data['debt_usd']}"],
            ["can borrow", f"${data['available_to_borrow_usd']}"],
            ["health factor", data["health_factor"] or "no debt"],
        ]
        rows += [[f"liquidation price {k}", f"${v}"] for k, v in data["liquidation_price_usd"].items()]
        table(f"Aave position of {owner} on {net.name}", ["", ""], rows)
        table(
            None,
            ["asset", "price", "supplied", "debt", "supply APY", "borrow APY"],
            [
                [
                    r["asset"],
                    f"${r['price_usd']}",
                    r["supplied_formatted"],
                    r["debt_formatted"],
                    f"{Decimal(r['supply_apy']) * 100:.2f}%",
                    f"{Decimal(r['borrow_apy']) * 100:.2f}%",
                ]
                for r in data["reserves"]
            ],
        )
        if data["below_margin"]:
            _say(
                f"WARNING: your health factor {data['health_factor']} is below the safety margin {data['margin']}: repay or supply more"
            )

    emit(as_json, data, human)
