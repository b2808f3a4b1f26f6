"""Web3 Secret Storage v3: the definition's vectors, ethereum/tests, and round trips."""

from __future__ import annotations

import copy

import pytest
from conftest import load_vector
from eth_account import Account

from wallet import address, keystore
from wallet.errors import KeystoreError, WrongPassword

WIKI = load_vector("keystore-v3-wiki.json")
BASIC = load_vector("keystore-v3-basic.json")
CASES = [
    pytest.param(WIKI["pbkdf2"], id="definition-pbkdf2"),
    pytest.param(WIKI["scrypt"], id="definition-scrypt-r1-p8"),
    pytest.param(BASIC["test1"], id="ethereum-tests-pbkdf2"),
    pytest.param(BASIC["test2"], id="ethereum-tests-scrypt-legacy"),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_vectors_open(case):
    document = keystore.parse(__import__("json").dumps(case["json"]))
    assert keystore.decrypt(document, case["password"]).hex() == case["priv"]


@pytest.mark.parametrize("case", CASES[:1] + CASES[2:3])  # pbkdf2 only: fast
def test_wrong_password(case):
    with pytest.raises(WrongPassword, match="wrong password for keystore"):
        keystore.decrypt(case["json"], case["password"] + "x")


@pytest.mark.slow
def test_known_bad_vector_is_refused():
    bad = next(iter(WIKI["known_bad"].values()))
    with pytest.raises(WrongPassword):
        keystore.decrypt(bad["json"], bad.get("password", WIKI["scrypt"]["password"]))


@pytest.mark.slow
def test_export_defaults_are_the_interoperable_ones():
    key = bytes.fromhex(BASIC["test1"]["priv"])
    document = keystore.encrypt(key, "pw")
    params = document["crypto"]["kdfparams"]
    assert (document["version"], document["crypto"]["kdf"], params["n"], params["r"], params["p"]) == (
        3,
        "scrypt",
        262144,
        8,
        1,
    )
    assert document["address"] == address.from_private_key(key)[2:].lower()
    assert bytes(Account.decrypt(document, "pw")) == key  # another implementation opens it


def test_roundtrip_and_address_mismatch():
    key = bytes.fromhex(BASIC["test1"]["priv"])
    document = keystore.encrypt(key, "pw", scrypt_n=4096)
    assert keystore.decrypt(document, "pw") == key
    forged = copy.deepcopy(document)
    forged["address"] = "00" * 20
    with pytest.raises(KeystoreError, match="another address"):
        keystore.decrypt(forged, "pw")


@pytest.mark.parametrize("n", [1024, 5000])
def test_weak_or_odd_scrypt_n_refused(n):
    with pytest.raises(KeystoreError, match="power of two"):
        keystore.encrypt(bytes.fromhex(BASIC["test1"]["priv"]), "pw", scrypt_n=n)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"version": 2, "crypto": {}}', "not a version 3"),
        (b'{"version": 3, "crypto": {"kdf": "argon2", "cipher": "aes-128-ctr"}}', "supported: scrypt or pbkdf2"),
    ],
)
def test_malformed(data, message):
    with pytest.raises(KeystoreError, match=message):
        keystore.parse(data, "keystore")
