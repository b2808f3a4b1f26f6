"""DeFi actions for a front end other than the CLI's (the app): a plan's exact approvals and
steps (cli/services/defi.py, lending.py, liquidity.py) sent one by one through
signing.send_tx, each previewed (decoded call, the security rules) and confirmed through
the Frontend; each waits for the one before and a revert stops the rest. (The CLI's
commands run the same plans through defi_cmd.Session, which `swap` shares.)"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .signing import Fees, Keys, gas_with_headroom, send_tx, status_of

if TYPE_CHECKING:
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
) -> list[dict[str, Any]]:
    """Send `approvals` (an Approval, a list, or None) then `steps` (defi.Step); the sent
    transactions' JSON (hash, status, block, fee...), in order."""
    from wallet import calls, transfers

    from ..context import chain as connect
    from ..context import network, sending_account
    from ..txview import sent_json

    fees = fees or Fees()
    wallet, account = sending_account(wallet_name, index)
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    keys = Keys(frontend)
    known = {t.address.lower() for t in net.tokens.values()}
    todo: list[tuple[Any, tuple[str, dict[str, str]] | None, str, int | None, list[str]]] = []
    for approval in approvals if isinstance(approvals, list) else [approvals] if approvals else []:
        tok = approval.asset.token
        data = calls.approve_data(approval.spender, approval.amount)
        summary = f"approve: {approval.spender} may spend {calls.format_allowance(approval.amount, tok)}"
        todo.append((transfers.Draft(account.address, tok.address, 0, data, "call"), None, summary, None, []))
    for i, step in enumerate(steps):
        gas = None
        if step.headroom:
            gas = gas_with_headroom(chain.rpc, account.address, step.to, step.data, step.value, step.headroom)
        draft = transfers.Draft(account.address, step.to, step.value, step.data, "call")
        last = i == len(steps) - 1
        todo.append((draft, (step.function, step.args), step.summary, gas, (warnings or []) if last else []))
    done = []
    for draft, call, summary, gas, step_warnings in todo:
        record, receipt = send_tx(
            chain,
            draft,
            frontend,
            lambda: keys.key(wallet, index),
            fees,
            question="Sign and send?",
            details=[("step", summary)],
            gas=gas,
            call=call,
            warnings=step_warnings,
            known_tokens=known,
        )
        done.append(sent_json(record, receipt))
        if status_of(receipt) != 1:
            raise WalletError(f"{record.hash} was mined but reverted; nothing after it was sent")
    return done


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
) -> dict[str, Any]:
    """`lend supply|withdraw|borrow|repay` on the recorded Aave market: the plan's JSON, the
    health factor after, the transactions."""
    from ..context import chain as connect
    from ..context import network, sending_account
    from . import defi, lending

    _wallet, account = sending_account(wallet_name, index)
    chain = connect(network_name)
    protocols = defi.protocols(network(network_name), chain.rpc)
    plan = lending.plan_lend(
        protocols, account.address, action, asset, amount, margin=margin or defi.DEFAULT_MARGIN, force=force
    )
    sent = run_plan(
        plan.steps,
        plan.approval,
        frontend,
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
        fees=fees,
        warnings=plan.warnings,
    )
    after = defi.aave.account(protocols.rpc, protocols.market(), account.address)
    return {**plan.json(), "health_factor": lending.hf_words(after.health_factor), "transactions": sent}
