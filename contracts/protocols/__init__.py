"""Real DeFi protocols on any chain: Uniswap v2/v3, Aave v3 and Synthetix StakingRewards.

Their compiled contracts come from the npm packages pinned in package.json and are read from
``node_modules`` when the local chain needs them deployed (``npm.load``); nothing of theirs is
copied into ``contracts/artifacts/`` or the wheel (GPL and BUSL-derived licences). The
bindings (``uniswap``, ``aave``, ``staking``) need only addresses and an ``Rpc``, so the same
code runs against the real deployments once their addresses are recorded.
"""
