"""DeFi actions for every front end: lend, stake, pool add/remove, swap (optionally paid to
someone, with a payment notice). A plan's exact approvals and steps (cli/services/defi.py,
lending.py, liquidity.py) go one by one through cli/services/sender.py (signing.transact),
each previewed (decoded call, the security rules) and confirmed through the Frontend;
each waits for the one before and a revert stops the rest."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .sender import Sender, TxOptions, listed
from .signing import Fees

if TYPE_CHECKING:
    from .defi import Protocols, SwapPermit, SwapPlan
    from .frontend import Frontend


def run_plan(
    steps: list[Any],
    approvals: Any,
    frontend: Frontend,
    *,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
    fees: Fees | None = None,
    warnings: list[str] | None = None,
    gas: int | None = None,
) -> list[dict[str, Any]]:
    """Send `approvals` (an Approval, a list, or None) then `steps` (defi.Step); the sent
    transactions' JSON (hash, status, block, fee...), in order."""
    sender = Sender(frontend, TxOptions(wallet_name, index, network_name, fees or Fees(), gas))
    return _sent_plan(sender, steps, approvals, warnings)


def _sent_plan(sender: Sender, steps: list[Any], approvals: Any, warnings: list[str] | None) -> list[dict[str, Any]]:
    """Every transaction of the plan (its approvals too), as JSON, in order."""
    approved = [sender.approve(a.asset.token, a.spender, a.amount, must_wait=True).json() for a in listed(approvals)]
    done, _ = sender.run_steps(steps, None, warnings)
    return approved + [s.json() for s in done]


def reader(
    address: str | None, wallet_name: str | None, index: int, network_name: str | None
) -> tuple[str, Any, Protocols]:
    """(owner, network, protocols) for a read-only DeFi view: ADDRESS or the wallet's account."""
    from wallet import address as addr

    from ..context import chain as connect
    from ..context import network
    from ..wallets import open_wallet
    from . import defi

    owner = addr.parse(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    return owner, net, defi.protocols(net, chain.rpc)


def lend(
    action: str,
    asset: str,
    amount: str,
    frontend: Frontend,
    *,
    margin: Decimal | None = None,
    force: bool = False,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
    fees: Fees | None = None,
    opts: TxOptions | None = None,
    approval_apart: bool = False,
) -> dict[str, Any]:
    """`lend supply|withdraw|borrow|repay` on the recorded Aave market: the plan's JSON, the
    health factor after, the transactions (approvals first). `opts` (gas, no wait) instead
    of the account keywords; `approval_apart`: the last approval as "approve" and only the
    plan's steps in "transactions" (the CLI's shape)."""
    from . import defi, lending

    sender = Sender(frontend, opts or TxOptions(wallet_name, index, network_name, fees or Fees()))
    protocols = defi.protocols(sender.net, sender.chain.rpc)
    plan = lending.plan_lend(
        protocols, sender.owner, action, asset, amount, margin=margin or defi.DEFAULT_MARGIN, force=force
    )
    if approval_apart:
        done, approved = sender.run_steps(plan.steps, plan.approval, plan.warnings)
        sent = {"approve": approved, "transactions": [s.json() for s in done]}
    else:
        sent = {"transactions": _sent_plan(sender, plan.steps, plan.approval, plan.warnings)}
    after = defi.aave.account(protocols.rpc, protocols.market(), sender.owner)
    return {
        **plan.json(),
        "amount_formatted": plan.asset.fmt(plan.amount),
        "health_factor": lending.hf_words(after.health_factor),
        **sent,
    }


def stake(action: str, amount: str | None, frontend: Frontend, opts: TxOptions) -> dict[str, Any]:
    """`stake deposit|withdraw|claim|exit` on the recorded farm: the plan's facts, the farm as
    it stands after ("after"), the approval and the transactions."""
    from . import defi

    sender = Sender(frontend, opts)
    protocols = defi.protocols(sender.net, sender.chain.rpc)
    steps, approval, info = defi.plan_stake(protocols, sender.owner, action, amount)
    done, approved = sender.run_steps(steps, approval)
    after = defi.stake_status(protocols, sender.owner)
    return {**info, "after": after, "approve": approved, "transactions": [s.json() for s in done]}


def pool_add(
    amount: str,
    a: str,
    b: str,
    frontend: Frontend,
    opts: TxOptions,
    *,
    version: str = "v2",
    fee: int = 3000,
    slippage: str = "0.5%",
) -> dict[str, Any]:
    """AMOUNT of A and what the pool's price asks of B into Uniswap `version` (each token
    approved exactly first); the liquidity after ("after") and the transactions."""
    from . import defi, liquidity

    sender = Sender(frontend, opts)
    protocols = defi.protocols(sender.net, sender.chain.rpc)
    steps, approvals, info = liquidity.plan_pool_add(
        protocols, sender.owner, amount, a, b, version=version, fee=fee, slippage=defi.parse_slippage(slippage)
    )
    done, _ = sender.run_steps(steps, approvals)
    after = liquidity.pool_list(protocols, sender.owner)
    return {**info, "after": after, "transactions": [s.json() for s in done]}


def pool_remove(
    a: str | None,
    b: str | None,
    frontend: Frontend,
    opts: TxOptions,
    *,
    percent: Decimal = Decimal(100),
    token_id: int | None = None,
    slippage: str = "0.5%",
) -> dict[str, Any]:
    """`percent` of a v2 pair's shares (A, B), or a v3 position (`token_id`), taken out."""
    from . import defi, liquidity

    sender = Sender(frontend, opts)
    protocols = defi.protocols(sender.net, sender.chain.rpc)
    steps, approvals, info = liquidity.plan_pool_remove(
        protocols, sender.owner, a, b, percent=percent, token_id=token_id, slippage=defi.parse_slippage(slippage)
    )
    done, _ = sender.run_steps(steps, approvals)
    return {**info, "transactions": [s.json() for s in done]}


@dataclass(frozen=True)
class SwapOrder:
    """A swap as asked: AMOUNT of `sell` for `buy`, at most `slippage` below the quote, `via`
    best|v2|v3, valid for `deadline`; paid to `to` (an address or a contact; default: me),
    with `notify` a payment notice to them after the receipt (`note` in it); `use_permit`:
    sign an EIP-2612 permit instead of an approval when the route and the token allow it."""

    amount: str
    sell: str
    buy: str
    slippage: str = "0.5%"
    via: str = "best"
    deadline: str = "20m"
    to: str | None = None
    notify: bool = False
    note: str = ""
    use_permit: bool = True


def swap_plan(order: SwapOrder, sender: Sender, *, quote_only: bool = False) -> tuple[Protocols, SwapPlan]:
    """The protocols and the plan for `order` from `sender`'s account (quotes, route, the
    approval or permit, warnings); nothing is signed."""
    from wallet import calls

    from .. import names
    from . import defi

    recipient = names.address(order.to, sender.owner) if order.to else None
    protocols = defi.protocols(sender.net, sender.chain.rpc)
    plan = defi.plan_swap(
        protocols,
        sender.owner,
        order.amount,
        order.sell,
        order.buy,
        slippage=defi.parse_slippage(order.slippage),
        via=order.via,
        deadline_s=calls.parse_duration(order.deadline),
        quote_only=quote_only,
        recipient=recipient,
        use_permit=order.use_permit,
    )
    return protocols, plan


def quote(order: SwapOrder, frontend: Frontend, opts: TxOptions) -> SwapPlan:
    """The quotes and the route `swap` would take (nothing is signed)."""
    return swap_plan(order, Sender(frontend, opts), quote_only=True)[1]


def swap(order: SwapOrder, frontend: Frontend, opts: TxOptions, *, key: bytes | None = None) -> dict[str, Any]:
    """The swap: the recipient's security findings first (when not me), the permit signed or
    the input approved exactly, the swap; what it paid ("received"), and with `notify` what
    became of the notice ("notified", and "notify_problem": a line for people when it failed)."""
    from . import defi

    if order.notify and (order.to is None or not opts.wait):
        raise WalletError("--notify tells the recipient after the receipt: give --to and drop --no-wait")
    sender = Sender(frontend, opts, key=key)
    protocols, plan = swap_plan(order, sender)
    if plan.recipient != sender.owner:
        _review_recipient(sender, plan)
    step = _sign_permit(sender, protocols, plan, plan.permit) if plan.permit else plan.step
    done, approved = sender.run_steps([step], plan.approval, plan.warnings)
    receipt = done[-1].receipt or {}
    got = defi.swap_received(plan, receipt)
    data = {
        **plan.json(),
        "received": str(got),
        "received_formatted": plan.buy.fmt(got),
        "approve": approved,
        "swap": done[-1].json(),
    }
    if order.notify:
        data.update(_notify_payout(sender, protocols, done[-1].record.hash, receipt, order.note))
    return data


def _review_recipient(sender: Sender, plan: SwapPlan) -> None:
    """The security rules for whoever the output goes to (a lookalike of someone you know, a
    first payment, a token contract), as `send` applies them to its recipient: shown and
    asked before anything is signed."""
    from wallet.security_rules import assess

    from ..context import history
    from .frontend import Preview
    from .security import recipient_facts

    facts = recipient_facts(sender.chain, history(), sender.owner, plan.recipient, token=not plan.buy.is_eth)
    findings = assess(facts)
    if findings:
        title = f"Pay the swap's output to {plan.recipient}?"
        sender.frontend.confirm(Preview(title, findings=findings, recipient=facts.recipient))


def _sign_permit(sender: Sender, protocols: Protocols, plan: SwapPlan, permit: SwapPermit) -> Any:
    """Show the permit, confirm, unlock and sign it: the swap step that carries it (its own
    preview, simulation and confirmation follow, as for any transaction)."""
    from wallet import signing

    from . import defi
    from .frontend import Preview

    rows = [("step", plan.step.summary)] + [(k, v) for k, v in permit.rows()]
    sender.frontend.confirm(Preview("Sign this permit (it is sent only inside the swap)?", rows))
    signature = signing.sign_typed_data(sender.key(), permit.typed)
    return defi.permitted_step(protocols, plan, signature)


@dataclass(frozen=True)
class _Paid:
    """What payments.notify reads from a sent record, for a swap's proven payout."""

    hash: str
    token: str | None
    token_amount: int
    value: int


def _notify_payout(
    sender: Sender, protocols: Protocols, tx_hash: str, receipt: dict[str, Any], note: str
) -> dict[str, Any]:
    """A payment notice for what the swap provably paid (wallet/swap_proof.py); the swap is
    done, so a problem is reported in the result, never raised."""
    from . import defi, payments

    try:
        paid = defi.swap_payout(protocols, tx_hash, receipt)
    except WalletError as error:
        said = f"swap confirmed, but no notice was sent: {error}"
        return {"notified": False, "notify_error": str(error), "notify_problem": said}
    record = _Paid(tx_hash, paid.token, paid.amount, paid.amount)
    notice, problem = payments.notify(sender.key(), paid.recipient, record, receipt, sender.net.chain_id, note, None)
    return {**notice, **({"notify_problem": problem} if problem else {})}
