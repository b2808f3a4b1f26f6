"""Synthetix StakingRewards over ``wallet.rpc.Rpc``: the farm's terms, a staker's position, calldata."""

from __future__ import annotations

from dataclasses import dataclass

from wallet import address as addr
from wallet.rpc import Rpc

from . import abi

__all__ = ["Farm", "claim_data", "earned", "exit_data", "farm", "stake_data", "staked", "withdraw_data"]


@dataclass(frozen=True)
class Farm:
    address: str
    staking_token: str
    rewards_token: str
    reward_rate: int  # rewards-token base units per second, to all stakers together
    period_finish: int  # unix time the rewards stop
    total_staked: int


def farm(rpc: Rpc, where: str) -> Farm:
    return Farm(
        where,
        addr.parse(abi.read_one(rpc, where, "stakingToken()(address)")),
        addr.parse(abi.read_one(rpc, where, "rewardsToken()(address)")),
        int(abi.read_one(rpc, where, "rewardRate()(uint256)")),
        int(abi.read_one(rpc, where, "periodFinish()(uint256)")),
        int(abi.read_one(rpc, where, "totalSupply()(uint256)")),
    )


def staked(rpc: Rpc, where: str, user: str) -> int:
    return int(abi.read_one(rpc, where, "balanceOf(address)(uint256)", user))


def earned(rpc: Rpc, where: str, user: str, block: str = "latest") -> int:
    return int(abi.read_one(rpc, where, "earned(address)(uint256)", user, block=block))


def stake_data(amount: int) -> bytes:
    return abi.data("stake(uint256)", amount)


def withdraw_data(amount: int) -> bytes:
    return abi.data("withdraw(uint256)", amount)


def claim_data() -> bytes:
    return abi.data("getReward()")


def exit_data() -> bytes:
    return abi.data("exit()")
