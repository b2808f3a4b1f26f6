"""Contact names without unlocking: the one lookup behind every address argument.

Contact names and addresses are kept in clear in each account's message store (see
messaging/store.py: only message bodies are sealed), so a command can turn `bob` into an
address, and show `bob` next to an address, before any password is typed: the preview of
`hongbao send bob 0.5` comes before the unlock.

Which stores: the account in use first (`owner`), then every other account's store in
this home, as long as they agree. A name that two accounts' contacts give different
addresses is refused with both addresses shown, never guessed.

The files are opened read-only (`mode=ro`): a lookup never creates or changes a store.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wallet import address as addr

from .errors import MessagingError

# Shared with messaging/store.py, which imports them from here: this module stays light
# (no SQLAlchemy, no NaCl), so resolving a name costs a command nearly nothing.
DIRECTORY = "messages"
GROUP_PREFIX = "group:"
CONTACTS = "contacts"  # the table; its columns address, name, name_key, saved
_ADDRESS_LIKE = re.compile(r"^(0x)?[0-9a-fA-F]{40}\Z")


def name_key(name: str) -> str:
    """How a contact name is looked up: "alice" finds "Alice" (NFKC, casefolded)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFC", name.strip())).casefold()


def is_address_like(text: str) -> bool:
    return bool(_ADDRESS_LIKE.match(text))


class UnknownName(MessagingError):
    pass


@dataclass(frozen=True, slots=True)
class Named:
    address: str
    name: str | None  # the contact's name, None for an address nobody named


def _stores(home: Path, owner: str | None) -> list[Path]:
    folder = Path(home) / DIRECTORY
    found = sorted(folder.glob("0x*.sqlite")) if folder.is_dir() else []
    if owner is None:
        return found
    own = folder / f"{addr.to_checksum(owner)}.sqlite"
    return [own, *(p for p in found if p != own)] if own in found else found


def _rows(path: Path, where: str = "", *params: str) -> Iterator[tuple[str, str]]:
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        yield from connection.execute(
            f"SELECT address, name FROM {CONTACTS} WHERE saved AND name IS NOT NULL {where}",  # noqa: S608
            params,
        )
    except sqlite3.Error:  # an older or foreign file without the table: it names nobody
        return
    finally:
        connection.close()


def resolve(home: Path, text: str, owner: str | None = None) -> Named:
    """An address (checked, EIP-55) or a saved contact's name -> the address and its name.

    `owner`: the account whose contacts come first (the one that signs or chats)."""
    text = text.strip() if isinstance(text, str) else ""
    if is_address_like(text) or text.lower().startswith("0x"):
        address = addr.parse(text)
        return Named(address, name_of(home, address, owner))
    if not text or text.startswith(GROUP_PREFIX):
        raise UnknownName(
            f"{text!r} is neither an address nor a contact name: give 0x... or a name from `hongbao contacts list`"
        )
    key = name_key(text)
    seen: dict[str, str] = {}
    for path in _stores(home, owner):
        for address, name in _rows(path, "AND name_key = ?", key):
            seen.setdefault(addr.to_checksum(address), name)
        if seen and owner is not None and path.stem == addr.to_checksum(owner):
            break  # the signing account's own contact wins
    if not seen:
        raise UnknownName(
            f"{text!r} is neither an address nor a saved contact: add it with `hongbao contacts add ADDRESS --name {text}`"
        )
    if len(seen) > 1:
        raise UnknownName(
            f"the contact name {text!r} means {' and '.join(sorted(seen))} in different accounts: use the address"
        )
    ((address, name),) = seen.items()
    return Named(address, name)


def name_of(home: Path, address: str, owner: str | None = None) -> str | None:
    """The contact name of `address` (the owner's contacts first), or None."""
    address = addr.to_checksum(address)
    for path in _stores(home, owner):
        for _address, name in _rows(path, "AND address = ?", address):
            return name
    return None


def names(home: Path, owner: str | None = None) -> dict[str, str]:
    """Every named contact, address -> name (the owner's names win): for tables."""
    found: dict[str, str] = {}
    for path in reversed(_stores(home, owner)):  # the owner's store last, so it overwrites
        for address, name in _rows(path):
            found[addr.to_checksum(address)] = name
    return found
