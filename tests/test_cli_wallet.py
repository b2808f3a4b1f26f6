"""End-to-end tests of `hongbao wallet ...` through the real entry point (subprocesses).

Every wallet here uses `--kdf interactive` (the shared `anvil` one the minimum cost) and every keystore `--scrypt-n 4096` (except the
one test that checks the default cost) so the file stays fast.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ANVIL_MNEMONIC, PASSWORD, Cli, load_vector, quick_wallet
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_hash.auto import keccak

Account.enable_unaudited_hdwallet_features()

ANVIL0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ANVIL1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ANVIL0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
# a valid EIP-191 signature of "m" by ANVIL0
SIG_M = "0x" + Account.sign_message(encode_defunct(text="m"), bytes.fromhex(ANVIL0_KEY[2:])).signature.hex()
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FAST_KDF = ("--kdf", "interactive")
FAST_SCRYPT = ("--scrypt-n", "4096")
BLOCK_CHARS = set("█▀▄")


# -- helpers -------------------------------------------------------------------------------


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code exactly 1, stderr exactly one `error: ...` line, no traceback anywhere."""
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.returncode == 1, f"exit {result.returncode}; stderr: {result.stderr!r}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line: {result.stderr!r}"
    assert result.stderr == lines[0] + "\n", repr(result.stderr)
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def without(cli: Cli, *names: str) -> Cli:
    """A copy of `cli` whose subprocess environment lacks `names` (e.g. HONGBAO_PASSWORD)."""
    other = Cli.__new__(Cli)
    other.env = {k: v for k, v in cli.env.items() if k not in names}
    return other


def import_phrase(
    cli: Cli, name: str, phrase: str = ANVIL_MNEMONIC, *extra: str, env: dict | None = None, check: bool = True
):
    return cli("wallet", "import", "--wallet", name, *FAST_KDF, *extra, input=phrase + "\n", env=env, check=check)


def vault_path(home: Path, name: str) -> Path:
    return home / "wallets" / f"{name}.vault"


def hd_address(phrase: str, path: str, passphrase: str = "") -> str:
    return Account.from_mnemonic(phrase, passphrase=passphrase, account_path=path).address


def anvil_address(i: int) -> str:
    return hd_address(ANVIL_MNEMONIC, f"m/44'/60'/0'/0/{i}")


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def rewrite_vault(path: Path, edit) -> None:
    """Edit a vault document and recompute its (unkeyed) checksum, as an attacker could."""
    body = json.loads(path.read_text(encoding="utf-8"))
    body.pop("checksum")
    edit(body)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    body["checksum"] = hashlib.sha256(canonical).hexdigest()
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anvil_template(tmp_path_factory) -> Path:
    """One anvil wallet per worker; tests copy it instead of re-importing. Sealed at the
    minimum Argon2id cost: these tests unlock it ~100 times, and import and the KDF presets
    are tested on their own above."""
    home = tmp_path_factory.mktemp("template") / "home"
    quick_wallet(home, ANVIL_MNEMONIC, name="anvil")
    return home / "wallets"


@pytest.fixture
def anvil_vault(anvil_template, hongbao_home) -> Path:
    """The test's own copy of wallet 'anvil' (account 0 = ANVIL0); returns its vault path."""
    shutil.copytree(anvil_template, hongbao_home / "wallets")
    return vault_path(hongbao_home, "anvil")


# -- 1. the script forms the issue promises ----------------------------------------------------


def test_import_from_stdin_with_the_exact_script_form(cli, hongbao_home):
    result = cli("wallet", "import", "--wallet", "w", *FAST_KDF, input=ANVIL_MNEMONIC + "\n")
    assert ANVIL0 in result.stdout
    assert ANVIL_MNEMONIC not in result.stdout + result.stderr
    rows = cli.json("wallet", "list", "--wallet", "w")
    assert [(r["index"], r["address"], r["path"]) for r in rows] == [(0, ANVIL0, "m/44'/60'/0'/0/0")]
    mode = stat.S_IMODE(vault_path(hongbao_home, "w").stat().st_mode)
    assert mode == 0o600


def test_import_accounts_2_gives_anvil_account_1(cli):
    data = json.loads(import_phrase(cli, "w", ANVIL_MNEMONIC, "--accounts", "2", "--json").stdout)
    assert [a["address"] for a in data["accounts"]] == [ANVIL0, ANVIL1]


@pytest.mark.parametrize("text", ["hello hongbao", "红包 ✓ emoji 🧧"])
def test_sign_message_prints_only_the_signature_and_it_verifies(cli, text):
    import_phrase(cli, "w", ANVIL_MNEMONIC, "--accounts", "2")
    result = cli("wallet", "sign-message", "--wallet", "w", "--index", "1", text)
    signature = result.stdout.strip()
    assert result.stdout == signature + "\n"
    assert signature.startswith("0x") and len(signature) == 132
    int(signature, 16)
    assert result.stderr == ""

    data = cli.json("wallet", "sign-message", "--wallet", "w", "--index", "1", text)
    assert data == {"address": ANVIL1, "signature": signature}

    assert Account.recover_message(encode_defunct(text=text), signature=signature) == ANVIL1
    assert cli("wallet", "verify", text, "--signature", signature).stdout.strip() == ANVIL1
    assert cli.json("wallet", "verify", text, "-s", signature, "--address", ANVIL1) == {
        "address": ANVIL1,
        "matches": True,
    }
    # a different message recovers someone else
    assert cli("wallet", "verify", text + "!", "-s", signature).stdout.strip() != ANVIL1


def test_sign_message_hex(cli, anvil_vault):
    signature = cli("wallet", "sign-message", "--wallet", "anvil", "--hex", "0xdeadbeef").stdout.strip()
    assert Account.recover_message(encode_defunct(hexstr="0xdeadbeef"), signature=signature) == ANVIL0
    assert cli("wallet", "verify", "--hex", "deadbeef", "-s", signature).stdout.strip() == ANVIL0


def test_export_keystore_uses_wallet_password_without_a_terminal(cli, anvil_vault, tmp_path):
    out = tmp_path / "out" / "k0.json"
    result = cli("wallet", "export-keystore", "--wallet", "anvil", "--index", "0", "--out", str(out), *FAST_SCRYPT)
    assert str(out) in result.stdout and ANVIL0 in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert document["crypto"]["kdfparams"]["n"] == 4096
    assert document["address"].lower() == ANVIL0[2:].lower()
    assert "0x" + Account.decrypt(document, PASSWORD).hex() == ANVIL0_KEY
    with pytest.raises(ValueError):
        Account.decrypt(document, "not the password")


def test_export_keystore_with_its_own_password_and_json(cli, anvil_vault, tmp_path):
    cli("wallet", "derive", "--wallet", "anvil")
    out = tmp_path / "k1.json"
    env = {"HONGBAO_KEYSTORE_PASSWORD": "keystore secret 42"}
    data = cli.json(
        "wallet", "export-keystore", "--wallet", "anvil", "--index", "1", "--out", str(out), *FAST_SCRYPT, env=env
    )
    assert data == {"address": ANVIL1, "file": str(out)}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert Account.from_key(Account.decrypt(document, "keystore secret 42")).address == ANVIL1
    with pytest.raises(ValueError):
        Account.decrypt(document, PASSWORD)


def test_export_keystore_refuses_to_overwrite_without_force(cli, anvil_vault, tmp_path):
    out = tmp_path / "k.json"
    cli("wallet", "export-keystore", "--wallet", "anvil", "--out", str(out), *FAST_SCRYPT)
    before = out.read_bytes()
    result = cli("wallet", "export-keystore", "--wallet", "anvil", "--out", str(out), *FAST_SCRYPT, check=False)
    assert_one_line_error(result, str(out), "--force")
    assert out.read_bytes() == before
    # the refusal comes before the password is needed
    result = without(cli, "HONGBAO_PASSWORD")(
        "wallet", "export-keystore", "--wallet", "anvil", "--out", str(out), *FAST_SCRYPT, check=False
    )
    assert_one_line_error(result, "--force")

    out.chmod(0o644)
    cli("wallet", "export-keystore", "--wallet", "anvil", "--out", str(out), "--force", *FAST_SCRYPT)
    after = out.read_bytes()
    assert after != before
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "0x" + Account.decrypt(json.loads(after), PASSWORD).hex() == ANVIL0_KEY


def test_export_keystore_default_scrypt_cost(cli, anvil_vault, tmp_path):
    out = tmp_path / "default.json"
    cli("wallet", "export-keystore", "--wallet", "anvil", "--out", str(out))
    crypto = json.loads(out.read_text())["crypto"]
    assert crypto["kdf"] == "scrypt"
    assert crypto["cipher"] == "aes-128-ctr"
    params = crypto["kdfparams"]
    assert (params["n"], params["r"], params["p"]) == (262144, 8, 1)


# -- 2. list ----------------------------------------------------------------------------------


def test_list_json_covers_several_wallets_and_filters(cli, anvil_vault):
    cli("wallet", "create", "--wallet", "beta", "--accounts", "2", *FAST_KDF)
    rows = cli.json("wallet", "list")
    assert isinstance(rows, list) and len(rows) == 3
    for row in rows:
        assert {"index", "path", "address", "label", "wallet", "kind"} <= set(row)
    assert sorted(r["wallet"] for r in rows) == ["anvil", "beta", "beta"]
    anvil_rows = [r for r in rows if r["wallet"] == "anvil"]
    assert anvil_rows == [
        {"index": 0, "kind": "hd", "path": "m/44'/60'/0'/0/0", "address": ANVIL0, "label": "", "wallet": "anvil"}
    ]
    beta = cli.json("wallet", "list", "--wallet", "beta")
    assert [r["index"] for r in beta] == [0, 1]
    assert {r["wallet"] for r in beta} == {"beta"}
    assert ANVIL0 not in json.dumps(beta)
    # human form names both wallets
    human = cli("wallet", "list", env={"COLUMNS": "200"}).stdout
    assert "anvil" in human and "beta" in human and ANVIL0 in human


def test_list_json_with_no_wallets_is_an_empty_array(cli):
    assert cli.json("wallet", "list") == []


# -- 3. create --------------------------------------------------------------------------------


@pytest.mark.parametrize("words", [12, 24])
def test_create_word_counts_and_show_mnemonic(cli, words):
    data = cli.json("wallet", "create", "--wallet", "w", "--words", str(words), "--show-mnemonic", *FAST_KDF)
    phrase = data["mnemonic"]
    from mnemonic import Mnemonic

    assert len(phrase.split()) == words
    assert Mnemonic("english").check(phrase)
    [account] = data["accounts"]
    assert account["address"] == hd_address(phrase, "m/44'/60'/0'/0/0")
    assert cli.json("wallet", "reveal", "--wallet", "w", "--yes")["mnemonic"] == phrase


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
def test_create_without_show_mnemonic_prints_no_mnemonic(cli, as_json):
    args = ["wallet", "create", "--wallet", "w", *FAST_KDF] + (["--json"] if as_json else [])
    result = cli(*args)
    if as_json:
        assert "mnemonic" not in json.loads(result.stdout)
    phrase = cli.json("wallet", "reveal", "--wallet", "w", "--yes")["mnemonic"]
    words = phrase.split()
    everything = result.stdout + result.stderr
    assert phrase not in everything
    assert " ".join(words[:3]) not in everything
    assert "reveal" in result.stderr or as_json  # people are told how to see it later


def test_create_chinese(cli):
    from mnemonic import Mnemonic

    data = cli.json(
        "wallet", "create", "--wallet", "zh", "--language", "chinese_simplified", "--show-mnemonic", *FAST_KDF
    )
    words = data["mnemonic"].split()
    assert len(words) == 12
    wordlist = set(Mnemonic("chinese_simplified").wordlist)
    assert all(w in wordlist for w in words)
    revealed = cli.json("wallet", "reveal", "--wallet", "zh", "--yes")
    assert revealed["mnemonic"] == data["mnemonic"]
    assert revealed["language"] == "chinese_simplified"
    # the same phrase typed without spaces opens the same account
    again = json.loads(import_phrase(cli, "zh2", "".join(words), "--json").stdout)
    assert again["accounts"][0]["address"] == data["accounts"][0]["address"]


def test_create_three_accounts(cli):
    data = cli.json("wallet", "create", "--wallet", "w", "--accounts", "3", "--show-mnemonic", *FAST_KDF)
    phrase = data["mnemonic"]
    assert [a["index"] for a in data["accounts"]] == [0, 1, 2]
    assert [a["path"] for a in data["accounts"]] == [f"m/44'/60'/0'/0/{i}" for i in range(3)]
    assert [a["address"] for a in data["accounts"]] == [hd_address(phrase, f"m/44'/60'/0'/0/{i}") for i in range(3)]
    assert len(cli.json("wallet", "list", "--wallet", "w")) == 3


def test_create_ledger_live_scheme(cli):
    data = cli.json(
        "wallet", "create", "--wallet", "w", "--accounts", "3", "--scheme", "ledger-live", "--show-mnemonic", *FAST_KDF
    )
    phrase = data["mnemonic"]
    assert [a["path"] for a in data["accounts"]] == [f"m/44'/60'/{i}'/0/0" for i in range(3)]
    assert [a["address"] for a in data["accounts"]] == [hd_address(phrase, f"m/44'/60'/{i}'/0/0") for i in range(3)]


def test_create_existing_wallet_fails_and_keeps_the_file(cli, anvil_vault):
    before = anvil_vault.read_bytes()
    result = cli("wallet", "create", "--wallet", "anvil", *FAST_KDF, check=False)
    assert_one_line_error(result, "'anvil'", "already exists")
    assert anvil_vault.read_bytes() == before
    result = import_phrase(cli, "anvil", check=False)
    assert_one_line_error(result, "already exists")
    assert anvil_vault.read_bytes() == before


# -- 4. import --------------------------------------------------------------------------------


def test_import_chinese_without_spaces_matches_spaced_and_reference_seed(cli):
    from eth_account.hdaccount.deterministic import HDPath

    _entropy, phrase, seed_hex, _xprv = load_vector("bip39-trezor-vectors.json")["chinese_simplified"][0]
    # the vector's seed uses the passphrase "TREZOR": derive the reference address from it
    expected = Account.from_key(HDPath("m/44'/60'/0'/0/0").derive(bytes.fromhex(seed_hex))).address
    env = {"HONGBAO_BIP39_PASSPHRASE": "TREZOR"}
    spaced = json.loads(import_phrase(cli, "spaced", phrase, "--passphrase", "--json", env=env).stdout)
    unspaced = json.loads(
        import_phrase(cli, "unspaced", phrase.replace(" ", ""), "--passphrase", "--json", env=env).stdout
    )
    assert spaced["accounts"][0]["address"] == unspaced["accounts"][0]["address"] == expected
    # and without a passphrase, spaced and unspaced still agree
    a = json.loads(import_phrase(cli, "a", phrase, "--json").stdout)["accounts"][0]["address"]
    b = json.loads(import_phrase(cli, "b", phrase.replace(" ", ""), "--json").stdout)["accounts"][0]["address"]
    assert a == b != expected
    revealed = cli.json("wallet", "reveal", "--wallet", "b", "--yes")
    assert revealed["mnemonic"] == phrase and revealed["language"] == "chinese_simplified"


@pytest.mark.parametrize(
    "phrase, fragments",
    [
        ("test test tset test test test test test test test test junk", ["word 3", "'tset'"]),
        ("test test test test test test test test test test test jonk", ["word 12", "'jonk'"]),
        ("test test test test test test test test test test test test", ["checksum"]),
        ("test test test test test test test test test test junk", ["12", "11"]),
        ("test " * 12 + "test junk", ["14"]),
    ],
    ids=["misspelt-3", "misspelt-12", "checksum", "11-words", "14-words"],
)
def test_import_bad_phrase_errors(cli, hongbao_home, phrase, fragments):
    result = import_phrase(cli, "w", phrase, check=False)
    assert_one_line_error(result, *fragments)
    assert not vault_path(hongbao_home, "w").exists()
    # the check comes before any password is needed
    result = without(cli, "HONGBAO_PASSWORD")("wallet", "import", "--wallet", "w", *FAST_KDF, input=phrase, check=False)
    line = assert_one_line_error(result, *fragments)
    assert "password" not in line


def test_import_passphrase_changes_the_addresses(cli):
    env = {"HONGBAO_BIP39_PASSPHRASE": "foo bar"}
    with_pass = json.loads(
        import_phrase(cli, "p", ANVIL_MNEMONIC, "--passphrase", "--accounts", "2", "--json", env=env).stdout
    )
    addresses = [a["address"] for a in with_pass["accounts"]]
    assert addresses == [hd_address(ANVIL_MNEMONIC, f"m/44'/60'/0'/0/{i}", "foo bar") for i in range(2)]
    assert not {ANVIL0, ANVIL1} & set(addresses)
    assert cli.json("wallet", "reveal", "--wallet", "p", "--yes")["passphrase"] is True
    # without --passphrase the variable is not used
    plain = json.loads(import_phrase(cli, "q", ANVIL_MNEMONIC, "--accounts", "2", "--json", env=env).stdout)
    assert [a["address"] for a in plain["accounts"]] == [ANVIL0, ANVIL1]
    # --passphrase with nothing to read it from is a one-line error
    result = import_phrase(cli, "r", ANVIL_MNEMONIC, "--passphrase", check=False)
    assert_one_line_error(result, "HONGBAO_BIP39_PASSPHRASE")


def test_import_private_key_files(cli, anvil_vault, tmp_path):
    key_a = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    key_b = "8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f"
    file_a = tmp_path / "a.key"
    file_a.write_text(key_a + "\n")
    file_b = tmp_path / "b.key"
    file_b.write_text(key_b + "\n")
    address_a = Account.from_key(key_a).address
    address_b = Account.from_key(bytes.fromhex(key_b)).address

    added = cli.json("wallet", "import", "--wallet", "anvil", "--private-key-file", str(file_a), "--label", "hot")
    assert added["accounts"] == [{"index": 1, "kind": "imported", "path": None, "address": address_a, "label": "hot"}]
    added = cli.json("wallet", "import", "--wallet", "anvil", "--private-key-file", str(file_b))
    assert [(a["index"], a["kind"], a["address"]) for a in added["accounts"]] == [(2, "imported", address_b)]
    for text in (key_a, key_b):
        assert text not in json.dumps(added)

    rows = cli.json("wallet", "list", "--wallet", "anvil")
    assert [(r["index"], r["kind"], r["address"]) for r in rows] == [
        (0, "hd", ANVIL0),
        (1, "imported", address_a),
        (2, "imported", address_b),
    ]
    signature = cli("wallet", "sign-message", "--wallet", "anvil", "--index", "2", "imported").stdout.strip()
    assert Account.recover_message(encode_defunct(text="imported"), signature=signature) == address_b
    assert (
        cli.json("wallet", "reveal", "--wallet", "anvil", "--private-key", "--index", "1", "--yes")["private_key"]
        == key_a
    )

    # the same key twice, or a key the phrase already holds, is refused and changes nothing
    before = anvil_vault.read_bytes()
    result = cli("wallet", "import", "--wallet", "anvil", "--private-key-file", str(file_a), check=False)
    assert_one_line_error(result, address_a, "already account 1")
    anvil_key = tmp_path / "anvil0.key"
    anvil_key.write_text(ANVIL0_KEY[2:] + "\n")
    result = cli("wallet", "import", "--wallet", "anvil", "--private-key-file", str(anvil_key), check=False)
    assert_one_line_error(result, ANVIL0, "already account 0")
    assert anvil_vault.read_bytes() == before


def test_import_bad_private_key_file(cli, anvil_vault, tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("0x1234\n")
    assert_one_line_error(
        cli("wallet", "import", "--wallet", "anvil", "--private-key-file", str(bad), check=False), "32 bytes"
    )
    bad.write_text("not hex at all\n")
    assert_one_line_error(
        cli("wallet", "import", "--wallet", "anvil", "--private-key-file", str(bad), check=False), "hex"
    )
    missing = tmp_path / "missing.key"
    assert_one_line_error(
        cli("wallet", "import", "--wallet", "anvil", "--private-key-file", str(missing), check=False), str(missing)
    )


def test_import_keystore(cli, hongbao_home, tmp_path):
    vector = load_vector("keystore-v3-basic.json")["test1"]
    assert vector["json"]["crypto"]["kdf"] == "pbkdf2"
    file = write_json(tmp_path / "ks.json", vector["json"])
    expected = Account.from_key(bytes.fromhex(vector["priv"])).address

    result = cli(
        "wallet",
        "import",
        "--wallet",
        "ks",
        "--keystore",
        str(file),
        *FAST_KDF,
        check=False,
        env={"HONGBAO_KEYSTORE_PASSWORD": "wrong password"},
    )
    assert_one_line_error(result, "wrong password", str(file))
    assert not vault_path(hongbao_home, "ks").exists()

    result = cli("wallet", "import", "--wallet", "ks", "--keystore", str(file), *FAST_KDF, check=False)
    assert_one_line_error(result, "HONGBAO_KEYSTORE_PASSWORD")

    data = cli.json(
        "wallet",
        "import",
        "--wallet",
        "ks",
        "--keystore",
        str(file),
        *FAST_KDF,
        env={"HONGBAO_KEYSTORE_PASSWORD": vector["password"]},
    )
    assert [(a["index"], a["kind"], a["address"]) for a in data["accounts"]] == [(0, "imported", expected)]
    revealed = cli.json("wallet", "reveal", "--wallet", "ks", "--private-key", "--index", "0", "--yes")
    assert revealed == {"address": expected, "private_key": "0x" + vector["priv"]}
    # a key-only wallet has no phrase
    assert_one_line_error(cli("wallet", "reveal", "--wallet", "ks", "--yes", check=False), "no recovery phrase")


def test_import_watch_only(cli, anvil_vault):
    data = cli.json("wallet", "import", "--wallet", "anvil", "--watch", ANVIL1.lower(), "--label", "friend")
    assert data["accounts"] == [{"index": 1, "kind": "watch", "path": None, "address": ANVIL1, "label": "friend"}]
    assert cli.json("wallet", "address", "--wallet", "anvil", "--index", "1")["address"] == ANVIL1
    result = cli("wallet", "sign-message", "--wallet", "anvil", "--index", "1", "hi", check=False)
    assert_one_line_error(result, "watch-only")
    assert result.stdout == ""
    result = cli(
        "wallet",
        "export-keystore",
        "--wallet",
        "anvil",
        "--index",
        "1",
        "--out",
        str(anvil_vault.parent / "x.json"),
        *FAST_SCRYPT,
        check=False,
    )
    assert_one_line_error(result, "watch-only")
    before = anvil_vault.read_bytes()
    assert_one_line_error(
        cli("wallet", "import", "--wallet", "anvil", "--watch", ANVIL1, check=False), "already account 1"
    )
    assert_one_line_error(
        cli("wallet", "import", "--wallet", "anvil", "--watch", ANVIL0, check=False), "already account 0"
    )
    # a mixed-case address with a wrong EIP-55 checksum is a typo
    typo = "0x" + ANVIL1[2:].swapcase()
    assert_one_line_error(cli("wallet", "import", "--wallet", "anvil", "--watch", typo, check=False), "checksum")
    assert anvil_vault.read_bytes() == before


def test_import_only_one_source(cli, anvil_vault, tmp_path):
    key = tmp_path / "k"
    key.write_text(ANVIL0_KEY)
    result = cli(
        "wallet", "import", "--wallet", "anvil", "--private-key-file", str(key), "--watch", ANVIL1, check=False
    )
    assert_one_line_error(result, "only one")


# -- 5. derive --------------------------------------------------------------------------------


def test_derive_count_and_path(cli, anvil_vault):
    added = cli.json("wallet", "derive", "--wallet", "anvil", "--count", "2")
    assert [(a["index"], a["path"], a["address"]) for a in added] == [
        (1, "m/44'/60'/0'/0/1", ANVIL1),
        (2, "m/44'/60'/0'/0/2", anvil_address(2)),
    ]
    added = cli.json("wallet", "derive", "--wallet", "anvil", "--path", "m/44'/60'/0'/0/7", "--label", "seven")
    assert added == [
        {"index": 3, "kind": "hd", "path": "m/44'/60'/0'/0/7", "address": anvil_address(7), "label": "seven"}
    ]
    # the next plain derive fills index 3 of the scheme, not 8
    added = cli.json("wallet", "derive", "--wallet", "anvil")
    assert [(a["index"], a["path"]) for a in added] == [(4, "m/44'/60'/0'/0/3")]
    assert [r["index"] for r in cli.json("wallet", "list", "--wallet", "anvil")] == [0, 1, 2, 3, 4]
    before = anvil_vault.read_bytes()
    result = cli("wallet", "derive", "--wallet", "anvil", "--path", "m/44h/60h/0h/0/7", check=False)
    assert_one_line_error(result, "already account 3")
    assert anvil_vault.read_bytes() == before


@pytest.mark.parametrize("path", ["m/44'/x", "44'/60'/0'/0/0", "m/44'/60'/0'/0/2147483648"])
def test_derive_bad_path_fails_before_the_password(cli, anvil_vault, path):
    before = anvil_vault.read_bytes()
    result = without(cli, "HONGBAO_PASSWORD")("wallet", "derive", "--wallet", "anvil", "--path", path, check=False)
    line = assert_one_line_error(result, "derivation path")
    assert "password" not in line.lower()
    assert anvil_vault.read_bytes() == before


# -- 6. address and label ------------------------------------------------------------------


def test_address_json_and_human_with_qr(cli, anvil_vault):
    assert cli.json("wallet", "address", "--wallet", "anvil") == {
        "index": 0,
        "kind": "hd",
        "path": "m/44'/60'/0'/0/0",
        "address": ANVIL0,
        "label": "",
        "wallet": "anvil",
    }
    result = without(cli, "HONGBAO_PASSWORD")("wallet", "address", "--wallet", "anvil")
    lines = result.stdout.splitlines()
    assert lines[0] == ANVIL0
    qr = lines[1:]
    assert len(qr) > 10
    assert BLOCK_CHARS & set("".join(qr))
    no_qr = cli("wallet", "address", "--wallet", "anvil", "--no-qr").stdout
    assert no_qr == ANVIL0 + "\n"


def test_label_needs_no_password(cli, anvil_vault):
    nopw = without(cli, "HONGBAO_PASSWORD")
    result = nopw("wallet", "label", "--wallet", "anvil", "--index", "0", "cold storage")
    assert "cold storage" in result.stdout
    assert cli.json("wallet", "list", "--wallet", "anvil")[0]["label"] == "cold storage"
    assert nopw.json("wallet", "label", "--wallet", "anvil", "--index", "0", "savings")["label"] == "savings"
    assert cli.json("wallet", "address", "--wallet", "anvil")["label"] == "savings"
    # relabelling does not break the sealed account list
    signature = cli("wallet", "sign-message", "--wallet", "anvil", "after label").stdout.strip()
    assert Account.recover_message(encode_defunct(text="after label"), signature=signature) == ANVIL0


# -- 7. reveal --------------------------------------------------------------------------------


def test_reveal_needs_yes_without_a_terminal(cli, anvil_vault):
    for args in (["--json"], [], ["--private-key", "--index", "0"]):
        result = cli("wallet", "reveal", "--wallet", "anvil", *args, check=False)
        assert_one_line_error(result, "--yes")
        assert result.stdout == ""
        assert "junk" not in result.stderr and ANVIL0_KEY[2:] not in result.stderr


def test_reveal_with_yes(cli, anvil_vault):
    assert cli.json("wallet", "reveal", "--wallet", "anvil", "--yes") == {
        "mnemonic": ANVIL_MNEMONIC,
        "language": "english",
        "passphrase": False,
    }
    human = cli("wallet", "reveal", "--wallet", "anvil", "--yes", env={"COLUMNS": "300"}).stdout
    assert " 1. test" in human and "11. test" in human and "12. junk" in human
    assert (
        cli("wallet", "reveal", "--wallet", "anvil", "--private-key", "--index", "0", "--yes").stdout
        == ANVIL0_KEY + "\n"
    )
    assert cli.json("wallet", "reveal", "--wallet", "anvil", "--private-key", "--index", "0", "--yes") == {
        "address": ANVIL0,
        "private_key": ANVIL0_KEY,
    }


def test_reveal_wrong_password_shows_nothing(cli, anvil_vault):
    result = cli(
        "wallet", "reveal", "--wallet", "anvil", "--yes", check=False, env={"HONGBAO_PASSWORD": "wrong password"}
    )
    assert_one_line_error(result, "wrong password")
    assert result.stdout == "" and "junk" not in result.stderr


# -- 8. change-password ----------------------------------------------------------------------


def test_change_password(cli, anvil_vault):
    new = "a brand new password"
    cli("wallet", "change-password", "--wallet", "anvil", *FAST_KDF, env={"HONGBAO_NEW_PASSWORD": new})
    result = cli("wallet", "sign-message", "--wallet", "anvil", "x", check=False)
    assert_one_line_error(result, "wrong password", str(anvil_vault))
    with_new = {"HONGBAO_PASSWORD": new}
    signature = cli("wallet", "sign-message", "--wallet", "anvil", "x", env=with_new).stdout.strip()
    assert Account.recover_message(encode_defunct(text="x"), signature=signature) == ANVIL0
    assert cli.json("wallet", "reveal", "--wallet", "anvil", "--yes", env=with_new)["mnemonic"] == ANVIL_MNEMONIC
    assert stat.S_IMODE(anvil_vault.stat().st_mode) == 0o600


def test_change_password_too_short_changes_nothing(cli, anvil_vault):
    before = anvil_vault.read_bytes()
    result = cli(
        "wallet",
        "change-password",
        "--wallet",
        "anvil",
        *FAST_KDF,
        env={"HONGBAO_NEW_PASSWORD": "1234567"},
        check=False,
    )
    assert_one_line_error(result, "too short", "8")
    assert anvil_vault.read_bytes() == before
    result = cli("wallet", "change-password", "--wallet", "anvil", *FAST_KDF, check=False)
    assert_one_line_error(result, "HONGBAO_NEW_PASSWORD")
    assert anvil_vault.read_bytes() == before
    cli("wallet", "sign-message", "--wallet", "anvil", "old password still works")


# -- 9. typed data and transactions ----------------------------------------------------------


@pytest.fixture
def mail(cli, tmp_path):
    """Wallet 'mail' holding the EIP-712 example's key; returns (vector, typed data file)."""
    vector = load_vector("eip712-mail.json")
    key_file = tmp_path / "cow.key"
    key_file.write_text(vector["private_key"] + "\n")
    cli("wallet", "import", "--wallet", "mail", "--private-key-file", str(key_file), *FAST_KDF)
    return vector, write_json(tmp_path / "mail.json", vector["typed_data"])


def test_sign_typed_data_matches_the_eip712_example(cli, mail):
    vector, file = mail
    expected = "0x" + vector["r"][2:] + vector["s"][2:] + format(vector["v"], "02x")
    result = cli("wallet", "sign-typed-data", "--wallet", "mail", "--index", "0", str(file))
    assert result.stdout == expected + "\n"
    data = cli.json("wallet", "sign-typed-data", "--wallet", "mail", str(file))
    assert data == {"address": vector["address"], "signature": expected, "digest": vector["digest"]}
    assert cli("wallet", "verify", "--typed-data", str(file), "-s", expected).stdout.strip() == vector["address"]
    assert (
        cli.json("wallet", "verify", "--typed-data", str(file), "-s", expected, "--address", vector["address"])[
            "matches"
        ]
        is True
    )
    # a changed message no longer verifies as the cow
    other = json.loads(json.dumps(vector["typed_data"]))
    other["message"]["contents"] = "Hello, Eve!"
    other_file = write_json(file.parent / "other.json", other)
    result = cli(
        "wallet", "verify", "--typed-data", str(other_file), "-s", expected, "--address", vector["address"], check=False
    )
    assert_one_line_error(result, vector["address"])


def test_sign_typed_data_invalid_fails_before_the_password(cli, mail):
    vector, file = mail
    broken = json.loads(json.dumps(vector["typed_data"]))
    broken["types"]["Mail"][0]["type"] = "Nope"
    broken_file = write_json(file.parent / "broken.json", broken)
    result = without(cli, "HONGBAO_PASSWORD")(
        "wallet", "sign-typed-data", "--wallet", "mail", str(broken_file), check=False
    )
    assert_one_line_error(result, "EIP-712")
    not_json = file.parent / "not.json"
    not_json.write_text("{ nope")
    assert_one_line_error(
        cli("wallet", "sign-typed-data", "--wallet", "mail", str(not_json), check=False), str(not_json), "JSON"
    )


def _decode_legacy_v(raw: str) -> int:
    import rlp

    fields = rlp.decode(bytes.fromhex(raw[2:]))
    return int.from_bytes(fields[6], "big")


def test_sign_tx_eip1559_and_legacy(cli, anvil_vault, tmp_path):
    eip1559 = write_json(
        tmp_path / "tx1559.json",
        {
            "chainId": 31337,
            "nonce": 0,
            "gas": 21000,
            "maxFeePerGas": "0x77359400",
            "maxPriorityFeePerGas": "1000000000",
            "to": ANVIL1,
            "value": "1000000000000000000",
            "data": "0x",
        },
    )
    legacy = write_json(
        tmp_path / "legacy.json",
        {
            "chainId": 1,
            "nonce": "0x5",
            "gas": 21000,
            "gasPrice": 20000000000,
            "to": ANVIL1.lower(),
            "value": 1,
        },
    )
    raw = cli("wallet", "sign-tx", "--wallet", "anvil", str(eip1559)).stdout.strip()
    assert raw.startswith("0x02")
    assert Account.recover_transaction(raw) == ANVIL0
    data = cli.json("wallet", "sign-tx", "--wallet", "anvil", str(eip1559))
    assert data["raw"] == raw and data["from"] == ANVIL0 and data["type"] == 2
    assert data["hash"] == "0x" + keccak(bytes.fromhex(raw[2:])).hex()

    raw = cli("wallet", "sign-tx", "--wallet", "anvil", "--index", "0", str(legacy)).stdout.strip()
    assert int(raw[2:4], 16) >= 0xC0  # an RLP list, not a typed envelope
    assert Account.recover_transaction(raw) == ANVIL0
    assert _decode_legacy_v(raw) in (1 * 2 + 35, 1 * 2 + 36)  # EIP-155 replay protection


@pytest.mark.parametrize(
    "tx, fragment",
    [
        ({"nonce": 0, "gas": 21000, "gasPrice": 1, "to": ANVIL1}, "chainId"),
        ({"chainId": 1, "nonce": 0, "gas": 21000, "to": ANVIL1}, "gasPrice"),
        ({"chainId": 1, "nonce": 0, "gas": 21000, "gasPrice": 1, "maxFeePerGas": 1, "to": ANVIL1}, "gasPrice"),
        ({"chainId": 1, "nonce": -1, "gas": 21000, "gasPrice": 1, "to": ANVIL1}, "nonce"),
        ({"chainId": 1, "nonce": 0, "gas": "lots", "gasPrice": 1, "to": ANVIL1}, "gas"),
        ({"chainId": 1, "nonce": 0, "gas": 21000, "gasPrice": 1, "to": ANVIL1, "colour": "red"}, "colour"),
        (
            {"chainId": 1, "nonce": 0, "gas": 21000, "maxFeePerGas": 1, "maxPriorityFeePerGas": 2, "to": ANVIL1},
            "maxPriorityFeePerGas",
        ),
    ],
    ids=["no-chainId", "no-fee", "both-fees", "negative", "not-int", "unknown-field", "priority-above-max"],
)
def test_sign_tx_invalid_is_a_one_line_error(cli, anvil_vault, tmp_path, tx, fragment):
    file = write_json(tmp_path / "tx.json", tx)
    result = cli("wallet", "sign-tx", "--wallet", "anvil", str(file), check=False)
    assert_one_line_error(result, fragment)
    assert result.stdout == ""


# -- 10. verify ---------------------------------------------------------------------------------


def test_verify_address_mismatch(cli, anvil_vault):
    signature = cli("wallet", "sign-message", "--wallet", "anvil", "pay me").stdout.strip()
    result = cli("wallet", "verify", "pay me", "-s", signature, "--address", ANVIL1, check=False)
    assert_one_line_error(result, ANVIL0, ANVIL1)
    result = cli("wallet", "verify", "pay me", "-s", signature, "--address", ANVIL1.lower(), "--json", check=False)
    assert_one_line_error(result, ANVIL0, ANVIL1)
    assert json.loads(result.stdout) == {"address": ANVIL0, "matches": False}


def _signature_variants() -> dict[str, tuple[str, str]]:
    key = bytes.fromhex(ANVIL0_KEY[2:])
    good = Account.sign_message(encode_defunct(text="m"), key).signature
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    return {
        "short": ("0x1234", "65 bytes"),
        "not-hex": ("0xzz" + "00" * 64, "not hex"),
        "bad-v": ("0x" + (good[:64] + bytes([30])).hex(), "malformed"),
        "high-s": ("0x" + high_s.hex(), "malformed"),
        "too-long": ("0x" + (good + b"\0").hex(), "65 bytes"),
    }


@pytest.mark.parametrize("kind", ["short", "not-hex", "bad-v", "high-s", "too-long"])
def test_verify_malformed_signature(cli, kind):
    signature, fragment = _signature_variants()[kind]
    result = cli("wallet", "verify", "m", "-s", signature, check=False)
    assert_one_line_error(result, fragment)
    assert result.stdout == ""


def test_verify_needs_exactly_one_subject(cli, tmp_path):
    file = write_json(tmp_path / "t.json", load_vector("eip712-mail.json")["typed_data"])
    sig = "0x" + "11" * 65
    assert_one_line_error(cli("wallet", "verify", "-s", sig, check=False), "MESSAGE", "--typed-data")
    assert_one_line_error(cli("wallet", "verify", "m", "--typed-data", str(file), "-s", sig, check=False), "either")


# -- 11. every error path: exit 1, one line, no traceback ----------------------------------


def test_wrong_password_leaves_the_vault_unchanged(cli, anvil_vault):
    before = anvil_vault.read_bytes()
    for args in (["sign-message", "x"], ["derive"], ["change-password", *FAST_KDF], ["reveal", "--yes"]):
        result = cli(
            "wallet",
            *args,
            "--wallet",
            "anvil",
            check=False,
            env={"HONGBAO_PASSWORD": "definitely wrong", "HONGBAO_NEW_PASSWORD": "another new one"},
        )
        assert_one_line_error(result, "wrong password", str(anvil_vault))
    assert anvil_vault.read_bytes() == before


def test_password_file(cli, anvil_vault, tmp_path):
    nopw = without(cli, "HONGBAO_PASSWORD")
    file = tmp_path / "pw"
    file.write_text(PASSWORD + "\nsecond line ignored\n")
    assert nopw("wallet", "sign-message", "--wallet", "anvil", "--password-file", str(file), "x").stdout.startswith(
        "0x"
    )
    file.write_text("wrong password\n")
    assert_one_line_error(
        nopw("wallet", "sign-message", "--wallet", "anvil", "--password-file", str(file), "x", check=False),
        "wrong password",
    )
    missing = tmp_path / "nope"
    assert_one_line_error(
        nopw("wallet", "sign-message", "--wallet", "anvil", "--password-file", str(missing), "x", check=False),
        str(missing),
    )


ERROR_CASES = {
    "missing-wallet": (["wallet", "sign-message", "--wallet", "nope", "x"], {}, ["'nope'", "anvil"]),
    "missing-wallet-list": (["wallet", "list", "--wallet", "nope"], {}, ["'nope'"]),
    "unknown-index": (
        ["wallet", "sign-message", "--wallet", "anvil", "--index", "7", "x"],
        {},
        ["no account 7", "accounts: 0"],
    ),
    "unknown-index-address": (["wallet", "address", "--wallet", "anvil", "--index", "3"], {}, ["no account 3"]),
    "unknown-index-reveal": (
        ["wallet", "reveal", "--wallet", "anvil", "--private-key", "--index", "3", "--yes"],
        {},
        ["no account 3"],
    ),
    "negative-index": (["wallet", "sign-message", "--wallet", "anvil", "--index", "-1", "x"], {}, ["--index"]),
    "unknown-option": (["wallet", "sign-message", "--bogus", "x"], {}, ["--bogus"]),
    "unknown-top-option": (["--bogus"], {}, ["--bogus"]),
    "unknown-command": (["wallet", "bogus"], {}, ["bogus"]),
    "missing-argument": (["wallet", "sign-message", "--wallet", "anvil"], {}, ["MESSAGE"]),
    "bad-choice": (["wallet", "create", "--wallet", "x", "--words", "13"], {}, ["--words"]),
    "bad-language": (["wallet", "create", "--wallet", "x", "--language", "klingon", *FAST_KDF], {}, ["klingon"]),
    "bad-wallet-name": (["wallet", "list", "--wallet", "../etc"], {}, ["not allowed"]),
    "no-password": (
        ["wallet", "sign-message", "--wallet", "anvil", "x"],
        None,
        ["HONGBAO_PASSWORD", "--password-file"],
    ),
    "no-password-create": (["wallet", "create", "--wallet", "x", *FAST_KDF], None, ["HONGBAO_PASSWORD"]),
    "empty-password": (["wallet", "sign-message", "--wallet", "anvil", "x"], {"HONGBAO_PASSWORD": ""}, ["empty"]),
    "short-new-password": (
        ["wallet", "create", "--wallet", "x", *FAST_KDF],
        {"HONGBAO_PASSWORD": "short"},
        ["too short"],
    ),
    "bad-hex-message": (["wallet", "sign-message", "--wallet", "anvil", "--hex", "xyz"], {}, ["hex"]),
    "bad-scrypt-n": (
        ["wallet", "export-keystore", "--wallet", "anvil", "--out", "{tmp}/k.json", "--scrypt-n", "1000"],
        {},
        ["power of two"],
    ),
    "missing-tx-file": (["wallet", "sign-tx", "--wallet", "anvil", "{tmp}/none.json"], {}, ["{tmp}/none.json"]),
    "bad-watch-address": (["wallet", "import", "--wallet", "anvil", "--watch", "0x1234"], {}, ["not an address"]),
    "bad-verify-address": (
        ["wallet", "verify", "m", "-s", SIG_M, "--address", "nope"],
        {},
        ["neither an address nor a saved contact"],
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_paths_are_one_line(cli, anvil_vault, tmp_path, case):
    args, env, fragments = ERROR_CASES[case]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    fragments = [f.replace("{tmp}", str(tmp_path)) for f in fragments]
    runner = without(cli, "HONGBAO_PASSWORD") if env is None else cli
    before = anvil_vault.read_bytes()
    result = runner(*args, env=env or {}, check=False)
    assert_one_line_error(result, *fragments)
    assert anvil_vault.read_bytes() == before
    assert not vault_path(anvil_vault.parent.parent, "x").exists()


def test_truncated_vault_names_the_file(cli, anvil_vault):
    data = anvil_vault.read_bytes()
    anvil_vault.write_bytes(data[: len(data) // 2])
    for args in (
        ["sign-message", "--wallet", "anvil", "x"],
        ["list"],
        ["address", "--wallet", "anvil"],
        ["derive", "--wallet", "anvil"],
    ):
        result = cli("wallet", *args, check=False)
        assert_one_line_error(result, str(anvil_vault))
    assert anvil_vault.read_bytes() == data[: len(data) // 2]


def _flip_offsets(data: bytes) -> dict[str, int]:
    def inside(marker: bytes, skip: int = 5) -> int:
        return data.index(marker) + len(marker) + skip

    return {
        "first-byte": 0,
        "address": inside(b'"address": "0x'),
        "path": inside(b'"path": "m/44', 1),
        "opslimit": inside(b'"opslimit": ', 0),
        "salt": inside(b'"salt": "'),
        "check": inside(b'"check": "'),
        "nonce": inside(b'"nonce": "'),
        "ciphertext": inside(b'"ciphertext": "', 40),
        "checksum": inside(b'"checksum": "', 10),
        "indent": data.index(b"\n  ") + 1,
        "last-brace": len(data) - 2,
    }


@pytest.mark.parametrize(
    "where",
    [
        "first-byte",
        "address",
        "path",
        "opslimit",
        "salt",
        "check",
        "nonce",
        "ciphertext",
        "checksum",
        "indent",
        "last-brace",
    ],
)
def test_one_flipped_byte_names_the_file(cli, anvil_vault, where):
    data = bytearray(anvil_vault.read_bytes())
    offset = _flip_offsets(bytes(data))[where]
    data[offset] ^= 0x01
    anvil_vault.write_bytes(bytes(data))
    result = cli("wallet", "sign-message", "--wallet", "anvil", "x", check=False)
    assert_one_line_error(result, str(anvil_vault))
    assert result.stdout == ""


def test_edited_account_list_is_caught_at_unlock(cli, anvil_vault):
    def swap(body):
        body["accounts"][0]["address"] = ANVIL1

    rewrite_vault(anvil_vault, swap)
    result = cli("wallet", "sign-message", "--wallet", "anvil", "x", check=False)
    assert_one_line_error(result, str(anvil_vault), "edited outside Hongbao")
    result = cli("wallet", "reveal", "--wallet", "anvil", "--private-key", "--yes", check=False)
    assert_one_line_error(result, str(anvil_vault))
    assert ANVIL0_KEY[2:] not in result.stdout + result.stderr


# -- 12. no secret leaks --------------------------------------------------------------------


def test_no_secret_leaks(cli, hongbao_home, tmp_path):
    outputs: list[str] = []

    def run(*args, **kwargs):
        result = cli(*args, **kwargs)
        outputs.append(result.stdout + result.stderr)
        return result

    sigfile = write_json(tmp_path / "tx.json", {"chainId": 1, "nonce": 0, "gas": 21000, "gasPrice": 1, "to": ANVIL1})
    for name, json_flag in (("j", ["--json"]), ("h", [])):
        run("wallet", "create", "--wallet", name, *FAST_KDF, *json_flag)
        run("wallet", "derive", "--wallet", name, *json_flag)
        run("wallet", "list", *json_flag)
        run("wallet", "address", "--wallet", name, *json_flag)
        run("wallet", "sign-message", "--wallet", name, "--index", "1", "hello", *json_flag)
        run("wallet", "sign-tx", "--wallet", name, str(sigfile), *json_flag)
        run(
            "wallet",
            "export-keystore",
            "--wallet",
            name,
            "--out",
            str(tmp_path / f"{name}.json"),
            *FAST_SCRYPT,
            *json_flag,
        )
        run("wallet", "reveal", "--wallet", name, *json_flag, check=False)  # refused: no --yes
        run(
            "wallet",
            "sign-message",
            "--wallet",
            name,
            "x",
            *json_flag,
            check=False,
            env={"HONGBAO_PASSWORD": "wrong guess 12345"},
        )
    everything = "\n".join(outputs)
    assert PASSWORD not in everything
    assert "wrong guess 12345" not in everything
    vaults = "".join(vault_path(hongbao_home, name).read_text() for name in ("j", "h"))
    assert PASSWORD not in vaults
    for name in ("j", "h"):
        phrase = cli.json("wallet", "reveal", "--wallet", name, "--yes")["mnemonic"]
        assert phrase not in everything and phrase not in vaults
        assert " ".join(phrase.split()[:3]) not in everything
        for index in ("0", "1"):
            key = cli.json("wallet", "reveal", "--wallet", name, "--yes", "--private-key", "--index", index)[
                "private_key"
            ]
            assert key[2:].lower() not in everything.lower()
            assert key[2:].lower() not in vaults.lower()


# -- 13. help and import cost --------------------------------------------------------------


def test_help(cli):
    top = cli("--help")
    assert top.returncode == 0 and "wallet" in top.stdout and top.stderr == ""
    group = cli("wallet", "--help")
    assert group.returncode == 0 and group.stderr == ""
    for command in (
        "create",
        "import",
        "list",
        "derive",
        "address",
        "label",
        "export-keystore",
        "reveal",
        "change-password",
        "sign-message",
        "sign-typed-data",
        "sign-tx",
        "verify",
    ):
        assert command in group.stdout
    sub = cli("wallet", "sign-message", "-h")
    assert sub.returncode == 0 and "MESSAGE" in sub.stdout


def test_help_does_not_import_web3_or_eth_account(cli):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli.main", "--help"],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
    )
    assert result.returncode == 0
    modules = [
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]
    assert "click" in modules  # the parse works
    heavy = sorted({m for m in modules if m.split(".")[0] in ("web3", "eth_account")})
    assert heavy == []


def test_verify_does_not_import_web3(cli):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cli.main", "wallet", "verify", "m", "-s", SIG_M],
        capture_output=True,
        text=True,
        env=cli.env,
        timeout=60,
    )
    assert result.returncode == 0 and ANVIL0 in result.stdout
    modules = [
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    ]
    assert "click" in modules
    assert not [m for m in modules if m.split(".")[0] in ("web3", "eth_account")]


# -- regressions: bugs found while writing these tests (now fixed in the product) ----------


@pytest.mark.parametrize("args", [[], ["wallet"]], ids=["hongbao", "hongbao-wallet"])
def test_no_arguments_shows_help_or_one_line_error(cli, args):
    result = cli(*args, check=False)
    if result.returncode == 0:
        assert "Usage:" in result.stdout
    else:
        assert_one_line_error(result)


@pytest.mark.parametrize(
    "field",
    [{"data": "0xzz"}, {"to": 5}, {"to": ["0x00"]}],
    ids=["data-not-hex", "to-number", "to-list"],
)
def test_sign_tx_malformed_field_is_a_one_line_error(cli, anvil_vault, tmp_path, field):
    tx = {"chainId": 1, "nonce": 0, "gas": 21000, "gasPrice": 1, "to": ANVIL1, **field}
    result = cli("wallet", "sign-tx", "--wallet", "anvil", str(write_json(tmp_path / "tx.json", tx)), check=False)
    assert_one_line_error(result, next(iter(field)))


@pytest.mark.parametrize("command", ["sign-tx", "sign-typed-data", "verify"])
def test_non_utf8_json_file_is_a_one_line_error(cli, anvil_vault, tmp_path, command):
    file = tmp_path / "binary.json"
    file.write_bytes(b"\xff\xfe{}")
    if command == "verify":
        args = ["wallet", "verify", "--typed-data", str(file), "-s", "0x" + "11" * 65]
    else:
        args = ["wallet", command, "--wallet", "anvil", str(file)]
    assert_one_line_error(cli(*args, check=False), str(file))


@pytest.mark.parametrize("option", ["--private-key-file", "--password-file"])
def test_non_utf8_secret_file_is_a_one_line_error(cli, anvil_vault, tmp_path, option):
    file = tmp_path / "binary"
    file.write_bytes(b"\xff\xfe\x00\x01")
    if option == "--private-key-file":
        args = ["wallet", "import", "--wallet", "anvil", option, str(file)]
    else:
        args = ["wallet", "sign-message", "--wallet", "anvil", option, str(file), "x"]
    assert_one_line_error(cli(*args, check=False), str(file))


@pytest.mark.parametrize("where", ["chainId-negative", "wallet-not-address", "uint8-overflow"])
def test_typed_data_bad_value_is_a_one_line_error(cli, mail, where):
    vector, file = mail
    typed = json.loads(json.dumps(vector["typed_data"]))
    if where == "chainId-negative":
        typed["domain"]["chainId"] = -1
    elif where == "wallet-not-address":
        typed["message"]["from"]["wallet"] = "0x12"
    else:
        typed["types"]["Person"][0]["type"] = "uint8"
        typed["message"]["from"]["name"] = 300
    bad = write_json(file.parent / "bad.json", typed)
    assert_one_line_error(cli("wallet", "sign-typed-data", "--wallet", "mail", str(bad), check=False), "EIP-712")


def test_export_keystore_unwritable_out_is_a_one_line_error(cli, anvil_vault):
    out = "/proc/hongbao-no-such-dir/k.json"
    assert_one_line_error(
        cli("wallet", "export-keystore", "--wallet", "anvil", "--out", out, *FAST_SCRYPT, check=False), out
    )


def test_export_keystore_parent_is_a_file_error_is_not_misleading(cli, anvil_vault, tmp_path):
    parent = tmp_path / "a-file"
    parent.write_text("x")
    out = parent / "k.json"
    line = assert_one_line_error(
        cli("wallet", "export-keystore", "--wallet", "anvil", "--out", str(out), "--force", *FAST_SCRYPT, check=False)
    )
    assert "pass --force" not in line


@pytest.mark.parametrize("label", ["[/]", "[red]savings[/red]"], ids=["crash", "markup"])
def test_human_list_shows_labels_literally(cli, anvil_vault, label):
    cli("wallet", "label", "--wallet", "anvil", "--index", "0", label)
    assert cli.json("wallet", "list")[0]["label"] == label
    result = cli("wallet", "list", check=False, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert label in result.stdout


def test_human_list_never_truncates_addresses(cli, anvil_vault):
    cli("wallet", "label", "--wallet", "anvil", "--index", "0", "Family savings")
    cli("wallet", "import", "--wallet", "anvil", "--watch", ANVIL1, "--label", "Friend from school")
    result = cli("wallet", "list", env={"COLUMNS": "80"})
    assert ANVIL0 in result.stdout and ANVIL1 in result.stdout


def test_label_prints_nothing_on_stderr(cli, anvil_vault):
    result = cli("wallet", "label", "--wallet", "anvil", "--index", "0", "quiet")
    assert result.stderr == ""


@pytest.mark.parametrize("case", ["unknown-index", "missing-wallet", "truncated-vault"])
def test_label_errors_are_one_line(cli, anvil_vault, case):
    args = ["wallet", "label", "--wallet", "anvil", "--index", "0", "x"]
    fragment = str(anvil_vault)
    if case == "unknown-index":
        args[5], fragment = "5", "no account 5"
    elif case == "missing-wallet":
        args[3], fragment = "nope", "'nope'"
    else:
        anvil_vault.write_bytes(anvil_vault.read_bytes()[:100])
    assert_one_line_error(without(cli, "HONGBAO_PASSWORD")(*args, check=False), fragment)


@pytest.mark.parametrize("command", ["reveal", "create-12", "create-24"])
def test_human_phrase_shows_every_word_at_80_columns(cli, anvil_vault, command):
    narrow = {"COLUMNS": "80"}
    if command == "reveal":
        shown = cli("wallet", "reveal", "--wallet", "anvil", "--yes", env=narrow).stdout
        name = "anvil"
    else:
        name = "new"
        words = command.split("-")[1]
        shown = cli(
            "wallet", "create", "--wallet", name, "--words", words, "--show-mnemonic", *FAST_KDF, env=narrow
        ).stdout
    phrase = cli.json("wallet", "reveal", "--wallet", name, "--yes")["mnemonic"]
    for position, word in enumerate(phrase.split(), 1):
        assert f"{position:>2}. {word}" in shown, f"word {position} missing"


def test_address_verify_catches_a_swapped_address(cli, anvil_vault):
    assert cli.json("wallet", "address", "--wallet", "anvil", "--verify")["address"] == ANVIL0
    import hashlib as _hashlib

    from wallet import vault as _vault

    body = json.loads(anvil_vault.read_text())
    body.pop("checksum")
    body["accounts"][0]["address"] = ANVIL1
    body["checksum"] = _hashlib.sha256(_vault.canonical(body)).hexdigest()
    anvil_vault.write_text(json.dumps(body))
    assert cli.json("wallet", "address", "--wallet", "anvil")["address"] == ANVIL1  # unverified: as stored
    assert_one_line_error(
        cli("wallet", "address", "--wallet", "anvil", "--verify", check=False), "edited outside Hongbao"
    )
