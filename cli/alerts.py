"""Alerts for `chat watch` and `security check` (wallet/alerts.py): the account's new blocks
since the last look (the cursor is kept in HONGBAO_HOME/alerts.json, so nothing is told
twice across runs), thresholds from `hongbao security alerts`."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from wallet import atomic
from wallet.errors import WalletError
from wallet.home import home

if TYPE_CHECKING:
    from wallet.chain import Chain

FILE = "alerts.json"


def _load() -> dict[str, Any]:
    with contextlib.suppress(FileNotFoundError, ValueError, OSError):
        data = json.loads((home() / FILE).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}


class ChainAlerts:
    def __init__(self, address: str, network_name: str | None, cursor: str = "") -> None:
        """`cursor`: whose position in the chain (`chat watch`'s, or the unlock session's)."""
        self.address, self.network_name, self.cursor = address, network_name, cursor
        self.chain: Chain | None = None
        self.failing = False

    def poll(self) -> list[dict[str, Any]]:
        from wallet import alerts, second_factor

        from .context import chain as connect
        from .context import history

        try:
            if self.chain is None:
                self.chain = connect(self.network_name)
            chain = self.chain
            settings = second_factor.load(home())
            thresholds = alerts.Thresholds(settings.alerts.get("incoming_above"), settings.alerts.get("balance_below"))
            key = f"{chain.chain_id}:{self.address}" + (f":{self.cursor}" if self.cursor else "")
            state = _load()
            mine = state.get(key, {})
            latest = int(chain.rpc.call("eth_blockNumber"), 16)
            start = int(mine["block"]) + 1 if "block" in mine else latest + 1  # the first look: from now on
            end = min(latest, start + alerts.MAX_BLOCKS - 1)
            log = history()
            found = []
            if start <= end:
                found = alerts.scan(
                    chain.rpc,
                    self.address,
                    start,
                    end,
                    lambda h: log.get_sent(chain.chain_id, h) is not None,
                    thresholds,
                )
            low_alert, low = alerts.balance_alert(chain.balance(self.address), thresholds, bool(mine.get("low")))
            if low_alert is not None:
                found.append(low_alert)
            state = _load()
            state[key] = {"block": max(end, start - 1), "low": low}
            atomic.write_bytes(home() / FILE, json.dumps(state).encode())
        except WalletError:
            self.failing = True
            return []
        self.failing = False
        return [a.to_json() for a in found]
