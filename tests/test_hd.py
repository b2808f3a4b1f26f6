"""BIP32 at the key level (official vectors 1 and 2), paths, and the account schemes."""

from __future__ import annotations

import pytest
from conftest import ANVIL_MNEMONIC, load_vector
from hypothesis import given
from hypothesis import strategies as st

from wallet import address, base58, bip39, hd
from wallet.errors import InvalidPath

BIP32 = load_vector("bip32.json")["vectors"]
CHAINS = [
    pytest.param(v["seed"], c["path"], c["xprv"], c["xpub"], id=f"tv{n}-{c['path']}")
    for n, v in enumerate(BIP32, 1)
    for c in v["chains"]
]

# `cast wallet address --mnemonic "test ... junk" --mnemonic-index i`, i = 0..9 (anvil's dev accounts).
ANVIL_ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]
ANVIL_KEY_0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.mark.parametrize("seed, path, xprv, xpub", CHAINS)
def test_bip32_vectors(seed, path, xprv, xpub):
    node = hd.Deriver(bytes.fromhex(seed)).node(path) if path != "m" else hd.master(bytes.fromhex(seed))
    assert node.xprv() == xprv
    assert node.xpub() == xpub


def test_anvil_accounts_0_to_9():
    deriver = hd.Deriver(bip39.to_seed(ANVIL_MNEMONIC))
    keys = [deriver.private_key(hd.scheme_path("bip44", i)) for i in range(10)]
    assert [address.from_private_key(k) for k in keys] == ANVIL_ACCOUNTS
    assert keys[0].hex() == ANVIL_KEY_0


def test_cached_derivation_equals_walk_from_root():
    seed = bip39.to_seed(ANVIL_MNEMONIC)
    cached = hd.Deriver(seed)
    for i in (5, 1, 9):
        fresh = hd.Deriver(seed)  # empty cache each time
        assert cached.private_key(hd.scheme_path("ledger-live", i)) == fresh.private_key(
            hd.scheme_path("ledger-live", i)
        )


def test_schemes():
    assert hd.scheme_path("bip44", 3) == "m/44'/60'/0'/0/3"
    assert hd.scheme_path("ledger-live", 3) == "m/44'/60'/3'/0/0"
    with pytest.raises(InvalidPath, match="unknown path scheme"):
        hd.scheme_path("trezor-classic", 0)


@pytest.mark.parametrize("bad", ["", "44'/60'", "m/x", "m/1''", "m/2147483648", "m//1", "m/-1"])
def test_bad_paths(bad):
    with pytest.raises(InvalidPath):
        hd.parse_path(bad)


def test_hardened_marks():
    assert hd.parse_path("m/44h/60H/0'") == (hd.HARDENED + 44, hd.HARDENED + 60, hd.HARDENED)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=8))
def test_path_roundtrip(indices):
    assert hd.parse_path(hd.format_path(tuple(indices))) == tuple(indices)


@given(st.binary(max_size=80))
def test_base58check_roundtrip(payload):
    assert base58.decode_check(base58.encode_check(payload)) == payload


def test_base58check_rejects_corruption():
    text = base58.encode_check(b"hongbao")
    corrupted = text[:-1] + ("1" if text[-1] != "1" else "2")
    with pytest.raises(ValueError):
        base58.decode_check(corrupted)


def test_node_repr_hides_key():
    node = hd.master(bytes(32))
    assert node.private_key.hex() not in repr(node)
