"""EIP-55 addresses: the spec's vectors and user input checks."""

from __future__ import annotations

import pytest
from conftest import load_vector
from hypothesis import given
from hypothesis import strategies as st

from wallet import address
from wallet.errors import InvalidAddress, InvalidKey

EIP55 = load_vector("eip55.json")
ALL = EIP55["all_caps"] + EIP55["all_lower"] + EIP55["normal"]


@pytest.mark.parametrize("checksummed", EIP55["normal"])
def test_checksum_vectors(checksummed):
    assert address.to_checksum(checksummed.lower()) == checksummed
    assert address.parse(checksummed) == checksummed
    assert address.is_checksummed(checksummed)


@pytest.mark.parametrize("uncased", EIP55["all_caps"] + EIP55["all_lower"])
def test_single_case_addresses_carry_no_checksum(uncased):
    assert address.parse(uncased) == address.to_checksum(uncased)


@pytest.mark.parametrize("good", EIP55["normal"])
def test_one_flipped_case_is_refused(good):
    i = next(i for i, c in enumerate(good) if i > 1 and c.isalpha())
    flipped = good[:i] + good[i].swapcase() + good[i + 1 :]
    with pytest.raises(InvalidAddress, match="wrong EIP-55 checksum"):
        address.parse(flipped)


@pytest.mark.parametrize("bad", ["", "0x1234", "0x" + "g" * 40, "0x" + "a" * 41, "hongbao.eth"])
def test_not_addresses(bad):
    with pytest.raises(InvalidAddress, match="not an address"):
        address.parse(bad)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_agrees_with_eth_utils(raw):
    from eth_utils import to_checksum_address

    assert address.to_checksum(raw.hex()) == to_checksum_address(raw.hex())


@pytest.mark.parametrize("key", [b"", bytes(32), bytes.fromhex("ff" * 32), b"\x01" * 31])
def test_invalid_private_keys(key):
    with pytest.raises(InvalidKey):
        address.from_private_key(key)
