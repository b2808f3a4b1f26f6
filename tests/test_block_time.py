"""wallet/block_time.py: the first block at or after a moment, against any chain of
non-decreasing timestamps (equal ones included, as on a local chain that mines fast)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.block_time import first_block_since
from wallet.errors import WalletError


class Blocks:
    """An RPC answering eth_blockNumber and eth_getBlockByNumber from a list of timestamps."""

    def __init__(self, stamps: list[int]) -> None:
        self.stamps, self.reads = stamps, 0

    def call(self, method: str, *params):
        if method == "eth_blockNumber":
            return hex(len(self.stamps) - 1)
        assert method == "eth_getBlockByNumber"
        self.reads += 1
        return {"timestamp": hex(self.stamps[int(params[0], 16)])}


@given(st.lists(st.integers(0, 50), min_size=1, max_size=300), st.data())
def test_the_lowest_block_at_or_after_the_moment(gaps, data):
    stamps = [1_000 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    # a block's own second, one either side, or anywhere (before the first, after the last)
    near = st.sampled_from(stamps).flatmap(lambda t: st.sampled_from([t - 1, t, t + 1]))
    moment = data.draw(near | st.integers(0, 20_000))
    rpc = Blocks(stamps)
    found = first_block_since(rpc, moment)
    later = [i for i, t in enumerate(stamps) if t >= moment]
    assert found == (later[0] if later else len(stamps) - 1)
    assert rpc.reads <= len(stamps).bit_length()  # a binary search, not a scan


@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=300), st.integers(0, 2**40))
def test_a_node_whose_timestamps_go_back_gets_a_block_in_range_in_as_many_reads(stamps, moment):
    rpc = Blocks(stamps)
    assert 0 <= first_block_since(rpc, moment) < len(stamps)
    assert rpc.reads <= len(stamps).bit_length()


@pytest.mark.parametrize("block", [None, {}, {"timestamp": "soon"}, "0x5"])
def test_a_block_without_a_readable_timestamp_is_one_wallet_error(block):
    class Hostile(Blocks):
        def call(self, method, *params):
            return "0xff" if method == "eth_blockNumber" else block

    with pytest.raises(WalletError, match="no readable timestamp"):
        first_block_since(Hostile([]), 10)
