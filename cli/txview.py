"""Showing a transaction before it is signed, and what became of it after."""

from __future__ import annotations

import click

from wallet.amounts import ETH_DECIMALS, format_units

from .names import labelled
from .output import console
from .services.signing import sent_json, waiting


def _eth(wei: int) -> str:
    return f"{format_units(wei, ETH_DECIMALS)} ETH"


def preview_json(prepared) -> dict:
    draft = prepared.draft
    data = {
        "from": draft.sender,
        "to": draft.to,
        "kind": draft.kind,
        "value": str(prepared.value),
        "gas": prepared.gas,
        "max_fee_per_gas": str(prepared.fees.max_fee),
        "max_priority_fee_per_gas": str(prepared.fees.priority_fee),
        "expected_fee": str(prepared.expected_fee),
        "max_fee": str(prepared.max_fee_cost),
        "balance": str(prepared.balance),
        "warnings": prepared.warnings,
    }
    if prepared.decoded:
        data["call"] = {
            "function": prepared.decoded.function,
            "args": {k: str(v) for k, v in prepared.decoded.args.items()},
        }
    if draft.token:
        data["token"] = {
            "symbol": draft.token.symbol,
            "address": draft.token.address,
            "amount": str(draft.token_amount),
        }
    return data


def show_preview(prepared, network_name: str) -> None:
    """The decoded call, the balance change and the fee, on stderr (stdout stays for results)."""
    from rich.table import Table
    from rich.text import Text  # names and decoded arguments are shown inert, never as markup

    draft = prepared.draft
    out = console(stderr=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("network", f"{network_name} (chain id {prepared.chain_id})")
    grid.add_row("from", Text(labelled(draft.sender)))
    if draft.token is not None:
        grid.add_row(
            "call",
            Text(
                f"{draft.token.symbol}.transfer(to={labelled(prepared.decoded.args['to'])}, amount={format_units(draft.token_amount, draft.token.decimals)} {draft.token.symbol})"
            ),
        )
        grid.add_row("token contract", draft.token.address)
    elif prepared.decoded is not None:
        args = ", ".join(f"{k}={v}" for k, v in prepared.decoded.args.items())
        grid.add_row("to (contract)", Text(labelled(draft.to)))
        grid.add_row("call", f"{prepared.decoded.function}({args})")
    else:
        grid.add_row("to", Text(labelled(draft.to) or "(new contract)"))
        if draft.data:
            grid.add_row("data", f"0x{draft.data[:4].hex()}... ({len(draft.data)} bytes, not decoded)")
    grid.add_row(
        "sends",
        _eth(prepared.value)
        if draft.token is None
        else f"{format_units(draft.token_amount, draft.token.decimals)} {draft.token.symbol}",
    )
    grid.add_row(
        "fee",
        f"~{_eth(prepared.expected_fee)} (at most {_eth(prepared.max_fee_cost)}; gas {prepared.gas:,}, max {format_units(prepared.fees.max_fee, 9)} gwei, tip {format_units(prepared.fees.priority_fee, 9)} gwei)",
    )
    worst = prepared.value + prepared.max_fee_cost
    change = f"-{_eth(prepared.value + prepared.expected_fee)} (at most -{_eth(worst)})"
    if draft.token is not None:
        change = f"-{format_units(draft.token_amount, draft.token.decimals)} {draft.token.symbol}, " + change
    grid.add_row("balance change", change)
    grid.add_row("simulation", "ok (eth_call succeeded)")
    out.print(grid)
    for warning in prepared.warnings:
        out.print(f"[bold red on white] WARNING [/] [bold red]{warning}[/]")


def describe_receipt(receipt: dict) -> str:
    from wallet.rpc import to_int

    status = "confirmed" if to_int(receipt.get("status")) == 1 else "FAILED (reverted)"
    fee = to_int(receipt["gasUsed"]) * to_int(receipt.get("effectiveGasPrice"))
    return (
        f"{status} in block {to_int(receipt['blockNumber'])}, gas used {to_int(receipt['gasUsed']):,}, fee {_eth(fee)}"
    )


def wait_with_progress(chain, tx_hash: str, history, timeout: float, quiet: bool) -> dict:
    """The receipt, under a spinner on stderr (in the services' words: signing.waiting)."""
    from wallet.transfers import wait_for_receipt

    if quiet:
        return wait_for_receipt(chain, tx_hash, history, timeout=timeout)
    from rich.status import Status

    with Status(waiting(tx_hash), console=console(stderr=True)) as status:
        return wait_for_receipt(
            chain, tx_hash, history, timeout=timeout, tick=lambda s: status.update(waiting(tx_hash, s))
        )


def report_sent(
    as_json: bool, record, receipt: dict | None, explorer_link: str | None, extra: dict | None = None
) -> None:
    from .output import emit

    def human() -> None:
        click.echo(record.hash)
        if receipt is not None:
            console(stderr=True).print(describe_receipt(receipt))
        else:
            console(stderr=True).print(f"sent (nonce {record.nonce}); follow it with `hongbao tx show {record.hash}`")
        if explorer_link:
            console(stderr=True).print(explorer_link)
        if extra and extra.get("notified"):
            console(stderr=True).print("payment notice sent to the recipient's chat")

    emit(as_json, {**sent_json(record, receipt), **(extra or {})}, human)
