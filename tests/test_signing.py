"""Signatures: EIP-191 and EIP-712 against eth-account and the spec; transactions."""

from __future__ import annotations

import pytest
from conftest import load_vector
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet import address, signing
from wallet.errors import InvalidAddress, SigningError

MAIL = load_vector("eip712-mail.json")
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
keys = st.integers(min_value=1, max_value=2**256 - 2**129).map(lambda k: k.to_bytes(32, "big"))


@settings(max_examples=50, deadline=None)
@given(keys, st.binary(max_size=300))
def test_personal_sign_matches_eth_account_and_recovers(key, message):
    signature = signing.sign_message(key, message)
    assert signature == bytes(Account.sign_message(encode_defunct(message), key).signature)
    assert signing.recover_message(message, signature) == address.from_private_key(key)


def test_recover_with_v_0_1_and_rejects_high_s_and_bad_length():
    signature = signing.sign_message(KEY, b"hongbao")
    signer = address.from_private_key(KEY)
    assert signing.recover_message(b"hongbao", signature[:64] + bytes([signature[64] - 27])) == signer
    s = int.from_bytes(signature[32:64], "big")
    high = signature[:32] + (signing._N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])
    with pytest.raises(SigningError, match="high-s"):
        signing.recover_message(b"hongbao", high)
    with pytest.raises(SigningError, match="65 bytes"):
        signing.recover_message(b"hongbao", signature[:64])


def test_a_changed_message_recovers_someone_else():
    signature = signing.sign_message(KEY, b"pay 1 ETH")
    assert signing.recover_message(b"pay 9 ETH", signature) != address.from_private_key(KEY)


def test_eip712_mail_example():
    key = bytes.fromhex(MAIL["private_key"][2:])
    assert address.from_private_key(key) == MAIL["address"]
    assert signing.typed_data_hash(MAIL["typed_data"]).hex() == MAIL["digest"][2:]
    signature = signing.sign_typed_data(key, MAIL["typed_data"])
    assert signature[:32].hex() == MAIL["r"][2:]
    assert signature[32:64].hex() == MAIL["s"][2:]
    assert signature[64] == MAIL["v"]
    assert signing.recover_typed_data(MAIL["typed_data"], signature) == MAIL["address"]


def test_eip712_rejects_malformed_data():
    broken = {**MAIL["typed_data"], "primaryType": "Nope"}
    with pytest.raises(SigningError, match="not valid EIP-712"):
        signing.typed_data_hash(broken)


EIP1559 = {
    "chainId": 31337,
    "nonce": "0x7",
    "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "value": "1000000000000000000",
    "gas": 21000,
    "maxFeePerGas": "0x77359400",
    "maxPriorityFeePerGas": 1_000_000_000,
}
LEGACY = {
    "chainId": 1,
    "nonce": 0,
    "to": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
    "value": 1,
    "gas": 21000,
    "gasPrice": 20_000_000_000,
}


@pytest.mark.parametrize("tx, first_byte", [(EIP1559, 0x02), (LEGACY, None)])
def test_transactions_sign_and_recover(tx, first_byte):
    signed = signing.sign_transaction(KEY, tx)
    assert Account.recover_transaction(signed.raw) == address.from_private_key(KEY) == signed.sender
    if first_byte is not None:
        assert signed.raw[0] == first_byte
    else:
        assert signed.raw[0] >= 0xC0  # an RLP list: legacy
    expected = Account.sign_transaction(signing.normalize_transaction(tx), KEY)
    assert signed.raw == bytes(expected.raw_transaction)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"chainId": None}, "lacks chainId"),
        ({"gasPrice": 1}, "either maxFeePerGas"),
        ({"maxPriorityFeePerGas": 10**12}, "exceeds maxFeePerGas"),
        ({"nonce": "seven"}, "nonce must be an integer"),
        ({"value": -1}, "must not be negative"),
        ({"gass": 1}, "unknown transaction field 'gass'"),
    ],
)
def test_transaction_errors(change, message):
    tx = {**EIP1559, **change}
    tx = {k: v for k, v in tx.items() if v is not None}
    with pytest.raises(SigningError, match=message):
        signing.normalize_transaction(tx)


def test_signature_values_with_leading_zero_bytes_are_canonical():
    """Found by hypothesis: r or s below 2**248 must lose its leading zero byte in RLP."""
    tx = {
        "chainId": 204552553,
        "nonce": 444436482,
        "gas": 31602,
        "value": 280305,
        "data": b"1\x00\xc6;\xa2\x9d\x01jH",
        "maxFeePerGas": 204553432,
        "maxPriorityFeePerGas": 879,
    }
    key = (1790).to_bytes(32, "big")
    assert signing.sign_transaction(key, tx).raw == bytes(
        Account.sign_transaction(signing.normalize_transaction(tx), key).raw_transaction
    )


def test_transaction_to_with_bad_checksum():
    with pytest.raises(InvalidAddress):
        signing.normalize_transaction({**EIP1559, "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"})


addresses = st.binary(min_size=20, max_size=20).map(lambda b: address.to_checksum(b.hex()))
uint = st.integers(min_value=0, max_value=2**64)


@settings(max_examples=60, deadline=None)
@given(
    key=keys,
    chain_id=st.integers(min_value=1, max_value=2**32),
    nonce=uint,
    gas=st.integers(min_value=21000, max_value=30_000_000),
    to=st.one_of(st.none(), addresses),
    value=st.integers(min_value=0, max_value=2**128),
    data=st.binary(max_size=100),
    fee=st.integers(min_value=1, max_value=2**40),
    tip=st.integers(min_value=0, max_value=2**40),
    access=st.lists(st.tuples(addresses, st.lists(st.binary(min_size=32, max_size=32), max_size=2)), max_size=2),
    legacy=st.booleans(),
)
def test_our_encoding_is_byte_identical_to_eth_account(
    key, chain_id, nonce, gas, to, value, data, fee, tip, access, legacy
):
    tx = {"chainId": chain_id, "nonce": nonce, "gas": gas, "value": value, "data": data}
    if to is not None:
        tx["to"] = to
    if legacy:
        tx["gasPrice"] = fee
    else:
        tx.update(
            maxFeePerGas=fee + tip,
            maxPriorityFeePerGas=tip,
            accessList=[{"address": a, "storageKeys": ["0x" + k.hex() for k in ks]} for a, ks in access],
        )
    ours = signing.sign_transaction(key, tx)
    theirs = Account.sign_transaction(signing.normalize_transaction(tx), key)
    assert ours.raw == bytes(theirs.raw_transaction)
    assert ours.hash == bytes(theirs.hash)
