"""The ``[networks.<name>.contracts]`` keys of the DeFi protocols (what `defi deploy` records
and `contracts add` accepts). Imports nothing, so the CLI can list them without loading web3."""

from __future__ import annotations

__all__ = ["CONTRACT_KEYS"]

CONTRACT_KEYS = (
    "weth",
    "uniswap_v2_factory",
    "uniswap_v2_router",
    "uniswap_v3_factory",
    "uniswap_v3_positions",
    "uniswap_v3_router",
    "uniswap_v3_quoter",
    "aave_addresses_provider",
    "staking_rewards",
    "seaport",
)
