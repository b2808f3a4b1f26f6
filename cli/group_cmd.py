"""`hongbao group ...`: create, add, remove, rename, list, invitations, accept, decline. Members are addresses or contact names."""

from __future__ import annotations

import click

from .chat_cmd import account_options, messenger, names_of
from .inert import inert
from .output import emit, note, table
from .services import chat as service
from .services.chat import group_json


def _changed(as_json: bool, verb: str, group, sent) -> None:
    data = {**group_json(group), "message_id": sent.message_id, "notified": list(sent.envelope_ids)}
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"{verb} {inert(repr(group.name))} (group:{group.id}): {len(group.members)} members, {len(sent.envelope_ids)} notified"
            + "".join(f"\n  left out {who}: {inert(why)}" for who, why in sent.skipped.items())
        ),
    )


@click.group()
def group() -> None:
    """Groups: create, add, remove, rename, list; invitations from strangers: invitations, accept, decline."""


@group.command()
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@account_options
def create(name, members, wallet_name, index, password_file, as_json):
    """Create group NAME with MEMBERS (you are its admin)."""
    with messenger(wallet_name, index, password_file) as m:
        created, sent = m.create_group(name, list(members))
    _changed(as_json, "created", created, sent)


@group.command()
@click.argument("group_name", metavar="GROUP")
@click.argument("members", nargs=-1, required=True)
@account_options
def add(group_name, members, wallet_name, index, password_file, as_json):
    """Add MEMBERS to GROUP (they receive the whole group)."""
    with messenger(wallet_name, index, password_file) as m:
        updated, sent = m.add_members(group_name, list(members))
    _changed(as_json, "updated", updated, sent)


@group.command()
@click.argument("group_name", metavar="GROUP")
@click.argument("members", nargs=-1, required=True)
@account_options
def remove(group_name, members, wallet_name, index, password_file, as_json):
    """Remove MEMBERS from GROUP (they are told)."""
    with messenger(wallet_name, index, password_file) as m:
        updated, sent = m.remove_members(group_name, list(members))
    _changed(as_json, "updated", updated, sent)


@group.command()
@click.argument("group_name", metavar="GROUP")
@click.argument("new_name")
@account_options
def rename(group_name, new_name, wallet_name, index, password_file, as_json):
    """Rename GROUP."""
    with messenger(wallet_name, index, password_file) as m:
        updated, sent = m.rename_group(group_name, new_name)
    _changed(as_json, "renamed", updated, sent)


@group.command("list")
@account_options
def list_(wallet_name, index, password_file, as_json):
    """List the groups you are in (or were removed from)."""
    with messenger(wallet_name, index, password_file) as m:
        groups = m.groups()  # invitations from strangers are listed by `group invitations`
        names = names_of(m)
        me = m.address
    rows = [{**group_json(g), "member": me in g.members} for g in groups]

    def human() -> None:
        if not rows:
            note("No groups yet: [bold]hongbao group create NAME MEMBER...[/]")
            return
        table(
            None,
            ["name", "id", "members", "admin"],
            [
                [
                    r["name"] + ("" if r["member"] else " (removed)"),
                    r["conversation"],
                    ", ".join(names.get(a) or a for a in r["members"]),
                    names.get(r["admin"]) or r["admin"],
                ]
                for r in rows
            ],
        )

    emit(as_json, rows, human)


@group.command()
@account_options
def invitations(wallet_name, index, password_file, as_json):
    """Groups someone you have not accepted put you in: nothing of theirs is shown or
    resolved by name until you accept (`group accept ID`) or decline (`group decline ID`)."""
    with messenger(wallet_name, index, password_file) as m:
        rows = service.invitations(m)

    def human() -> None:
        if not rows:
            note("No group invitations")
            return
        table(
            None,
            ["id", "name", "from", "members"],
            [[r["conversation"], r["name"], r["inviter"], len(r["members"])] for r in rows],
        )

    emit(as_json, rows, human)


@group.command("accept")
@click.argument("group_id")
@account_options
def accept_(group_id, wallet_name, index, password_file, as_json):
    """Accept the invitation to group GROUP_ID (group:<id> or the id)."""
    with messenger(wallet_name, index, password_file) as m:
        joined = service.accept_invitation(m, group_id)
    emit(as_json, joined, lambda: click.echo(f"joined {joined['name']} ({joined['conversation']})"))


@group.command()
@click.argument("group_id")
@account_options
def decline(group_id, wallet_name, index, password_file, as_json):
    """Decline the invitation to group GROUP_ID: its mail is dropped from now on."""
    with messenger(wallet_name, index, password_file) as m:
        data = service.decline_invitation(m, group_id)
    emit(as_json, data, lambda: click.echo(f"declined {group_id}"))
