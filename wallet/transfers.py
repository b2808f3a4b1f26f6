"""Transactions from draft to receipt: check, price, simulate, sign, send, wait, replace.

The order of checks is the user's: the chain is the configured one; the amount is there;
the call would not revert (and why it would); the fee fits. Only then is anything signed.
Nonces come from the node's pending count and our own history, under a file lock, so
two sends in a row (or in parallel) never take the same nonce.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import erc20, fees, locks, signing
from .amounts import ETH_DECIMALS, Amount, AmountError, format_units, to_units
from .chain import Chain
from .config import Token
from .errors import WalletError
from .fees import FeeQuote, Fees
from .rpc import RpcError, is_revert, revert_data, to_int

if TYPE_CHECKING:
    from .history import History, SentTx

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
GAS_MARGIN = (6, 5)  # estimate x 1.2: state can shift between estimate and inclusion
PLAIN_TRANSFER_GAS = 21_000


class InsufficientFunds(WalletError):
    pass


class Reverted(WalletError):
    pass


class NonceTooLow(WalletError):
    pass


class ReplacementUnderpriced(WalletError):
    pass


class NotReplaceable(WalletError):
    pass


class ReceiptTimeout(WalletError):
    pass


@dataclass
class Draft:
    sender: str
    to: str | None
    value: int = 0
    data: bytes = b""
    kind: str = "transfer"
    token: Token | None = None
    token_amount: int | None = None
    send_max: bool = False  # ETH "max": the balance less the most the fee can be


def eth_transfer(sender: str, to: str, amount: Amount) -> Draft:
    if amount.value is None:  # "max"
        return Draft(sender, to, send_max=True)
    return Draft(sender, to, to_units(amount.value, ETH_DECIMALS, "ETH"))


def token_transfer(chain: Chain, sender: str, to: str, amount: Amount, token: Token) -> Draft:
    held = erc20.balance_of(chain.rpc, token.address, sender)
    units = held if amount.value is None else to_units(amount.value, token.decimals, token.symbol)
    if units == 0:
        raise AmountError(f"nothing to send: the amount is 0 {token.symbol}")
    if units > held:
        raise InsufficientFunds(
            f"insufficient {token.symbol}: sending {format_units(units, token.decimals)}, have {format_units(held, token.decimals)}"
        )
    return Draft(sender, token.address, 0, erc20.transfer_data(to, units), "token-transfer", token, units)


@dataclass
class Prepared:
    draft: Draft
    value: int
    gas: int
    fees: Fees  # (the field shadows the module here: the classes are imported by name)
    quote: FeeQuote
    balance: int
    chain_id: int
    decoded: erc20.DecodedCall | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def max_fee_cost(self) -> int:
        return self.gas * self.fees.max_fee

    @property
    def expected_fee(self) -> int:
        return self.quote.expected_cost(self.gas, self.fees)

    def tx(self, nonce: int) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": self.gas,
            "maxFeePerGas": self.fees.max_fee,
            "maxPriorityFeePerGas": self.fees.priority_fee,
            "value": self.value,
            "data": self.draft.data,
        }
        if self.draft.to is not None:
            tx["to"] = self.draft.to
        return tx


def choose_fees(quote: fees.FeeQuote, speed: str, max_fee: int | None, tip: int | None) -> fees.Fees:
    if speed not in quote.tiers:
        raise WalletError(f"unknown speed {speed!r}; choose slow, normal or fast")
    tier = quote.tiers[speed]
    if tip is None:
        tip = tier.priority_fee if max_fee is None else min(tier.priority_fee, max_fee)
    if max_fee is None:
        max_fee = 2 * quote.base_fee + tip
    if tip > max_fee:
        raise WalletError("the tip (--tip) cannot exceed the max fee (--max-fee)")
    if max_fee < quote.base_fee:
        raise WalletError(
            f"--max-fee {format_units(max_fee, 9)} gwei is below the current base fee {format_units(quote.base_fee, 9)} gwei: the tx could not be included"
        )
    return fees.Fees(max_fee, tip)


def _call_object(draft: Draft, value: int, gas: int | None = None) -> dict[str, str]:
    call = {"from": draft.sender, "value": hex(value), "data": "0x" + draft.data.hex()}
    if draft.to is not None:
        call["to"] = draft.to
    if gas is not None:
        call["gas"] = hex(gas)
    return call


def simulate(
    chain: Chain,
    draft: Draft,
    value: int,
    block: str = "pending",
    explain: Callable[[bytes | None], str] | None = None,
) -> None:
    """eth_call the tx as it would run now (on `block`); Reverted with the reason if it fails,
    in words by `explain` (a contract's own errors; default: Error(string), Panic, selector)."""
    try:
        chain.rpc.call("eth_call", _call_object(draft, value), block)
    except RpcError as error:
        if is_revert(error):
            from .abi import revert_reason

            reason = (explain or revert_reason)(revert_data(error))
            raise Reverted(f"the transaction would fail ({reason}); nothing was sent") from None
        raise


def _need(amount: int, fee: int, balance: int, what: str) -> InsufficientFunds:
    return InsufficientFunds(
        f"insufficient funds: {what} needs {format_units(amount + fee, ETH_DECIMALS)} ETH "
        f"({format_units(amount, ETH_DECIMALS)} + up to {format_units(fee, ETH_DECIMALS)} fee), "
        f"have {format_units(balance, ETH_DECIMALS)} ETH"
    )


def prepare(
    chain: Chain,
    draft: Draft,
    *,
    speed: str = "normal",
    max_fee: int | None = None,
    tip: int | None = None,
    gas: int | None = None,
    explain: Callable[[bytes | None], str] | None = None,
) -> Prepared:
    """`draft` checked against the balance, simulated (a revert explained by `explain`, see
    `simulate`), its gas estimated and its fees chosen."""
    chain.verify()
    quote = fees.fetch(chain.rpc)
    chosen = choose_fees(quote, speed, max_fee, tip)
    balance = chain.balance(draft.sender, "pending")
    plain = draft.to is not None and not draft.data and not chain.code(draft.to)
    value = draft.value
    if draft.send_max:
        gas = gas or (PLAIN_TRANSFER_GAS if plain else None)
        if gas is None:
            raise WalletError(
                "'max' is for plain ETH transfers to an ordinary address; give an exact amount for a contract"
            )
        value = balance - gas * chosen.max_fee
        if value <= 0:
            raise _need(0, gas * chosen.max_fee, balance, "sending the maximum")
    elif value > balance:
        raise InsufficientFunds(
            f"insufficient funds: sending {format_units(value, ETH_DECIMALS)} ETH (plus the fee), have {format_units(balance, ETH_DECIMALS)} ETH"
        )
    simulate(chain, draft, value, explain=explain)
    if gas is None:
        estimate = to_int(chain.rpc.call("eth_estimateGas", _call_object(draft, value), "pending"))
        gas = estimate if plain else -(-estimate * GAS_MARGIN[0] // GAS_MARGIN[1])
    if value + gas * chosen.max_fee > balance:
        raise _need(value, gas * chosen.max_fee, balance, "this transaction")
    return Prepared(draft, value, gas, chosen, quote, balance, chain.chain_id, *_decoded(draft))


def _decoded(draft: Draft) -> tuple[erc20.DecodedCall | None, list[str]]:
    """The call decoded for the preview, and the warnings it earns (an unlimited approval)."""
    decoded = erc20.decode_call(draft.data) if draft.data else None
    warnings = []
    approving = decoded.args["amount"] if decoded is not None and decoded.function == "approve" else 0
    if decoded is not None and isinstance(approving, int) and approving >= 2**255:
        warnings.append(
            f"UNLIMITED APPROVAL: {decoded.args['spender']} could take every token of this kind you hold, now or later"
        )
    return decoded, warnings


# -- sending ------------------------------------------------------------------------------


def nonce_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """One sender of transactions at a time per home (processes included)."""
    return locks.exclusive(path)


def broadcast(chain: Chain, raw: bytes) -> None:
    try:
        chain.rpc.call("eth_sendRawTransaction", "0x" + raw.hex())
    except RpcError as error:
        message = error.rpc_message.lower()
        if "already known" in message:
            return  # the same signed bytes are already in the pool
        if "nonce too low" in message:
            raise NonceTooLow(
                "nonce too low: that nonce is already used on chain; the wallet's history was behind, run the command again"
            ) from None
        if "underpriced" in message:
            raise ReplacementUnderpriced(
                "replacement transaction underpriced: the node wants higher fees to replace it; retry with --max-fee/--tip higher"
            ) from None
        if "insufficient funds" in message:
            raise InsufficientFunds("insufficient funds for gas * price + value (the node refused it)") from None
        raise WalletError(f"the node refused the transaction: {error.rpc_message}") from None


def next_nonce(chain: Chain, history: History, sender: str) -> int:
    """max(node's pending count, our highest live nonce + 1), rebroadcasting what the node forgot."""
    pending_count = to_int(chain.rpc.call("eth_getTransactionCount", sender, "pending"))
    for tx in history.pending(chain.chain_id, sender):
        if tx.nonce >= pending_count and tx.raw:
            with contextlib.suppress(WalletError):
                broadcast(chain, bytes.fromhex(tx.raw[2:]))
    local = history.highest_nonce(chain.chain_id, sender)
    return max(pending_count, local + 1 if local is not None else 0)


# Checks every transaction passes before it is signed: (chain id, sender, tx) -> None, or a
# WalletError that stops it. The CLI installs its own (cli/guards.py): the unlock session's
# spend limit and the second factor past the daily limit.
Guard = Callable[[int, str, dict[str, Any]], None]
GUARDS: list[Guard] = []


def send(
    chain: Chain,
    prepared: Prepared,
    private_key: bytes,
    history: History,
    *,
    lock_path: Path,
    now: Callable[[], float] = time.time,
    nonce: int | None = None,
    replaces: str | None = None,
) -> SentTx:
    from .history import SentTx

    draft = prepared.draft
    for guard in GUARDS:  # before the nonce lock: a guard may ask the person something
        guard(chain.chain_id, draft.sender, prepared.tx(nonce or 0))
    with nonce_lock(lock_path):
        if nonce is None:
            nonce = next_nonce(chain, history, draft.sender)
        signed = signing.sign_transaction(private_key, prepared.tx(nonce))
        if signed.sender != draft.sender:
            raise WalletError("the signing key does not belong to the sending account")
        broadcast(chain, signed.raw)
        record = SentTx(
            chain_id=chain.chain_id,
            hash="0x" + signed.hash.hex(),
            sender=draft.sender,
            nonce=nonce,
            to=draft.to,
            value=prepared.value,
            data="0x" + draft.data.hex(),
            gas_limit=prepared.gas,
            max_fee_per_gas=prepared.fees.max_fee,
            max_priority_fee_per_gas=prepared.fees.priority_fee,
            gas_price=None,
            kind=draft.kind,
            token=draft.token.address if draft.token else None,
            token_amount=draft.token_amount,
            replaces=replaces,
            raw="0x" + signed.raw.hex(),
            status="pending",
            created_at=int(now()),
        )
        history.record_sent(record)
    return record


def wait_for_receipt(
    chain: Chain,
    tx_hash: str,
    history: History | None = None,
    *,
    timeout: float = 120.0,
    tick: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Poll for the receipt (no fixed sleep: a short, growing back-off with a deadline)."""
    start = time.monotonic()
    delay = 0.02
    while True:
        receipt: dict[str, Any] | None = chain.rpc.call("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            if history is not None:
                record_receipt(chain, history, tx_hash, receipt)
            return receipt
        elapsed = time.monotonic() - start
        if tick is not None:
            tick(elapsed)
        if elapsed > timeout:
            raise ReceiptTimeout(
                f"{tx_hash} is not mined after {timeout:.0f} s; it is still pending: `hongbao tx show {tx_hash}`, or `hongbao tx speed-up {tx_hash}`"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def record_receipt(chain: Chain, history: History, tx_hash: str, receipt: dict[str, Any]) -> None:
    status = "confirmed" if to_int(receipt.get("status")) == 1 else "failed"
    history.set_status(
        chain.chain_id,
        tx_hash,
        status,
        block=to_int(receipt["blockNumber"]),
        gas_used=to_int(receipt["gasUsed"]),
        effective_gas_price=to_int(receipt.get("effectiveGasPrice")),
    )
    sent = history.get_sent(chain.chain_id, tx_hash)
    if sent is not None and sent.replaces:
        history.mark_replaced(chain.chain_id, sent.replaces)
    block = chain.rpc.call("eth_getBlockByNumber", receipt["blockNumber"], False)
    if block is not None:  # the block's time is the history's clock; the logs say what moved
        logs = (receipt.get("logs") or []) if status == "confirmed" else []
        history.record_mined(chain.chain_id, tx_hash, to_int(receipt["blockNumber"]), to_int(block["timestamp"]), logs)


# -- replacing ------------------------------------------------------------------------------


def parse_tx_hash(text: str) -> str:
    """`text` as a transaction hash (lower case), or a WalletError that quotes it inert."""
    if not TX_HASH.match(text):
        raise WalletError(f"{text!r} is not a transaction hash: expected 0x followed by 64 hex digits")
    return text.lower()


def replacement(chain: Chain, history: History, tx_hash: str, *, cancel: bool) -> tuple[Prepared, int, str]:
    """A draft that takes the place of our pending `tx_hash`: (prepared, nonce, original
    hash), simulated and decoded as `prepare` does."""
    tx_hash = parse_tx_hash(tx_hash)
    chain.verify()
    original = history.get_sent(chain.chain_id, tx_hash)
    if original is None:
        raise NotReplaceable(
            f"{tx_hash} is not a transaction this wallet sent on {chain.network.name}; only your own pending transactions can be replaced"
        )
    receipt = chain.rpc.call("eth_getTransactionReceipt", tx_hash)
    if receipt is not None:
        record_receipt(chain, history, tx_hash, receipt)
        raise NotReplaceable(
            f"{tx_hash} is already mined (block {to_int(receipt['blockNumber'])}); there is nothing to replace"
        )
    mined_count = to_int(chain.rpc.call("eth_getTransactionCount", original.sender, "latest"))
    if original.nonce < mined_count:
        raise NotReplaceable(
            f"nonce {original.nonce} of {original.sender} is already used by another mined transaction; {tx_hash} can no longer be mined"
        )
    quote = fees.fetch(chain.rpc)
    old = fees.Fees(
        original.max_fee_per_gas or original.gas_price or 0,
        original.max_priority_fee_per_gas or original.gas_price or 0,
    )
    new = fees.bump(old, quote.tiers["fast"])
    if cancel:
        draft = Draft(original.sender, original.sender, 0, b"", "cancel")
        gas = PLAIN_TRANSFER_GAS
    else:
        data = bytes.fromhex(original.data[2:]) if original.data else b""
        draft = Draft(original.sender, original.to, original.value, data, "speed-up")
        gas = original.gas_limit
    balance = chain.balance(original.sender, "latest")
    prepared = Prepared(draft, draft.value, gas, new, quote, balance, chain.chain_id, *_decoded(draft))
    if draft.value + gas * new.max_fee > balance:
        raise _need(draft.value, gas * new.max_fee, balance, "the replacement")
    if not cancel:
        # On "latest", not "pending": the replacement runs in the original's place, not
        # after it (with earlier nonces still pending this is an approximation).
        try:
            simulate(chain, draft, draft.value, "latest")
        except Reverted as error:
            raise Reverted(f"{error} (`hongbao tx cancel {tx_hash}` frees its nonce)") from None
    return prepared, original.nonce, original.hash
