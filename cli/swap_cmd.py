"""`hongbao swap AMOUNT FROM TO`: a swap on Uniswap v2 or v3, at the best quote the protocols give."""

from __future__ import annotations

from dataclasses import dataclass

import click

from wallet.errors import WalletError

from . import names
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
    from wallet import calls
    from wallet.amounts import format_units

    from .services import defi

    if quote_only:
        opts["yes"] = True  # nothing is signed: no confirmation to ask for
    if notify and (to is None or opts["no_wait"]):
        raise WalletError("--notify tells the recipient after the receipt: give --to and drop --no-wait")
    session = Session(opts)
    recipient = names.address(to, session.owner) if to else None
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
        recipient=recipient,
        use_permit=not no_permit,
    )
    if quote_only:
        return _show_quotes(session, plan)
    if plan.recipient != session.owner:
        _review_recipient(session, plan, allow_risky)
    step = _sign_permit(session, protocols, plan) if plan.permit else plan.step
    done, approved = run_steps(session, [step], plan.approval, plan.warnings)
    receipt = done[-1].receipt or {}
    got = defi.swap_received(plan, receipt)
    data = {**plan.json(), "received": str(got), "approve": approved, "swap": done[-1].json()}
    if not session.as_json:
        whom = "" if plan.recipient == session.owner else f" (paid to {plan.recipient})"
        _say(f"received {format_units(got, plan.buy.decimals)} {plan.buy.symbol}{whom}")
    if notify:
        data.update(_notify_payout(session, protocols, done[-1].record.hash, receipt, note))
    _finish(session, data)


def _show_quotes(session, plan) -> None:
    from wallet.amounts import format_units

    if session.as_json:
        return _finish(session, plan.json())
    for q in plan.quotes:
        _say(f"{q.route}: {format_units(q.amount_out, plan.buy.decimals)} {plan.buy.symbol}")
    _say(plan.step.summary)
    if plan.permit:
        _say(f"{plan.sell.symbol} has an EIP-2612 permit: it would be signed, not approved")
    for warning in plan.warnings:
        _say(f"WARNING: {warning}")


def _review_recipient(session, plan, allow_risky: bool) -> None:
    """The security rules for whoever the output goes to (a lookalike of someone you know, a
    first payment, a token contract), as `send` applies them to its recipient."""
    from .context import history
    from .security import decide
    from .services.security import recipient_facts

    facts = recipient_facts(session.chain, history(), session.owner, plan.recipient, token=not plan.buy.is_eth)
    decide(facts, yes=session.opts["yes"], allow=allow_risky, quiet=session.as_json)


def _sign_permit(session, protocols, plan):
    """Show the permit, confirm, unlock and sign it: the swap step that carries it (its own
    preview, simulation and confirmation follow, as for any transaction)."""
    from wallet import signing

    from .context import confirm
    from .defi_cmd import _grid
    from .services import defi

    if not session.as_json:
        _say(plan.step.summary)
        _grid(plan.permit.rows())
    confirm(session.opts["yes"], "Sign this permit (it is sent only inside the swap)?")
    signature = signing.sign_typed_data(session.key(), plan.permit.typed)
    return defi.permitted_step(protocols, plan, signature)


@dataclass(frozen=True)
class _Paid:
    """What `money_cmd._notify` reads from a sent record, for a swap's proven payout."""

    hash: str
    token: str | None
    token_amount: int
    value: int


def _notify_payout(session, protocols, tx_hash: str, receipt: dict, note_text: str) -> dict:
    from .money_cmd import _notify
    from .output import note
    from .services import defi

    try:
        paid = defi.swap_payout(protocols, tx_hash, receipt)
    except WalletError as error:  # the swap is done: say why no notice went, do not fail
        note(f"[yellow]swap confirmed, but no notice was sent: {error}[/]")
        return {"notified": False, "notify_error": str(error)}
    record = _Paid(tx_hash, paid.token, paid.amount, paid.amount)
    return _notify(session.key(), paid.recipient, record, receipt, session.net.chain_id, note_text)
