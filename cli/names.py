"""Address arguments and how addresses are shown: every command that takes an address
takes a contact name too (`hongbao send bob 0.5`), through this one resolver, and tables
and previews show the contact's name next to the address.

The lookup is messaging/contact_book.py: it reads the names kept in clear in the message
stores, so it needs no password and runs before the preview.
"""

from __future__ import annotations

from wallet.home import home


def address(text: str, owner: str | None = None) -> str:
    """An address (EIP-55 checked) or a saved contact's name -> the address.

    `owner`: the account in use, whose contacts come first."""
    from messaging import contact_book

    return contact_book.resolve(home(), text, owner).address


def known_names(owner: str | None = None) -> dict[str, str]:
    """address -> contact name, for rendering many rows."""
    from messaging import contact_book

    return contact_book.names(home(), owner)


def name_of(address: str, owner: str | None = None) -> str | None:
    from messaging import contact_book

    return contact_book.name_of(home(), address, owner)


def labelled(address: str | None, names: dict[str, str] | None = None, owner: str | None = None) -> str:
    """`bob (0x...)` for a named contact, else the address itself; "" for None."""
    if address is None:
        return ""
    name = name_of(address, owner) if names is None else names.get(address)
    return f"{name} ({address})" if name else address
