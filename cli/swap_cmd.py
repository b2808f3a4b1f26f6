"""`hongbao swap AMOUNT FROM TO`: a swap on Uniswap v2 or v3, at the best quote the protocols give."""

from __future__ import annotations

import click

from .defi_cmd import _finish, _say, tx_inputs, tx_options


@click.command()
@click.argument("amount")
@click.argument("sell")
@click.argument("buy")
@click.option("--slippage", default="0.5%", show_default=True, help="How far below the quote the swap may pay out.")
@click.option(
    "--via", type=click.Choice(["best", "v2", "v3"]), default="best", show_default=True, help="Which Uniswap to use."
)
@click.option("--deadline", "deadline_text", default="20m", show_default=True, help="How long the swap stays valid.")
@click.option("--quote-only", is_flag=True, help="Show the quotes and the route; send nothing.")
@click.option("--to", "to", default=None, help="Pay the output to this address or contact (the router's `to`).")
@click.option("--notify", is_flag=True, help="After the receipt, tell the recipient in the chat (a payment notice).")
@click.option("--note", default="", help="A short note for the payment notice.")
@click.option("--no-permit", is_flag=True, help="Approve the input exactly (a transaction) even if it has a permit.")
@click.option(
    "--allow-risky", is_flag=True, help="With --yes and --to: pay even a lookalike address or a token contract."
)
@tx_options
def swap(amount, sell, buy, slippage, via, deadline_text, quote_only, to, notify, note, no_permit, allow_risky, **opts):
    """Swap AMOUNT of SELL for BUY, e.g. `hongbao swap 1 ETH TKN --slippage 0.5%`.

    Quotes come from the protocols themselves (v2 getAmountsOut, v3 QuoterV2 over each fee
    tier); the best one is used. You see the minimum you will receive (the quote less the
    slippage), the price impact (a loud warning above 5%) and the deadline. Selling a token
    through Uniswap v3 that has an EIP-2612 permit signs a permit for exactly AMOUNT, sent in
    the same transaction as the swap (router multicall: selfPermit + swap), so no allowance is
    left; otherwise (and always on v2, whose router takes no permit) AMOUNT is approved exactly
    first (its own preview). ETH is wrapped or unwrapped by the router. `--to bob --notify`
    pays the output to Bob and sends him a payment notice, which his client checks against
    the chain (wallet/swap_proof.py).
    """
    from .inert import markup
    from .output import note as say_note
    from .services import defi_actions

    if quote_only:
        opts["yes"] = True  # nothing is signed: no confirmation to ask for
    order = defi_actions.SwapOrder(amount, sell, buy, slippage, via, deadline_text, to, notify, note, not no_permit)
    frontend, tx = tx_inputs(opts, allow_risky=allow_risky)
    if quote_only:
        return _show_quotes(opts, defi_actions.quote(order, frontend, tx))
    data = defi_actions.swap(order, frontend, tx)
    problem, received = data.pop("notify_problem", None), data.pop("received_formatted")
    if not opts["as_json"]:
        whom = "" if data["recipient"] == data["swap"]["from"] else f" (paid to {data['recipient']})"
        _say(f"received {received}{whom}")
    if problem:
        say_note(markup(problem) if data.get("notice") == "pending" else f"[yellow]{markup(problem)}[/]")
    _finish(opts, data)


def _show_quotes(opts: dict, plan) -> None:
    from wallet.amounts import format_units

    if opts["as_json"]:
        return _finish(opts, plan.json())
    for q in plan.quotes:
        _say(f"{q.route}: {format_units(q.amount_out, plan.buy.decimals)} {plan.buy.symbol}")
    _say(plan.step.summary)
    if plan.permit:
        _say(f"{plan.sell.symbol} has an EIP-2612 permit: it would be signed, not approved")
    for warning in plan.warnings:
        _say(f"WARNING: {warning}")
