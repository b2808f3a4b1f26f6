"""`hongbao contacts ...`: add (fetch and verify the identity bundle), list, remove, verify."""

from __future__ import annotations

import click

from wallet.errors import WalletError

from .chat_cmd import account_options, messenger
from .inert import inert
from .output import emit, note, table


def contact_json(contact) -> dict:
    return {
        "address": contact.address,
        "name": contact.name,
        "fingerprint": contact.fingerprint,
        "verified": contact.verified_out_of_band,
        "key_changed": contact.key_changed,
    }


@click.group()
def contacts() -> None:
    """Contacts: add, list, remove, verify."""


@contacts.command()
@click.argument("address")
@click.option("--name", help="A name to use instead of the address (chat send NAME ...).")
@account_options
def add(address, name, wallet_name, index, password_file, as_json):
    """Add ADDRESS: its identity bundle is fetched from the relay and verified here."""
    from messaging.store import BundleChange

    with messenger(wallet_name, index, password_file) as m:
        m.publish()  # so they can write back
        _bundle, change = m.bundle_for(address, refresh=True)
        contact = m.store.add_contact(address, name)
        data = {**contact_json(contact), "change": change.value}

    def human() -> None:
        click.echo(f"added {inert(contact.name or contact.address)} ({contact.address})")
        click.echo(f"fingerprint: {contact.fingerprint}")
        if change is BundleChange.KEY_CHANGED or contact.key_changed:
            note(
                f"[bold]their messaging key changed[/]: compare the fingerprint with them, then `hongbao contacts verify {contact.name or contact.address} --confirm`"
            )
        elif not contact.verified_out_of_band:
            note(
                "compare this fingerprint with them (in person or by phone), then `hongbao contacts verify ... --confirm`"
            )

    emit(as_json, data, human)


@contacts.command("list")
@account_options
def list_(wallet_name, index, password_file, as_json):
    """List saved contacts."""
    with messenger(wallet_name, index, password_file) as m:
        rows = [{**contact_json(c), "protection": m.protection(c.address)} for c in m.store.contacts()]

    def human() -> None:
        if not rows:
            note("No contacts yet: [bold]hongbao contacts add ADDRESS --name NAME[/]")
            return
        table(
            None,
            ["name", "address", "fingerprint", "status", "protection"],
            [
                [
                    r["name"] or "(no name)",
                    r["address"],
                    r["fingerprint"] or "(no bundle)",
                    "KEY CHANGED" if r["key_changed"] else ("verified" if r["verified"] else "not verified"),
                    r["protection"].split(" (")[0],
                ]
                for r in rows
            ],
        )

    emit(as_json, rows, human)


@contacts.command()
@click.argument("contact")
@account_options
def remove(contact, wallet_name, index, password_file, as_json):
    """Remove a contact (its pinned key is kept: re-adding cannot hide a key change)."""
    with messenger(wallet_name, index, password_file) as m:
        found = m.store.contact(contact)
        if found is None or not m.store.remove_contact(contact):
            raise WalletError(f"no contact {contact!r}")
    emit(
        as_json,
        {"removed": found.address, "name": found.name},
        lambda: click.echo(f"removed {found.name or found.address}"),
    )


@contacts.command()
@click.argument("contact")
@click.option(
    "--confirm", is_flag=True, help="You compared the fingerprints: mark it verified (this also accepts a key change)."
)
@account_options
def verify(contact, confirm, wallet_name, index, password_file, as_json):
    """Show our fingerprint and theirs to compare out of band; --confirm marks it verified."""
    from messaging.client import RelayUnreachable
    from messaging.errors import MessagingError

    with messenger(wallet_name, index, password_file) as m:
        found = m.store.contact(contact)
        address = found.address if found is not None else m.resolve(contact).conversation
        if found is None or found.bundle is None or not confirm:
            try:
                m.bundle_for(address, refresh=True)  # the newest key the relay has
            except RelayUnreachable:
                if found is None or found.bundle is None:
                    raise
                note("relay unreachable: showing the key pinned earlier")
            except MessagingError:
                if found is None or found.bundle is None:
                    raise
        if confirm:
            m.store.mark_verified(address)
        found = m.store.contact(address)
        data = {**contact_json(found), "our_address": m.address, "our_fingerprint": m.fingerprint}

    def human() -> None:
        click.echo(f"ours   ({data['our_address']}): {data['our_fingerprint']}")
        click.echo(f"theirs ({found.address}): {found.fingerprint}")
        if confirm:
            click.echo(f"marked {inert(found.name or found.address)} as verified")
        elif found.key_changed:
            note(
                f"[bold]their key changed[/]: if the fingerprint matches what they read to you, `hongbao contacts verify {contact} --confirm`"
            )
        elif not found.verified_out_of_band:
            note(f"if both match what they read to you: `hongbao contacts verify {contact} --confirm`")

    emit(as_json, data, human)
