"""Keys at rest: the sealed wallet file, its failure modes, and crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest
from conftest import ANVIL_MNEMONIC, PASSWORD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hd import ANVIL_ACCOUNTS, ANVIL_KEY_0

from wallet import atomic, keyring, vault
from wallet.errors import (
    AccountNotFound,
    SigningError,
    VaultCorrupt,
    WalletError,
    WalletExists,
    WalletNotFound,
    WrongPassword,
)

FAST = "interactive"


@pytest.fixture(autouse=True)
def cheap_kdf(monkeypatch):
    """Argon2id at libsodium's minimum cost: these tests are about the format, not the KDF."""
    monkeypatch.setitem(vault.ARGON2ID_PRESETS, FAST, (1, 8192))


@pytest.fixture
def store(hongbao_home):
    return keyring.WalletStore(hongbao_home)


@pytest.fixture
def anvil(store):
    store.create_from_mnemonic("anvil", ANVIL_MNEMONIC, PASSWORD, preset=FAST, accounts=3)
    return store.path("anvil")


def test_create_unlock_and_keys(store, anvil):
    wallet = store.open("anvil")
    assert [a.address for a in wallet.accounts] == ANVIL_ACCOUNTS[:3]
    assert [a.path for a in wallet.accounts] == [f"m/44'/60'/0'/0/{i}" for i in range(3)]
    unlocked = wallet.unlock(PASSWORD)
    assert unlocked.private_key(0).hex() == ANVIL_KEY_0
    assert unlocked.mnemonic() == (ANVIL_MNEMONIC, "english", False)


def test_file_modes(store, anvil):
    assert stat.S_IMODE(anvil.stat().st_mode) == 0o600
    assert stat.S_IMODE(anvil.parent.stat().st_mode) == 0o700


def test_nothing_secret_in_the_file_or_reprs(store, anvil):
    text = anvil.read_text()
    for secret in (ANVIL_MNEMONIC, "junk", ANVIL_KEY_0, PASSWORD):
        assert secret not in text
    unlocked = store.open("anvil").unlock(PASSWORD)
    for shown in (repr(unlocked), repr(unlocked._secrets), repr(unlocked._deriver), repr(unlocked.wallet)):
        assert "junk" not in shown and ANVIL_KEY_0 not in shown


def test_unlock_runs_no_pbkdf2(store, anvil, monkeypatch):
    calls = []
    real = hashlib.pbkdf2_hmac
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", lambda *a, **k: calls.append(1) or real(*a, **k))
    unlocked = store.open("anvil").unlock(PASSWORD)
    unlocked.derive(50)
    assert [unlocked.private_key(i) for i in range(53)]
    assert calls == []  # the seed is sealed, so BIP39's PBKDF2 ran once, at import


def test_derive_indices_paths_and_custom_path(store, anvil):
    unlocked = store.open("anvil").unlock(PASSWORD)
    added = unlocked.derive(2, label="more")
    assert [(a.index, a.path, a.label) for a in added] == [
        (3, "m/44'/60'/0'/0/3", "more"),
        (4, "m/44'/60'/0'/0/4", "more"),
    ]
    custom = unlocked.derive(path="m/44h/60h/0h/0/9")[0]
    assert custom.address == ANVIL_ACCOUNTS[9] and custom.path == "m/44'/60'/0'/0/9"
    with pytest.raises(WalletError, match="already account"):
        unlocked.derive(path="m/44'/60'/0'/0/9")
    again = store.open("anvil")
    assert [a.address for a in again.accounts] == [*ANVIL_ACCOUNTS[:5], ANVIL_ACCOUNTS[9]]
    assert unlocked.derive()[0].path == "m/44'/60'/0'/0/5"  # fills the next unused index


def test_imported_and_watch_accounts(store):
    unlocked = store.create_empty("keys", PASSWORD, preset=FAST)
    assert not unlocked.has_mnemonic
    imported = unlocked.add_private_key(bytes.fromhex(ANVIL_KEY_0), "hot")
    watch = unlocked.add_watch(ANVIL_ACCOUNTS[1].lower(), "cold")
    assert (imported.kind, imported.address, watch.kind, watch.address) == (
        "imported",
        ANVIL_ACCOUNTS[0],
        "watch",
        ANVIL_ACCOUNTS[1],
    )
    reopened = store.open("keys").unlock(PASSWORD)
    assert reopened.private_key(0).hex() == ANVIL_KEY_0
    with pytest.raises(SigningError, match="watch-only"):
        reopened.private_key(1)
    with pytest.raises(WalletError, match="already account 0"):
        reopened.add_private_key(bytes.fromhex(ANVIL_KEY_0))
    with pytest.raises(WalletError, match="no recovery phrase"):
        reopened.derive()
    with pytest.raises(AccountNotFound, match="no account 7"):
        reopened.private_key(7)


def test_several_wallets_and_names(store, anvil):
    store.create_empty("second", PASSWORD, preset=FAST)
    assert store.names() == ["anvil", "second"]
    with pytest.raises(WalletExists):
        store.create_empty("second", PASSWORD, preset=FAST)
    with pytest.raises(WalletNotFound, match="wallets: anvil, second"):
        store.open("third")
    for bad in ("", "../x", "a/b", ".hidden", "x" * 65):
        with pytest.raises(WalletError, match="not allowed"):
            store.path(bad)


def test_wrong_password_changes_nothing(store, anvil):
    before = anvil.read_bytes()
    with pytest.raises(WrongPassword, match=f"wrong password for {anvil}") as caught:
        store.open("anvil").unlock("not the password")
    assert "not the password" not in str(caught.value)
    assert anvil.read_bytes() == before


@pytest.mark.parametrize("keep", [0, 1, 100, -200, -2])
def test_truncated_file_names_the_file(store, anvil, keep):
    anvil.write_bytes(anvil.read_bytes()[:keep])
    with pytest.raises(VaultCorrupt, match=str(anvil)):
        store.open("anvil").unlock(PASSWORD)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flipped_byte_is_caught_before_the_kdf(store, anvil, data):
    original = anvil.read_bytes()
    position = data.draw(st.integers(0, len(original) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(original)
    damaged[position] ^= 1 << bit
    anvil.write_bytes(bytes(damaged))
    try:
        with pytest.raises(VaultCorrupt, match=str(anvil)):
            store.open("anvil")
    finally:
        anvil.write_bytes(original)


def _rewrite(path, edit):
    """Tamper like an attacker who also fixes up the plain checksum."""
    body = json.loads(path.read_text())
    body.pop("checksum")
    edit(body)
    body["checksum"] = hashlib.sha256(vault.canonical(body)).hexdigest()
    path.write_text(json.dumps(body))


def test_swapped_address_is_caught_at_unlock(store, anvil):
    _rewrite(anvil, lambda b: b["accounts"][0].update(address=ANVIL_ACCOUNTS[9]))
    with pytest.raises(VaultCorrupt, match="edited outside Hongbao"):
        store.open("anvil").unlock(PASSWORD)


def test_tampered_ciphertext_is_not_a_wrong_password(store, anvil):
    def flip(body):
        raw = bytearray(vault._unb64(body["crypto"]["ciphertext"]))
        raw[5] ^= 1
        body["crypto"]["ciphertext"] = vault._b64(bytes(raw))

    _rewrite(anvil, flip)
    with pytest.raises(VaultCorrupt, match="tampered"):
        store.open("anvil").unlock(PASSWORD)


def test_labels_need_no_password_and_are_not_bound(store, anvil):
    store.open("anvil").set_label(1, "savings")
    wallet = store.open("anvil")
    assert wallet.account(1).label == "savings"
    wallet.unlock(PASSWORD)  # still verifies


def test_change_password(store, anvil):
    store.open("anvil").unlock(PASSWORD).change_password("new password!", FAST)
    with pytest.raises(WrongPassword):
        store.open("anvil").unlock(PASSWORD)
    assert store.open("anvil").unlock("new password!").private_key(0).hex() == ANVIL_KEY_0


def test_failed_rename_keeps_the_old_file(store, anvil, monkeypatch):
    before = anvil.read_bytes()
    unlocked = store.open("anvil").unlock(PASSWORD)

    def crash(*_):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        unlocked.change_password("new password!", FAST)
    assert anvil.read_bytes() == before
    assert [p.name for p in anvil.parent.iterdir()] == [anvil.name]  # temp file removed


def test_kill_between_write_and_rename(store, anvil, hongbao_home):
    """A real crash: the process is SIGKILLed after the temp file is fsynced, before rename."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from wallet import keyring, vault
        vault.ARGON2ID_PRESETS["interactive"] = (1, 8192)
        os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
        unlocked = keyring.WalletStore({str(hongbao_home)!r}).open("anvil").unlock({PASSWORD!r})
        unlocked.change_password("new password!", "interactive")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -9
    leftovers = [p.name for p in anvil.parent.iterdir() if p.name.startswith(atomic.TEMP_PREFIX)]
    assert len(leftovers) == 1  # the half-done new file, fully written but never installed
    assert store.names() == ["anvil"]
    assert store.open("anvil").unlock(PASSWORD).private_key(0).hex() == ANVIL_KEY_0


def test_create_exclusive_refuses_existing(tmp_path):
    target = tmp_path / "f"
    atomic.create_exclusive(target, b"one")
    with pytest.raises(FileExistsError):
        atomic.create_exclusive(target, b"two")
    assert target.read_bytes() == b"one"
    assert os.listdir(tmp_path) == ["f"]


def test_newer_vault_version_is_a_clear_error(store, anvil):
    _rewrite(anvil, lambda b: b.update(version=2))
    with pytest.raises(VaultCorrupt, match=r"version 2.*upgrade Hongbao"):
        store.open("anvil")


def test_derive_keeps_the_wallets_scheme(store):
    unlocked = store.create_from_mnemonic(
        "ledger", ANVIL_MNEMONIC, PASSWORD, preset=FAST, accounts=2, scheme="ledger-live"
    )
    assert [a.path for a in unlocked.derive()] == ["m/44'/60'/2'/0/0"]
    # Index 0 of both schemes is the same path (already account 0), so bip44 starts at 1.
    assert [a.path for a in unlocked.derive(scheme="bip44")] == ["m/44'/60'/0'/0/1"]
    assert unlocked.derive()[0].path == "m/44'/60'/0'/0/2"  # the newest account's scheme wins


def test_scheme_of():
    from wallet import hd

    assert hd.scheme_of("m/44'/60'/0'/0/12") == "bip44"
    assert hd.scheme_of("m/44'/60'/12'/0/0") == "ledger-live"
    assert hd.scheme_of("m/44'/60'/0'/12") == "ledger-legacy"
    assert hd.scheme_of("m/44'/60'/1'/0/3") is None
