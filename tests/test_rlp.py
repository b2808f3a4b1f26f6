"""Our RLP encoder against pyrlp and the yellow paper's examples."""

from __future__ import annotations

import pytest
import rlp as pyrlp
from hypothesis import given
from hypothesis import strategies as st

from wallet import rlp

items = st.recursive(
    st.one_of(st.binary(max_size=80), st.integers(min_value=0, max_value=2**256)),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)


@given(items)
def test_matches_pyrlp(item):
    assert rlp.encode(item) == pyrlp.encode(item)


@pytest.mark.parametrize(
    "item, encoded",
    [
        (b"dog", "83646f67"),
        ([b"cat", b"dog"], "c88363617483646f67"),
        (b"", "80"),
        ([], "c0"),
        (0, "80"),
        (15, "0f"),
        (1024, "820400"),
        ([[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"),
        (
            b"Lorem ipsum dolor sit amet, consectetur adipisicing elit",
            "b838" + b"Lorem ipsum dolor sit amet, consectetur adipisicing elit".hex(),
        ),
    ],
)
def test_yellow_paper_examples(item, encoded):
    assert rlp.encode(item).hex() == encoded


@pytest.mark.parametrize("bad", [-1, True, 1.5, "text", None])
def test_refuses_what_rlp_cannot_say(bad):
    with pytest.raises((TypeError, ValueError)):
        rlp.encode(bad)
