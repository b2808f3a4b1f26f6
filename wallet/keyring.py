"""Named wallets on disk, and what an unlocked wallet can do.

This is the I/O edge of the vault: files live under `<home>/wallets/<name>.vault`, are
written atomically with mode 0600, and are never rewritten by a failed operation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import address as addr
from . import atomic, bip39, hd, vault
from .errors import (
    AccountNotFound,
    InvalidKey,
    SigningError,
    VaultCorrupt,
    WalletError,
    WalletExists,
    WalletNotFound,
)

DEFAULT_WALLET = "default"
SUFFIX = ".vault"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
KINDS = ("hd", "imported", "watch")


def check_name(name: str) -> str:
    if not _NAME.match(name) or name.endswith(SUFFIX):
        raise WalletError(f"wallet name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-'")
    return name


@dataclass(frozen=True, slots=True)
class Account:
    index: int
    kind: str  # "hd" | "imported" | "watch"
    address: str
    path: str | None = None
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "path": self.path, "address": self.address, "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        if data["kind"] not in KINDS:
            raise ValueError("unknown account kind")
        return cls(
            int(data["index"]), data["kind"], addr.parse(data["address"]), data.get("path"), str(data.get("label", ""))
        )


@dataclass(slots=True)
class Secrets:
    """What the vault seals. Its repr never shows the contents."""

    mnemonic: str | None = None
    language: str | None = None
    passphrase: str = ""
    seed: bytes | None = None
    keys: dict[str, bytes] = field(default_factory=dict)  # address -> private key
    extras: dict[str, str] = field(default_factory=dict)  # other sealed secrets, e.g. "totp"

    def __repr__(self) -> str:
        return f"Secrets(mnemonic={'set' if self.mnemonic else None}, keys={len(self.keys)})"

    def to_bytes(self, accounts_digest: str) -> bytes:
        body: dict[str, Any] = {
            "mnemonic": self.mnemonic,
            "language": self.language,
            "passphrase": self.passphrase,
            "seed": self.seed.hex() if self.seed else None,
            "keys": {a: k.hex() for a, k in self.keys.items()},
            "accounts_digest": accounts_digest,
        }
        if self.extras:  # only then: a vault without extras is byte-for-byte what it was
            body["extras"] = dict(self.extras)
        return vault.canonical(body)

    @classmethod
    def from_bytes(cls, data: bytes) -> tuple[Secrets, str]:
        body = json.loads(data)
        secrets = cls(
            body["mnemonic"],
            body["language"],
            body["passphrase"],
            bytes.fromhex(body["seed"]) if body["seed"] else None,
            {a: bytes.fromhex(k) for a, k in body["keys"].items()},
            {str(k): str(v) for k, v in (body.get("extras") or {}).items()},
        )
        return secrets, body["accounts_digest"]


class Wallet:
    """A wallet file's public view: its accounts. Unlock it to use its keys."""

    def __init__(self, name: str, path: Path, accounts: list[Account], sealed: vault.Sealed) -> None:
        self.name = name
        self.path = path
        self.accounts = accounts
        self.sealed = sealed

    def __repr__(self) -> str:
        return f"Wallet({self.name!r}, accounts={len(self.accounts)})"

    def account(self, index: int) -> Account:
        for account in self.accounts:
            if account.index == index:
                return account
        known = ", ".join(str(a.index) for a in self.accounts) or "none"
        raise AccountNotFound(
            f"wallet {self.name!r} has no account {index} (accounts: {known}); see `hongbao wallet list`"
        )

    def unlock(self, password: str) -> UnlockedWallet:
        plaintext, key = vault.unseal(self.sealed, password, str(self.path))
        try:
            secrets, digest = Secrets.from_bytes(plaintext)
        except (KeyError, TypeError, ValueError):
            raise VaultCorrupt(f"{self.path} holds an unreadable secret section; restore it from a backup") from None
        if digest != vault.accounts_digest([a.to_json() for a in self.accounts]):
            raise VaultCorrupt(f"{self.path}: the account list was edited outside Hongbao; restore it from a backup")
        return UnlockedWallet(self, secrets, key)

    def set_label(self, index: int, label: str) -> Account:
        """Labels are not sealed, so this needs no password."""
        account = self.account(index)
        updated = replace(account, label=label)
        self.accounts[self.accounts.index(account)] = updated
        self._write()
        return updated

    def _write(self) -> None:
        atomic.write_bytes(self.path, vault.dump([a.to_json() for a in self.accounts], self.sealed))


class UnlockedWallet:
    """A wallet whose secrets are in memory; derivations reuse one seed (no PBKDF2)."""

    def __init__(self, wallet: Wallet, secrets: Secrets, box_key: bytes) -> None:
        self.wallet = wallet
        self._secrets = secrets
        self._box_key = box_key
        self._deriver = hd.Deriver(secrets.seed) if secrets.seed else None

    def __repr__(self) -> str:
        return f"UnlockedWallet({self.wallet.name!r})"

    @property
    def accounts(self) -> list[Account]:
        return self.wallet.accounts

    @property
    def has_mnemonic(self) -> bool:
        return self._secrets.mnemonic is not None

    def mnemonic(self) -> tuple[str, str, bool]:
        """(phrase, language, has passphrase). Only for an explicit, confirmed reveal."""
        if self._secrets.mnemonic is None:
            raise WalletError(f"wallet {self.wallet.name!r} has no recovery phrase (it holds imported keys only)")
        return self._secrets.mnemonic, self._secrets.language or "english", bool(self._secrets.passphrase)

    def private_key(self, index: int) -> bytes:
        account = self.wallet.account(index)
        if account.kind == "watch":
            raise SigningError(f"account {index} ({account.address}) is watch-only: it has no key to sign with")
        if account.kind == "imported":
            key = self._secrets.keys.get(account.address)
        else:
            key = self._deriver.private_key(account.path) if self._deriver and account.path is not None else None
        if key is None or addr.from_private_key(key) != account.address:
            raise VaultCorrupt(
                f"{self.wallet.path}: account {index} does not match its key; restore the file from a backup"
            )
        return key

    def sealed_extra(self, name: str) -> str | None:
        """Another secret sealed with the keys (e.g. the second factor's TOTP secret)."""
        return self._secrets.extras.get(name)

    def set_sealed_extra(self, name: str, value: str | None) -> None:
        if value is None:
            self._secrets.extras.pop(name, None)
        else:
            self._secrets.extras[name] = value
        self.save()

    # -- changes to the account set (sealed, so they need the unlocked wallet) --

    def _next_index(self) -> int:
        return max((a.index for a in self.accounts), default=-1) + 1

    def _known(self, address: str) -> Account | None:
        return next((a for a in self.accounts if a.address == address), None)

    def scheme_in_use(self) -> str:
        """The scheme of the newest HD account (so a Ledger Live wallet keeps deriving Ledger Live)."""
        for account in reversed(self.accounts):
            if account.kind == "hd" and account.path and (scheme := hd.scheme_of(account.path)):
                return scheme
        return hd.DEFAULT_SCHEME

    def derive(
        self, count: int = 1, scheme: str | None = None, path: str | None = None, label: str = ""
    ) -> list[Account]:
        """Add HD accounts: the next `count` unused indices of `scheme` (default: the
        scheme already in use), or exactly one `path`."""
        if self._deriver is None:
            raise WalletError(f"wallet {self.wallet.name!r} has no recovery phrase, so it cannot derive accounts")
        scheme = scheme or self.scheme_in_use()
        if path is not None:
            paths = [hd.format_path(hd.parse_path(path))]
        else:
            used = {a.path for a in self.accounts}
            paths, i = [], 0
            while len(paths) < count:
                candidate = hd.scheme_path(scheme, i)
                if candidate not in used:
                    paths.append(candidate)
                i += 1
        added = []
        for p in paths:
            address = addr.from_private_key(self._deriver.private_key(p))
            if existing := self._known(address):
                raise WalletError(f"path {p} is already account {existing.index} ({address})")
            account = Account(self._next_index(), "hd", address, p, label)
            self.accounts.append(account)
            added.append(account)
        self.save()
        return added

    def add_private_key(self, private_key: bytes, label: str = "") -> Account:
        address = addr.from_private_key(private_key)
        if existing := self._known(address):
            raise WalletError(f"{address} is already account {existing.index} of wallet {self.wallet.name!r}")
        self._secrets.keys[address] = private_key
        account = Account(self._next_index(), "imported", address, None, label)
        self.accounts.append(account)
        self.save()
        return account

    def add_watch(self, address: str, label: str = "") -> Account:
        address = addr.parse(address)
        if existing := self._known(address):
            raise WalletError(f"{address} is already account {existing.index} of wallet {self.wallet.name!r}")
        account = Account(self._next_index(), "watch", address, None, label)
        self.accounts.append(account)
        self.save()
        return account

    def change_password(self, new_password: str, preset: str = vault.DEFAULT_PRESET) -> None:
        kdf = vault.Kdf.new(preset)
        key, check = kdf.stretch(new_password)
        self._reseal(kdf, key, check)

    def save(self) -> None:
        self._reseal(self.wallet.sealed.kdf, self._box_key, self.wallet.sealed.check)

    def _reseal(self, kdf: vault.Kdf, key: bytes, check: bytes) -> None:
        digest = vault.accounts_digest([a.to_json() for a in self.accounts])
        sealed = vault.seal_with_key(kdf, key, check, self._secrets.to_bytes(digest))
        previous = self.wallet.sealed
        self.wallet.sealed = sealed
        try:
            self.wallet._write()
        except BaseException:
            self.wallet.sealed = previous
            raise
        self._box_key = key


class WalletStore:
    """The wallets under one Hongbao home."""

    def __init__(self, home: Path) -> None:
        self.folder = Path(home) / "wallets"

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}{SUFFIX}"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p.name[: -len(SUFFIX)] for p in self.folder.glob(f"*{SUFFIX}") if not p.name.startswith(atomic.TEMP_PREFIX)
        )

    def open(self, name: str) -> Wallet:
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            have = ", ".join(self.names()) or "none yet"
            raise WalletNotFound(
                f"no wallet named {name!r} (wallets: {have}); create one with `hongbao wallet create --wallet {name}`"
            ) from None
        accounts_json, sealed = vault.load(data, str(path))
        try:
            accounts = [Account.from_json(a) for a in accounts_json]
        except (KeyError, TypeError, ValueError, WalletError):
            raise VaultCorrupt(f"{path} is damaged (bad account entry); restore it from a backup") from None
        return Wallet(name, path, accounts, sealed)

    def _create(self, name: str, secrets: Secrets, password: str, preset: str) -> UnlockedWallet:
        path = self.path(name)
        if path.exists():
            raise WalletExists(f"wallet {name!r} already exists; pick another --wallet name")
        kdf = vault.Kdf.new(preset)
        sealed, key = vault.seal(secrets.to_bytes(vault.accounts_digest([])), password, kdf)
        try:
            atomic.create_exclusive(path, vault.dump([], sealed))
        except FileExistsError:
            raise WalletExists(f"wallet {name!r} already exists; pick another --wallet name") from None
        return UnlockedWallet(Wallet(name, path, [], sealed), secrets, key)

    def create_from_mnemonic(
        self,
        name: str,
        phrase: str,
        password: str,
        *,
        passphrase: str = "",
        language: str | None = None,
        preset: str = vault.DEFAULT_PRESET,
        accounts: int = 1,
        scheme: str = hd.DEFAULT_SCHEME,
    ) -> UnlockedWallet:
        phrase, language = bip39.check(phrase, language)
        seed = bip39.to_seed(phrase, passphrase)
        unlocked = self._create(name, Secrets(phrase, language, passphrase, seed), password, preset)
        if accounts:
            unlocked.derive(accounts, scheme)
        return unlocked

    def create_empty(self, name: str, password: str, *, preset: str = vault.DEFAULT_PRESET) -> UnlockedWallet:
        """A wallet for imported keys and watch-only addresses (no recovery phrase)."""
        return self._create(name, Secrets(), password, preset)


def parse_private_key(text: str) -> bytes:
    """A hex private key (with or without 0x, surrounding whitespace ignored)."""
    body = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        key = bytes.fromhex(body)
    except ValueError:
        raise InvalidKey("the private key file does not hold 64 hex digits") from None
    if len(key) != 32:
        raise InvalidKey(f"a private key is 32 bytes (64 hex digits); this one is {len(key)} bytes")
    return addr.check_private_key(key)
