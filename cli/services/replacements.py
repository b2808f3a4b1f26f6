"""Speeding up or cancelling one of our pending transactions, for every front end. The
replacement keeps the original's nonce with higher fees (a cancel is 0 ETH to ourselves:
wallet.transfers.replacement) and goes through the signing pipeline as every send does:
simulated, reviewed by the local security rules, confirmed, signed with the key of the
wallet here that holds the sender's account, sent and recorded as replacing the original."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .signing import DEFAULT_TIMEOUT, Fees, Replacement, Sent, transact

if TYPE_CHECKING:
    from .frontend import Frontend


def key_holder(sender: str) -> tuple[Any, Any]:
    """(wallet, account) of the first wallet here that holds `sender`'s key (not watch-only)."""
    from ..wallets import store

    wallets = store()
    for name in wallets.names():
        wallet = wallets.open(name)
        for account in wallet.accounts:
            if account.address == sender and account.kind != "watch":
                return wallet, account
    raise WalletError(f"no wallet here holds the key of {sender}")


def replace(
    tx_hash: str,
    frontend: Frontend,
    *,
    cancel: bool = False,
    network_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    wait: bool = True,
) -> Sent:
    """Replace our pending `tx_hash` (`cancel`: by a 0 ETH transfer to ourselves). A hash
    that is not one, not ours, already mined or whose nonce is used is one WalletError;
    nothing is asked before the replacement is built."""
    from wallet import transfers

    from ..context import chain as connect
    from ..context import history, network

    net = network(network_name)
    chain = connect(network_name)
    prepared, nonce, original = transfers.replacement(chain, history(), tx_hash, cancel=cancel)
    wallet, account = key_holder(prepared.draft.sender)
    how = "a 0 ETH transfer to yourself, higher fees" if cancel else "the same transaction, higher fees"
    return transact(
        chain,
        Replacement(prepared, nonce, original),
        frontend,
        lambda: frontend.unlock(wallet).private_key(account.index),
        Fees(timeout=timeout),
        question="Sign and send the replacement?",
        details=[("replaces", f"{original} (nonce {nonce})"), ("with", how)],
        known_tokens={t.address.lower() for t in net.tokens.values()},
        wait=wait,
    )
