"""The local faucet, for every front end: ETH from anvil's first dev account, or a mint of a
token whose `mint` is open to anyone (the test token of `token deploy-test`). It goes
through the signing pipeline (signing.transact) like every transaction, but signs with
anvil's public dev key: nothing of the person's is spent, so nothing is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .signing import Fees, Sent, transact, wait

if TYPE_CHECKING:
    from wallet.chain import Chain
    from wallet.history import History
    from wallet.keyring import UnlockedWallet, Wallet

    from .frontend import Frontend, Preview

TIMEOUT = 60.0  # seconds: the local chain mines at once


class _DevAccount:
    """The faucet's front end: the preview passes unasked (the dev account pays); progress
    and the receipt's wait are the person's front end's."""

    def __init__(self, frontend: Frontend) -> None:
        self.frontend = frontend

    def confirm(self, preview: Preview) -> None:
        pass

    def password(self, label: str) -> str:
        raise WalletError("the faucet asks for no password")

    def progress(self, text: str) -> None:
        self.frontend.progress(text)

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        raise WalletError("the faucet signs with anvil's dev key only")

    def wait_for_receipt(self, chain: Chain, tx_hash: str, history: History, timeout: float) -> dict[str, Any]:
        return wait(self.frontend, chain, tx_hash, history, timeout)


def fund(address: str, amount: str, frontend: Frontend, *, network_name: str | None = None, wait: bool = True) -> Sent:
    """Send `amount` ("10": ETH, "100 TKN": a mint of that token) to `address` (or a contact)
    on the local network; the transaction sent (not waited for unless `wait`)."""
    from contracts import token as test_token
    from wallet import localchain, transfers
    from wallet.amounts import AmountError, parse_amount, to_units

    from .. import names
    from ..context import chain as connect
    from ..context import network

    who = names.address(address)
    net = network(network_name)
    if not net.is_local:
        raise WalletError(
            f"the faucet only works on the local network, not {net.name!r} (its funds come from anvil's public dev keys)"
        )
    parsed = parse_amount(amount, "ETH")
    if parsed.is_max or parsed.value is None:
        raise AmountError('the faucet gives an exact amount, e.g. `hongbao faucet 0x... 10` or `"100 TKN"`')
    chain = connect(network_name)
    unit = (parsed.unit or "ETH").upper()
    if unit == "ETH":
        draft = transfers.eth_transfer(localchain.DEV_ADDRESS, who, parsed)
    else:
        tok = net.token(parsed.unit or "")
        units = to_units(parsed.value, tok.decimals, tok.symbol)
        draft = transfers.Draft(localchain.DEV_ADDRESS, tok.address, 0, test_token.mint_data(who, units), "call")
    try:
        return transact(
            chain,
            draft,
            _DevAccount(frontend),
            lambda: localchain.DEV_KEY,
            Fees(timeout=TIMEOUT),
            question="Fund from the local faucet?",
            wait=wait,
            packet_errors=False,
        )
    except transfers.Reverted as error:
        if unit == "ETH":
            raise
        raise WalletError(
            f"{parsed.unit} cannot be minted here ({error}): the faucet mints only the test token of `hongbao token deploy-test`"
        ) from None
