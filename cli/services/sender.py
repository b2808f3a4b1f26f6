"""One sending account on one network, for the DeFi and trading workflows: every
transaction goes through signing.transact (simulate, prepare, the preview with the local
security rules' findings, the front end's confirmation, unlock, send, wait), so the CLI and
the app show and ask the same. A plan's steps wait for each other and a revert stops them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .signing import Fees, Sent, gas_with_headroom, status_of, transact

if TYPE_CHECKING:
    from wallet.config import Token

    from .frontend import Frontend


@dataclass(frozen=True)
class TxOptions:
    """Which account signs on which network, how its transactions are priced (`fees`), a gas
    limit instead of the estimate (`gas`), and `wait`: False to return once a lone
    transaction is broadcast (a step another depends on is always waited for)."""

    wallet_name: str | None = None
    index: int = 0
    network_name: str | None = None
    fees: Fees = field(default_factory=Fees)
    gas: int | None = None
    wait: bool = True


class Sender:
    """The account of `opts` on its network, checked (chain id) before anything is shown.
    `key`: the account's key when the caller holds it already (a chat that was unlocked);
    else the front end unlocks the wallet once, after the first confirmation."""

    def __init__(self, frontend: Frontend, opts: TxOptions | None = None, *, key: bytes | None = None) -> None:
        from ..context import chain as connect
        from ..context import network, sending_account

        self.frontend = frontend
        self.opts = opts or TxOptions()
        self.wallet, account = sending_account(self.opts.wallet_name, self.opts.index)
        self.owner: str = account.address
        self.net = network(self.opts.network_name)
        self.chain = connect(self.opts.network_name)
        self.chain.verify()
        self.known = {t.address.lower() for t in self.net.tokens.values()}
        self._key = key

    def key(self) -> bytes:
        if self._key is None:
            self._key = self.frontend.unlock(self.wallet).private_key(self.opts.index)
        return self._key

    def send(
        self,
        to: str,
        data: bytes,
        *,
        value: int = 0,
        call: tuple[str, dict[str, Any]] | None = None,
        warnings: Sequence[str] = (),
        summary: str | None = None,
        must_wait: bool = False,
        gas: int | None = None,
    ) -> Sent:
        """One call, previewed with `summary` (a line in words) and confirmed. `must_wait`:
        waited for even without `opts.wait`, and a revert raises (nothing after it is sent)."""
        from wallet import transfers

        sent = transact(
            self.chain,
            transfers.Draft(self.owner, to, value, data, "call"),
            self.frontend,
            self.key,
            self.opts.fees,
            question="Sign and send?",
            details=[("step", summary)] if summary else [],
            gas=self.opts.gas if gas is None else gas,
            call=None if call is None else (call[0], {k: str(v) for k, v in call[1].items()}),
            warnings=warnings,
            known_tokens=self.known,
            wait=must_wait or self.opts.wait,
            packet_errors=False,
        )
        if must_wait and sent.receipt is not None and status_of(sent.receipt) != 1:
            raise WalletError(f"{sent.record.hash} was mined but reverted; nothing after it was sent")
        return sent

    def approve(self, tok: Token, spender: str, units: int, *, must_wait: bool = False) -> Sent:
        """approve(spender, units) on `tok` (0: a revoke), said in words with the allowance now."""
        from wallet import calls, erc20

        from .tokens import spender_name

        current = erc20.allowance(self.chain.rpc, tok.address, self.owner, spender)
        name = spender_name(self.net, spender)
        who = f"{spender} ({name})" if name else spender
        now = calls.format_allowance(current, tok)
        amount = f"ANY amount of {tok.symbol}" if calls.is_unlimited(units) else calls.format_allowance(units, tok)
        summary = f"approve: {who} may spend {amount} from {self.owner} (allowance now {now})"
        if units == 0:
            summary = f"revoke: {who} may no longer spend {tok.symbol} from {self.owner} (allowance now {now})"
        return self.send(tok.address, calls.approve_data(spender, units), summary=summary, must_wait=must_wait)

    def run_steps(
        self, steps: Sequence[Any], approvals: Any, warnings: Sequence[str] | None = None
    ) -> tuple[list[Sent], dict[str, Any] | None]:
        """A plan (cli/services/defi.py): its exact approvals first (an Approval, a list, or
        None), then each step (defi.Step; `warnings` shown with the last); each waits for the
        one before. What was sent, and the (last) approval as JSON."""
        from .tokens import approval_json

        approved = None
        for approval in listed(approvals):
            tok = approval.asset.token
            sent = self.approve(tok, approval.spender, approval.amount, must_wait=True)
            approved = approval_json(tok, approval.spender, approval.amount, sent)
        done = []
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            done.append(
                self.send(
                    step.to,
                    step.data,
                    value=step.value,
                    call=(step.function, step.args),
                    warnings=(warnings or []) if last else [],
                    summary=step.summary,
                    must_wait=True,
                    gas=step_gas(self.chain.rpc, self.owner, step, self.opts.gas),
                )
            )
        return done, approved


def listed(approvals: Any) -> list[Any]:
    """A plan's approvals (one, a list, or None) as a list."""
    return approvals if isinstance(approvals, list) else [approvals] if approvals else []


def step_gas(rpc: Any, owner: str, step: Any, chosen: int | None) -> int | None:
    """The gas limit a plan's step is sent with: the one chosen (--gas), else with the
    step's headroom the estimate plus it (a swap's oracle write), else the estimate (None)."""
    if chosen is not None or not step.headroom:
        return chosen
    return gas_with_headroom(rpc, owner, step.to, step.data, step.value, step.headroom)
