"""`hongbao swap AMOUNT FROM TO`: a swap on Uniswap v2 or v3, at the best quote the protocols give."""

from __future__ import annotations

import click

from .defi_cmd import Session, _finish, _say, tx_options
from .defi_steps import run_steps


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
@tx_options
def swap(amount, sell, buy, slippage, via, deadline_text, quote_only, **opts):
    """Swap AMOUNT of SELL for BUY, e.g. `hongbao swap 1 ETH TKN --slippage 0.5%`.

    Quotes come from the protocols themselves (v2 getAmountsOut, v3 QuoterV2 over each fee
    tier); the best one is used. You see the minimum you will receive (the quote less the
    slippage), the price impact (a loud warning above 5%) and the deadline. Selling a token
    first approves exactly AMOUNT to the router (its own preview). ETH is wrapped or unwrapped
    by the router.
    """
    from wallet import calls
    from wallet.amounts import format_units

    from .services import defi

    if quote_only:
        opts["yes"] = True  # nothing is signed: no confirmation to ask for
    session = Session(opts)
    protocols = defi.protocols(session.net, session.chain.rpc)
    plan = defi.plan_swap(
        protocols,
        session.owner,
        amount,
        sell,
        buy,
        slippage=defi.parse_slippage(slippage),
        via=via,
        deadline_s=calls.parse_duration(deadline_text),
        quote_only=quote_only,
    )
    if quote_only:
        data = plan.json()
        if session.as_json:
            _finish(session, data)
        else:
            for q in plan.quotes:
                _say(f"{q.route}: {format_units(q.amount_out, plan.buy.decimals)} {plan.buy.symbol}")
            _say(plan.step.summary)
            for warning in plan.warnings:
                _say(f"WARNING: {warning}")
        return
    done, approved = run_steps(session, [plan.step], plan.approval, plan.warnings)
    receipt = done[-1].receipt or {}
    got = defi.swap_received(plan, receipt, session.owner)
    data = {**plan.json(), "received": str(got), "approve": approved, "swap": done[-1].json()}
    if not session.as_json:
        _say(f"received {format_units(got, plan.buy.decimals)} {plan.buy.symbol}")
    _finish(session, data)
