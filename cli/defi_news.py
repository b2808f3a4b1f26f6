"""The DeFi side of `chat watch`: an alert when the Aave health factor falls below the margin."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from wallet.errors import WalletError

MARGIN_ENV = "HONGBAO_HF_MARGIN"


class DefiNews:
    """Polled with the chain news; silent where no Aave market is recorded or the chain is down."""

    def __init__(self, address: str, network_name: str | None) -> None:
        from .services import defi, lending

        self.address, self.network_name = address, network_name
        try:
            margin = Decimal(os.environ.get(MARGIN_ENV) or defi.DEFAULT_MARGIN)
        except InvalidOperation:
            margin = defi.DEFAULT_MARGIN
        self.watch = lending.HealthWatch(margin)

    def poll(self) -> list[dict]:
        from .context import chain as connect
        from .services import defi

        try:
            chain = connect(self.network_name)
        except WalletError:
            return []
        try:
            if not chain.network.contracts.get("aave_addresses_provider"):
                return []
            chain.verify()
            event = self.watch.poll(defi.protocols(chain.network, chain.rpc), self.address)
        except WalletError:
            return []  # the chain news already says when the chain cannot be read
        finally:
            chain.close()
        return [event] if event else []
