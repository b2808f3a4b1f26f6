"""One transaction from a workflow: simulate, prepare, preview and confirm through the
front end, unlock, send, wait. The services that sign (packets, replacements, ...) go
through `transact` or `send_tx`, so every front end shows the same preview and asks the
same question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, cast

from .frontend import Preview

if TYPE_CHECKING:
    from wallet.chain import Chain
    from wallet.history import History

    from .frontend import Frontend

DEFAULT_TIMEOUT = 120.0
P = ParamSpec("P")


@dataclass(frozen=True)
class Fees:
    """How to price a transaction: speed slow|normal|fast, optional caps in gwei (text, as
    typed), and how long to wait for it to be mined (seconds)."""

    speed: str = "normal"
    max_fee: str | None = None
    tip: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def overrides(self) -> tuple[int | None, int | None]:
        from wallet.amounts import parse_gwei

        return (parse_gwei(self.max_fee) if self.max_fee else None, parse_gwei(self.tip) if self.tip else None)


def waiting(tx_hash: str, seconds: float | None = None) -> str:
    """The words of a receipt wait, in every front end (a progress line, the CLI's spinner)."""
    return f"waiting for {tx_hash[:10]}... to be mined" + ("" if seconds is None else f" ({seconds:.0f} s)")


def wait(frontend: Frontend, chain: Chain, tx_hash: str, history: History, timeout: float) -> dict[str, Any]:
    """The receipt; the front end's own `wait_for_receipt(chain, tx_hash, history, timeout)`
    when it has one (a spinner), else progress reports every tick."""
    own = getattr(frontend, "wait_for_receipt", None)
    if own is not None:
        receipt: dict[str, Any] = own(chain, tx_hash, history, timeout)
        return receipt
    from wallet.transfers import wait_for_receipt

    return wait_for_receipt(
        chain, tx_hash, history, timeout=timeout, tick=lambda s: frontend.progress(waiting(tx_hash, s))
    )


_receipt = wait  # (`transact` has a parameter of that name)


@dataclass
class Sent:
    """A sent transaction: what was previewed (wallet.transfers.Prepared), the history
    record, its receipt (None when not waited for) and the explorer link."""

    prepared: Any
    record: Any
    receipt: dict[str, Any] | None
    link: str | None

    def json(self) -> dict[str, Any]:
        """hash, status, block, fee... (sent_json), the warnings and the decoded call."""
        data: dict[str, Any] = sent_json(self.record, self.receipt)
        data["warnings"] = list(self.prepared.warnings)
        decoded = self.prepared.decoded
        if decoded is not None:
            data["call"] = {"function": decoded.function, "args": {k: str(v) for k, v in decoded.args.items()}}
        return data


@dataclass(frozen=True)
class Replacement:
    """A transaction prepared to take the place of our pending `original` (its hash, the
    history's `replaces`) with the original's `nonce`: wallet.transfers.replacement's,
    simulated and priced (fees bumped) already."""

    prepared: Any
    nonce: int
    original: str


def transact(
    chain: Chain,
    draft: Any,
    frontend: Frontend,
    key: Callable[[], bytes],
    fees: Fees,
    *,
    question: str,
    details: Sequence[tuple[str, str]] = (),
    gas: int | None = None,
    before_send: Callable[[bytes], None] | None = None,
    send_failed: Callable[[], None] | None = None,
    call: tuple[str, dict[str, str]] | None = None,
    warnings: Sequence[str] = (),
    known_tokens: set[str] | None = None,
    wait: bool = True,
    packet_errors: bool = True,
) -> Sent:
    """Simulate `draft` (with `packet_errors`, RedPacket's errors in words), prepare it (`gas`:
    a limit instead of the estimate), ask the front end to confirm `question` over `details`
    and the decoded transaction (Preview.tx), obtain the key (`key()`: after the
    confirmation), send, and unless not `wait`, wait for the receipt. The front end's
    optional `sent(record, receipt, link)` hears of it then (the CLI reports it there).
    `before_send(key)` runs between the confirmation and the broadcast (e.g. keep a packet's
    claim key), `send_failed()` if the broadcast fails. `call` = (function, {label: value})
    names a call the decoder does not know; with `known_tokens` (lower-case addresses) the
    local security rules' findings go in the preview too.

    `draft` may be a `Replacement` (speed-up, cancel): it is prepared already (only
    `fees.timeout` counts), is sent with its nonce and recorded as replacing its original,
    and its security review leaves that nonce's own attempts out of what the history vouches for."""
    from contracts import redpacket
    from wallet import transfers
    from wallet.errors import WalletError

    from ..context import history, nonce_lock_path

    nonce: int | None = None
    replaces: str | None = None
    if isinstance(draft, Replacement):
        prepared, nonce, replaces = draft.prepared, draft.nonce, draft.original
    else:
        max_fee, tip = fees.overrides()
        explain = redpacket.explain_revert if packet_errors else None
        prepared = transfers.prepare(chain, draft, speed=fees.speed, max_fee=max_fee, tip=tip, gas=gas, explain=explain)
    if call is not None and prepared.decoded is None:
        from wallet import erc20

        prepared.decoded = erc20.DecodedCall(call[0], dict(call[1]))
    prepared.warnings.extend(warnings)
    findings: list[Any] = []
    recipient = None
    if known_tokens is not None:
        from wallet.security_rules import assess

        from .security import gather

        facts = gather(chain, prepared, history(), known_tokens, replacing=nonce)
        findings, recipient = assess(facts), facts.recipient
    frontend.confirm(
        Preview(
            question,
            list(details),
            list(prepared.warnings),
            tx=prepared,
            network=chain.network.name,
            findings=findings,
            recipient=recipient,
        )
    )
    private_key = key()
    if before_send is not None:
        before_send(private_key)
    try:
        record = transfers.send(
            chain, prepared, private_key, history(), lock_path=nonce_lock_path(), nonce=nonce, replaces=replaces
        )
    except WalletError:
        if send_failed is not None:
            send_failed()
        raise
    receipt = _receipt(frontend, chain, record.hash, history(), fees.timeout) if wait else None
    sent = Sent(prepared, record, receipt, chain.network.explorer_link(record.hash))
    told = getattr(frontend, "sent", None)
    if told is not None:
        told(record, receipt, sent.link)
    return sent


def _record_and_receipt(send: Callable[P, Sent]) -> Callable[P, tuple[Any, dict[str, Any]]]:
    def sent_pair(*args: P.args, **kwargs: P.kwargs) -> tuple[Any, dict[str, Any]]:
        sent = send(*args, **kwargs)
        return sent.record, cast("dict[str, Any]", sent.receipt)

    return sent_pair


send_tx = _record_and_receipt(transact)
"""`transact`'s (record, receipt), for the workflows that wait (the packets')."""


class KeySource(Protocol):
    def key(self, wallet: Any, index: int, *, other: bool = False) -> bytes:
        """Account `index`'s key; `other`: a second wallet of this workflow (a claim's submitter)."""


class Keys:
    """Wallets unlocked at most once per workflow (through the front end), and only when a
    key is needed."""

    def __init__(self, frontend: Frontend) -> None:
        self.frontend = frontend
        self._open: dict[str, Any] = {}

    def key(self, wallet: Any, index: int, *, other: bool = False) -> bytes:
        if wallet.name not in self._open:
            self._open[wallet.name] = self.frontend.unlock(wallet)
        key: bytes = self._open[wallet.name].private_key(index)
        return key


def status_of(receipt: dict[str, Any]) -> int:
    from wallet.rpc import to_int

    return to_int(receipt.get("status"))


def block_of(receipt: dict[str, Any]) -> int:
    from wallet.rpc import to_int

    return to_int(receipt["blockNumber"])


def fee_paid(receipt: dict[str, Any]) -> int:
    from wallet.rpc import to_int

    return to_int(receipt["gasUsed"]) * to_int(receipt.get("effectiveGasPrice"))


def gas_with_headroom(rpc: Any, owner: str, to: str, data: bytes, value: int, headroom: int) -> int | None:
    """The estimate x 1.2 (as `send` allows) plus `headroom`; None if it cannot be
    estimated (the simulation then says why)."""
    from wallet.rpc import RpcError, to_int
    from wallet.transfers import GAS_MARGIN

    call = {"from": owner, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
    try:
        estimate = to_int(rpc.call("eth_estimateGas", call, "pending"))
    except RpcError:
        return None
    return -(-estimate * GAS_MARGIN[0] // GAS_MARGIN[1]) + headroom


def sent_json(record: Any, receipt: dict[str, Any] | None) -> dict[str, Any]:
    """A sent transaction as JSON: hash, from, to, nonce, value, status (pending, confirmed,
    failed) and, once mined, block, gas used and fee."""
    from wallet.rpc import to_int

    data: dict[str, Any] = {
        "hash": record.hash,
        "from": record.sender,
        "to": record.to,
        "nonce": record.nonce,
        "value": str(record.value),
        "kind": record.kind,
        "status": "pending",
    }
    if record.token:
        data.update(token=record.token, token_amount=str(record.token_amount))
    if record.replaces:
        data["replaces"] = record.replaces
    if receipt is not None:
        data.update(
            status="confirmed" if to_int(receipt.get("status")) == 1 else "failed",
            block=to_int(receipt["blockNumber"]),
            gas_used=to_int(receipt["gasUsed"]),
            fee=str(to_int(receipt["gasUsed"]) * to_int(receipt.get("effectiveGasPrice"))),
        )
    return data
