"""The first block mined at or after a moment, by binary search over block timestamps
(they never decrease): where a search of the logs for something that cannot have happened
before that moment starts (an order's fill: not before its start time), instead of block 0,
which a public node refuses to scan in one call or takes minutes over."""

from __future__ import annotations

from typing import Any

from .errors import WalletError
from .rpc import to_int


def block_timestamp(rpc: Any, number: int) -> int:
    """Block `number`'s timestamp; WalletError if the node's answer has none (a node is a stranger too)."""
    block = rpc.call("eth_getBlockByNumber", hex(number), False)
    try:
        return to_int(block["timestamp"])
    except (KeyError, TypeError, ValueError):
        raise WalletError(f"the node's block {number} has no readable timestamp") from None


def first_block_since(rpc: Any, timestamp: int) -> int:
    """The lowest block whose timestamp is >= `timestamp`; the latest block if none is
    (about log2(height) reads: ~25 on mainnet). A node whose timestamps go back gets an
    answer within [0, head] in as many reads, never a longer search."""
    low, high = 0, to_int(rpc.call("eth_blockNumber"))
    while low < high:  # the answer is in [low, high]
        middle = (low + high) // 2
        if block_timestamp(rpc, middle) < timestamp:
            low = middle + 1
        else:
            high = middle
    return low
