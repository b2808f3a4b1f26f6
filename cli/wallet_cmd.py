"""`hongbao wallet ...`: keys, accounts and signatures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from wallet import hd, keyring, signing, vault
from wallet.errors import WalletError

from . import names, secrets
from .output import console, emit, json_option, note, table
from .wallets import open_wallet, pick_name, store, unlock, unlock_wallet

WALLET_ENV = "HONGBAO_WALLET"

wallet_option = click.option(
    "--wallet", "wallet_name", envvar=WALLET_ENV, help="Wallet name (default: 'default', or the only wallet)."
)
password_file_option = click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the wallet password from this file's first line.",
)
index_option = click.option(
    "--index",
    "-i",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Account number (see `hongbao wallet list`).",
)
kdf_option = click.option(
    "--kdf",
    type=click.Choice(list(vault.ARGON2ID_PRESETS)),
    default=vault.DEFAULT_PRESET,
    show_default=True,
    help="Argon2id cost preset for the password.",
)
scheme_option = click.option(
    "--scheme",
    type=click.Choice(list(hd.SCHEMES)),
    default=hd.DEFAULT_SCHEME,
    show_default=True,
    help="Account path scheme (bip44: MetaMask/Foundry; ledger-live: Ledger Live).",
)


def account_json(account: keyring.Account, wallet: str | None = None) -> dict:
    data = account.to_json()
    if wallet is not None:
        data["wallet"] = wallet
    return data


def show_accounts(wallet_name: str, accounts: list[keyring.Account]) -> None:
    table(
        f"wallet {wallet_name}",
        ["index", "address", "path / kind", "label"],
        [[a.index, a.address, a.path or a.kind, a.label] for a in accounts],
    )


@click.group()
def wallet() -> None:
    """Keys: create, import, derive, sign, verify, export."""


@wallet.command()
@wallet_option
@click.option(
    "--words", type=click.Choice(["12", "24"]), default="12", show_default=True, help="Recovery phrase length."
)
@click.option(
    "--language", default="english", show_default=True, help="Wordlist: english, chinese_simplified (zh), ..."
)
@click.option(
    "--passphrase", "use_passphrase", is_flag=True, help="Add a BIP39 passphrase (prompt or HONGBAO_BIP39_PASSPHRASE)."
)
@click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the BIP39 passphrase from a file."
)
@click.option(
    "--accounts",
    "count",
    type=click.IntRange(min=1, max=10_000),
    default=1,
    show_default=True,
    help="Accounts to derive now.",
)
@click.option("--show-mnemonic", is_flag=True, help="Print the new recovery phrase (it is shown in a terminal anyway).")
@scheme_option
@kdf_option
@password_file_option
@json_option
def create(
    wallet_name,
    words,
    language,
    use_passphrase,
    passphrase_file,
    count,
    show_mnemonic,
    scheme,
    kdf,
    password_file,
    as_json,
):
    """Create a wallet with a new recovery phrase."""
    from wallet import bip39

    name = pick_name(wallet_name, creating=True)
    if store().path(name).exists():
        raise WalletError(f"wallet {name!r} already exists; pick another --wallet name")
    phrase = bip39.generate(int(words), language)
    passphrase = secrets.bip39_passphrase(use_passphrase, passphrase_file)
    password = secrets.new_password(password_file)
    unlocked = store().create_from_mnemonic(
        name, phrase, password, passphrase=passphrase, language=language, preset=kdf, accounts=count, scheme=scheme
    )
    reveal = show_mnemonic or (secrets.interactive() and not as_json)
    data = {"wallet": name, "file": str(unlocked.wallet.path), "accounts": [account_json(a) for a in unlocked.accounts]}
    if reveal and as_json:
        data["mnemonic"] = phrase

    def human() -> None:
        show_accounts(name, unlocked.accounts)
        if reveal:
            show = lambda: _print_phrase(phrase, bip39.language_name(language), bool(passphrase))  # noqa: E731
            show()
            if secrets.interactive():
                from .services.recovery import confirm_written

                confirm_written(
                    phrase,
                    show,
                    lambda question: click.prompt(question, default="", show_default=False, err=True),
                    lambda text: click.echo(text, err=True),
                )
        else:
            note(f"Write down the recovery phrase now: [bold]hongbao wallet reveal --wallet {name}[/]")

    emit(as_json, data, human)


def _print_phrase(phrase: str, language: str, has_passphrase: bool) -> None:
    from rich.panel import Panel
    from rich.table import Table

    words = phrase.split()
    grid = Table.grid(padding=(0, 3))
    per_row = 4  # 4 x "24. abandon" fits 80 columns with room to spare: no word is ever cut
    for _ in range(per_row):
        grid.add_column(no_wrap=True)
    numbered = [f"{i:>2}. {w}" for i, w in enumerate(words, 1)]
    for start in range(0, len(numbered), per_row):
        grid.add_row(*numbered[start : start + per_row])
    extra = "\nThis wallet also needs its BIP39 passphrase to recover." if has_passphrase else ""
    console().print(
        Panel(
            grid,
            title=f"recovery phrase ({language}, {len(words)} words)",
            subtitle="anyone with these words owns the funds",
            expand=False,
        )
    )
    console().print(f"Write it on paper; never type it into a website.{extra}")


@wallet.command("import")
@wallet_option
@click.option(
    "--private-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import a raw hex private key from this file.",
)
@click.option(
    "--keystore",
    "keystore_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Import a Web3 Secret Storage v3 keystore (geth, cast, MetaMask).",
)
@click.option(
    "--keystore-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The keystore's password (else HONGBAO_KEYSTORE_PASSWORD or a prompt).",
)
@click.option("--watch", "watch_address", metavar="ADDRESS", help="Add a watch-only address (no key).")
@click.option("--label", default="", help="Label for the imported account.")
@click.option("--language", default=None, help="Wordlist of the phrase (detected if omitted).")
@click.option(
    "--passphrase",
    "use_passphrase",
    is_flag=True,
    help="The phrase has a BIP39 passphrase (prompt or HONGBAO_BIP39_PASSPHRASE).",
)
@click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the BIP39 passphrase from a file."
)
@click.option(
    "--accounts",
    "count",
    type=click.IntRange(min=1, max=10_000),
    default=1,
    show_default=True,
    help="Accounts to derive from the phrase.",
)
@scheme_option
@kdf_option
@password_file_option
@json_option
def import_(
    wallet_name,
    private_key_file,
    keystore_file,
    keystore_password_file,
    watch_address,
    label,
    language,
    use_passphrase,
    passphrase_file,
    count,
    scheme,
    kdf,
    password_file,
    as_json,
):
    """Import a recovery phrase (prompt, or stdin when piped), a key, a keystore or a watch-only address.

    A phrase makes a new wallet. A key, keystore or address is added to the wallet if it
    exists, or makes a new wallet holding just that account.
    """
    sources = [s for s in (private_key_file, keystore_file, watch_address) if s is not None]
    if len(sources) > 1:
        raise WalletError("give only one of --private-key-file, --keystore, --watch")
    name = pick_name(wallet_name, creating=True)
    if not sources:
        if store().path(name).exists():
            raise WalletError(f"wallet {name!r} already exists; import the phrase under another --wallet name")
        phrase = secrets.mnemonic_input()
        from wallet import bip39

        phrase, language = bip39.check(phrase, language)  # fail before asking for passwords
        passphrase = secrets.bip39_passphrase(use_passphrase, passphrase_file)
        password = secrets.new_password(password_file)
        unlocked = store().create_from_mnemonic(
            name, phrase, password, passphrase=passphrase, language=language, preset=kdf, accounts=count, scheme=scheme
        )
        added = unlocked.accounts
    else:
        key = None
        if private_key_file is not None:
            key = keyring.parse_private_key(secrets.read_secret_file(private_key_file, "private key"))
        elif keystore_file is not None:
            key = _read_keystore(keystore_file, keystore_password_file)
        else:
            watch_address = names.address(watch_address)
        if store().path(name).exists():
            unlocked = unlock(name, password_file)
        else:
            unlocked = store().create_empty(name, secrets.new_password(password_file), preset=kdf)
        added = [unlocked.add_private_key(key, label) if key is not None else unlocked.add_watch(watch_address, label)]
    emit(
        as_json,
        {"wallet": name, "file": str(unlocked.wallet.path), "accounts": [account_json(a) for a in added]},
        lambda: show_accounts(name, added),
    )


def _read_keystore(path: Path, password_file: Path | None) -> bytes:
    from wallet import keystore

    try:
        data = path.read_bytes()
    except OSError as error:
        raise WalletError(f"cannot read keystore {path}: {error.strerror}") from None
    document = keystore.parse(data, str(path))
    password = secrets.obtain(
        what="keystore password",
        env=secrets.KEYSTORE_PASSWORD_ENV,
        file=password_file,
        label=f"Password of {path.name}",
    )
    return keystore.decrypt(document, password, str(path))


@wallet.command("list")
@wallet_option
@json_option
def list_(wallet_name, as_json):
    """List accounts (of every wallet, or of --wallet)."""
    names = [keyring.check_name(wallet_name)] if wallet_name else store().names()
    wallets = [store().open(n) for n in names]
    rows = [account_json(a, w.name) for w in wallets for a in w.accounts]

    def human() -> None:
        if not wallets:
            note("No wallets yet: [bold]hongbao wallet create[/] or [bold]hongbao wallet import[/]")
        for w in wallets:
            show_accounts(w.name, w.accounts)

    emit(as_json, rows, human)


@wallet.command()
@wallet_option
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=1, max=10_000),
    default=1,
    show_default=True,
    help="How many accounts to add.",
)
@click.option("--path", "path", help="Derive exactly this BIP32 path (e.g. m/44'/60'/0'/0/7).")
@click.option("--label", default="", help="Label for the new account(s).")
@click.option(
    "--scheme",
    type=click.Choice(list(hd.SCHEMES)),
    help="Path scheme (default: the one the wallet already uses, else bip44).",
)
@password_file_option
@json_option
def derive(wallet_name, count, path, label, scheme, password_file, as_json):
    """Add accounts derived from the wallet's recovery phrase."""
    if path is not None:
        hd.parse_path(path)  # a bad path fails before the password prompt
    unlocked = unlock(wallet_name, password_file)
    added = unlocked.derive(count, scheme, path, label)
    emit(as_json, [account_json(a) for a in added], lambda: show_accounts(unlocked.wallet.name, added))


@wallet.command()
@wallet_option
@index_option
@click.option("--qr/--no-qr", default=True, help="Draw a QR code of the address.")
@click.option("--verify", is_flag=True, help="Unlock and re-derive the address from its key before showing it.")
@password_file_option
@json_option
def address(wallet_name, index, qr, verify, password_file, as_json):
    """Show an account's address (and a QR code to scan it).

    Without a password this shows the wallet file's public part as stored; before giving
    an address to someone for a large payment, add --verify: it unlocks the wallet and
    checks the address against its key, so an edited file cannot swap it.
    """
    w = open_wallet(wallet_name)
    account = w.account(index)
    if verify:
        unlocked = unlock_wallet(w, password_file)
        if account.kind != "watch":
            unlocked.private_key(index)  # raises VaultCorrupt unless the key gives this address

    def human() -> None:
        click.echo(account.address)
        if qr:
            import segno

            segno.make(account.address, error="m").terminal(compact=True, border=2)

    emit(as_json, account_json(account, w.name), human)


@wallet.command()
@wallet_option
@index_option
@click.argument("text")
@json_option
def label(wallet_name, index, text, as_json):
    """Set an account's label (no password needed: labels are not secret)."""
    account = open_wallet(wallet_name).set_label(index, text)
    emit(
        as_json, account_json(account), lambda: click.echo(f"account {account.index} is now labelled {account.label!r}")
    )


@wallet.command("export-keystore")
@wallet_option
@index_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keystore file to write (mode 0600).",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--scrypt-n", type=int, default=262144, show_default=True, help="scrypt cost (power of two).")
@click.option(
    "--keystore-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Password for the keystore (else HONGBAO_KEYSTORE_PASSWORD, a prompt, or the wallet password).",
)
@password_file_option
@json_option
def export_keystore(wallet_name, index, out, force, scrypt_n, keystore_password_file, password_file, as_json):
    """Write an account as a Web3 Secret Storage v3 keystore (geth, cast, MetaMask read it).

    Without a terminal and without a keystore password of its own, the keystore is
    encrypted with the wallet password.
    """
    from wallet import atomic, keystore

    if out.exists() and not force:
        raise WalletError(f"{out} exists; pass --force to overwrite it")
    unlocked = unlock(wallet_name, password_file)
    key = unlocked.private_key(index)
    wallet_password = (
        None
        if secrets.interactive() or keystore_password_file or secrets.KEYSTORE_PASSWORD_ENV in os.environ
        else secrets.password(password_file)
    )
    password = secrets.obtain(
        what="keystore password",
        env=secrets.KEYSTORE_PASSWORD_ENV,
        file=keystore_password_file,
        label="Keystore password",
        confirm=True,
        fallback=wallet_password,
    )
    document = keystore.encrypt(key, password, scrypt_n=scrypt_n)
    data = json.dumps(document, indent=2).encode() + b"\n"
    try:
        (atomic.write_bytes if force else atomic.create_exclusive)(out, data)
    except FileExistsError:
        if out.exists() and not force:
            raise WalletError(f"{out} exists; pass --force to overwrite it") from None
        raise WalletError(f"cannot write {out}: a parent of it is a file, not a folder") from None
    except OSError as error:
        raise WalletError(f"cannot write {out}: {error.strerror or error}") from None
    account = unlocked.wallet.account(index)
    emit(
        as_json,
        {"address": account.address, "file": str(out)},
        lambda: click.echo(f"wrote {out} ({account.address}, scrypt n={scrypt_n})"),
    )


@wallet.command()
@wallet_option
@index_option
@click.option(
    "--private-key", "private_key", is_flag=True, help="Reveal one account's private key instead of the phrase."
)
@click.option("--yes", is_flag=True, help="Skip the confirmation (scripts).")
@password_file_option
@json_option
def reveal(wallet_name, index, private_key, yes, password_file, as_json):
    """Show the recovery phrase (or a private key). Needs the password and a confirmation."""
    what = f"the private key of account {index:d}" if private_key else "the recovery phrase"
    unlocked = unlock(wallet_name, password_file)
    if not yes:
        if not secrets.interactive():
            raise WalletError(f"revealing {what} needs a confirmation: pass --yes")
        answer = click.prompt(
            f"Anyone who sees {what} can take the funds. Type 'reveal' to show it", default="", show_default=False
        )
        if answer.strip() != "reveal":
            raise WalletError("not confirmed; nothing shown")
    if private_key:
        secret = "0x" + unlocked.private_key(index).hex()
        emit(
            as_json,
            {"address": unlocked.wallet.account(index).address, "private_key": secret},
            lambda: click.echo(secret),
        )
        return
    phrase, language, has_passphrase = unlocked.mnemonic()
    emit(
        as_json,
        {"mnemonic": phrase, "language": language, "passphrase": has_passphrase},
        lambda: _print_phrase(phrase, language, has_passphrase),
    )


@wallet.command("change-password")
@wallet_option
@click.option(
    "--new-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the new password from a file (else HONGBAO_NEW_PASSWORD or a prompt).",
)
@kdf_option
@password_file_option
@json_option
def change_password(wallet_name, new_password_file, kdf, password_file, as_json):
    """Re-seal the wallet under a new password (atomic: the old file stays until the new one is complete)."""
    unlocked = unlock(wallet_name, password_file)
    new = secrets.new_password(new_password_file, env=secrets.NEW_PASSWORD_ENV, what="new password")
    unlocked.change_password(new, kdf)
    emit(
        as_json,
        {"wallet": unlocked.wallet.name, "file": str(unlocked.wallet.path)},
        lambda: click.echo(f"password changed for wallet {unlocked.wallet.name!r}"),
    )


def _message_bytes(message: str, is_hex: bool) -> bytes:
    if not is_hex:
        return message.encode("utf-8")
    try:
        return bytes.fromhex(message.removeprefix("0x"))
    except ValueError:
        raise WalletError("--hex was given but the message is not hex") from None


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise WalletError(f"cannot read {what} {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise WalletError(f"{path} is not UTF-8 text: is it the right {what} file?") from None
    except json.JSONDecodeError as error:
        raise WalletError(f"{path} is not valid JSON (line {error.lineno}): fix the {what}") from None
    if not isinstance(data, dict):
        raise WalletError(f"{path} must hold a JSON object ({what})")
    return data


@wallet.command("sign-message")
@wallet_option
@index_option
@click.argument("message")
@click.option("--hex", "is_hex", is_flag=True, help="MESSAGE is hex bytes, not text.")
@password_file_option
@json_option
def sign_message(wallet_name, index, message, is_hex, password_file, as_json):
    """Sign a personal message (EIP-191, like personal_sign); prints the signature.

    Refuses a message that Hongbao itself would treat as a signed statement (an identity
    bundle): nobody can get you to vouch for their keys this way."""
    from messaging.identity import is_statement

    data = _message_bytes(message, is_hex)
    if is_statement(data):
        raise WalletError(
            "refused: this message is a Hongbao messaging identity, which would let whoever asked read your chats; Hongbao signs its own (`hongbao relay use URL`)"
        )
    unlocked = unlock(wallet_name, password_file)
    signature = "0x" + signing.sign_message(unlocked.private_key(index), data).hex()
    emit(
        as_json,
        {"address": unlocked.wallet.account(index).address, "signature": signature},
        lambda: click.echo(signature),
    )


@wallet.command("sign-typed-data")
@wallet_option
@index_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@password_file_option
@json_option
def sign_typed_data(wallet_name, index, file, password_file, as_json):
    """Sign EIP-712 typed data read from a JSON file (types, primaryType, domain, message).

    Refuses typed data under a Hongbao domain: only Hongbao signs its own statements."""
    from messaging.identity import is_hongbao_domain

    typed = _read_json(file, "typed data")
    if is_hongbao_domain(typed):
        raise WalletError(
            "refused: this is Hongbao typed data (a messaging identity), which would let whoever asked read your chats; Hongbao signs its own (`hongbao relay use URL`)"
        )
    from contracts.protocols.seaport import is_seaport_order

    if is_seaport_order(typed):
        raise WalletError(
            "refused: this is a Seaport order, which would let whoever holds it take what it offers; make offers with `hongbao trade offer`"
        )
    digest = signing.typed_data_hash(typed)  # invalid data fails before the password prompt
    unlocked = unlock(wallet_name, password_file)
    signature = "0x" + signing.sign_hash(unlocked.private_key(index), digest).hex()
    emit(
        as_json,
        {"address": unlocked.wallet.account(index).address, "signature": signature, "digest": "0x" + digest.hex()},
        lambda: click.echo(signature),
    )


@wallet.command("sign-tx")
@wallet_option
@index_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@password_file_option
@json_option
def sign_tx(wallet_name, index, file, password_file, as_json):
    """Sign a transaction from a JSON file (EIP-1559 with maxFeePerGas, or legacy with gasPrice).

    Prints the raw signed transaction for eth_sendRawTransaction. Nothing is broadcast.
    """
    tx = signing.normalize_transaction(_read_json(file, "transaction"))
    unlocked = unlock(wallet_name, password_file)
    signed = signing.sign_transaction(unlocked.private_key(index), tx)
    raw = "0x" + signed.raw.hex()
    emit(
        as_json,
        {"from": signed.sender, "hash": "0x" + signed.hash.hex(), "raw": raw, "type": tx.get("type", 0)},
        lambda: click.echo(raw),
    )


@wallet.command()
@click.argument("message", required=False)
@click.option("--signature", "-s", required=True, help="The 65-byte signature, hex.")
@click.option("--address", "expected", help="Fail (exit 1) unless the signer is this address.")
@click.option(
    "--typed-data",
    "typed_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Verify an EIP-712 signature over this JSON file.",
)
@click.option("--hex", "is_hex", is_flag=True, help="MESSAGE is hex bytes, not text.")
@json_option
def verify(message, signature, expected, typed_file, is_hex, as_json):
    """Recover the signer of a message (EIP-191) or typed data (EIP-712)."""
    if (message is None) == (typed_file is None):
        raise WalletError("give either MESSAGE or --typed-data FILE")
    sig = signing.parse_signature(signature)
    if typed_file is not None:
        signer = signing.recover_typed_data(_read_json(typed_file, "typed data"), sig)
    else:
        signer = signing.recover_message(_message_bytes(message, is_hex), sig)
    matches = None
    if expected is not None:
        expected = names.address(expected)
        matches = expected == signer
    emit(as_json, {"address": signer, "matches": matches}, lambda: click.echo(signer))
    if matches is False:
        raise WalletError(f"the signature is from {signer}, not {expected}")
