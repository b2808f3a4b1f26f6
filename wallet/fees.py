"""EIP-1559 fee suggestions from `eth_feeHistory`, and replacement bumps. Pure but for `fetch`."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .rpc import Rpc, to_int

SPEEDS = ("slow", "normal", "fast")
PERCENTILES = (10, 50, 90)
HISTORY_BLOCKS = 10
REPLACEMENT_BUMP = (9, 8)  # +12.5%: above geth's 10% replacement rule, like MetaMask


@dataclass(frozen=True, slots=True)
class Fees:
    max_fee: int
    priority_fee: int


@dataclass(frozen=True, slots=True)
class FeeQuote:
    base_fee: int  # the next block's base fee
    tiers: dict[str, Fees]

    def expected_cost(self, gas: int, fees: Fees) -> int:
        """What a tx likely pays: min(max fee, base + tip) per gas."""
        return gas * min(fees.max_fee, self.base_fee + fees.priority_fee)


def quote(history: dict[str, Any], fallback_tip: int) -> FeeQuote:
    """Tiers from the 10th/50th/90th percentile tips of recent blocks.

    max fee = 2 x next base fee + tip: room for six full blocks of base-fee growth
    (+12.5% each) before the tx stops being includable.
    """
    base_fee = to_int(history["baseFeePerGas"][-1])
    rewards = [[to_int(r) for r in block] for block in history.get("reward") or []]
    ratios = history.get("gasUsedRatio") or []
    # Each block's tips are paired with its own gas-used ratio before blocks without tips are
    # dropped (dropping first shifted the pairs). Not strict: a node may leave the ratios out.
    busy = [r for r, used in zip(rewards, ratios, strict=False) if r and used and used > 0]
    busy = busy or [r for r in rewards if r]
    tiers = {}
    for i, speed in enumerate(SPEEDS):
        tips = [r[i] for r in busy if len(r) > i]
        tip = int(statistics.median(tips)) if tips and any(tips) else fallback_tip
        tiers[speed] = Fees(2 * base_fee + tip, tip)
    return FeeQuote(base_fee, tiers)


def fetch(rpc: Rpc) -> FeeQuote:
    history, tip = rpc.batch(
        [
            ("eth_feeHistory", [hex(HISTORY_BLOCKS), "latest", list(PERCENTILES)]),
            ("eth_maxPriorityFeePerGas", []),
        ]
    )
    return quote(history, to_int(tip))


def bump(old: Fees, current: Fees) -> Fees:
    """Fees for a replacement: at least +12.5% on both fields, and no less than today's."""
    num, den = REPLACEMENT_BUMP
    tip = max(-(-old.priority_fee * num // den) + 1, current.priority_fee)
    max_fee = max(-(-old.max_fee * num // den) + 1, current.max_fee, tip)
    return Fees(max_fee, tip)
