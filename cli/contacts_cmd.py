"""`hongbao contacts ...`: add (fetch and verify the identity bundle), list, remove, verify."""

from __future__ import annotations

import click

from wallet.errors import WalletError

from .chat_cmd import account_options, messenger
from .inert import inert
from .output import emit, note, table
from .services import chat as service
from .services.chat import contact_json


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
    with messenger(wallet_name, index, password_file) as m:
        shown = service.verify_contact(m, contact, confirm=confirm)
    if shown.pinned_only:
        note("relay unreachable: showing the key pinned earlier")
    found, data = shown.contact, shown.json()

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
