"""`hongbao chat ...`: send, inbox, show, requests, accept, block, watch. Plus what the
contacts, group and relay commands share: opening the account's Messenger and rendering
messages.

The workflows are in cli/services/chat.py (and chat_watch.py); this file parses and renders.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from .click_frontend import ClickFrontend
from .context import network_option
from .inert import inert, json_text, markup
from .output import console, emit, json_option, note, table
from .services import chat as service
from .services.chat import names_of, send_or_keep
from .services.messages import Shown, describe, message_json
from .services.messages import amount_text as _amount  # noqa: F401  (for request_cmd)
from .wallet_cmd import index_option, password_file_option, wallet_option

__all__ = ["account_options", "describe", "messenger", "names_of", "print_message", "send_or_keep"]


def account_options(function):
    """--wallet, --index, --password-file, --json: the account that chats."""
    for option in reversed((wallet_option, index_option, password_file_option, json_option)):
        function = option(function)
    return function


def account_key(wallet_name: str | None, index: int, password_file: Path | None) -> bytes:
    """The chatting account's key, from the unlock session or the wallet password."""
    return service.account_key(wallet_name, index, ClickFrontend(password_file))


def messenger(wallet_name: str | None, index: int, password_file: Path | None, key: bytes | None = None):
    """The account's Messenger, unlocked with the wallet password (or the given key)."""
    return service.open_messenger(wallet_name, index, ClickFrontend(password_file), key)


# -- rendering -----------------------------------------------------------------------------


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def print_message(shown: Shown, names: dict[str, str]) -> None:
    from rich.text import Text

    message = shown.message
    who = names.get(message.sender) or message.sender
    where = "" if not message.conversation.startswith("group:") else f" [{message.conversation}]"
    line = Text(f"{_when(message.timestamp_ms)}  ", style="dim")  # Text, never markup; inert: never controls
    line.append(inert(who), style="bold")
    line.append(f"{where}: ")
    line.append(inert(describe(message.payload, names)))
    if message.direction == "out":
        line.append(f"  ({message.state})", style="dim")
    for check, flag in shown.checks():
        style = "bold yellow" if flag else "green" if check.startswith("✓") else "bold red"
        line.append(f"  [{inert(check)}]", style=style)
    console().print(line)


# -- commands ------------------------------------------------------------------------------


@click.group()
def chat() -> None:
    """Chat: send, inbox, show, watch (end-to-end encrypted through the relay)."""


@chat.command()
@click.argument("to")
@click.argument("text")
@account_options
def send(to, text, wallet_name, index, password_file, as_json):
    """Send TEXT to TO: an address, a contact name, a group name or group:<id>.

    With the relay down, a message to someone already known is kept (state "pending", exit
    0) and sent by the next `chat send`, `chat inbox` or `chat watch`."""
    with messenger(wallet_name, index, password_file) as m:
        sent = service.send_text(m, to, text)
    emit(as_json, sent.json(), lambda: _sent(sent))


def _sent(sent: service.Sent) -> None:
    from rich.text import Text

    who = inert(sent.name or sent.to)
    if sent.pending:
        console(stderr=True).print(Text(f"the relay did not answer ({sent.relay_error})", style="yellow"))
        console().print(Text(f"to {who}: kept; will be sent when the relay answers (hongbao chat inbox retries)"))
        return
    for address, fp in sent.first_contact.items():
        note(
            f"first message to {address}: their fingerprint is [bold]{fp}[/]; compare it with them (`hongbao contacts verify {address}`)"
        )
    for address, why in sent.skipped.items():
        note(f"[yellow]not sent to {address}: {markup(why)}[/]")
    count = len(sent.recipients)
    click.echo(f"sent to {who} ({count} recipient{'s' if count != 1 else ''}), id {sent.id}; {sent.protection}")


@chat.command()
@click.option("--no-fetch", is_flag=True, help="Show what is stored; do not ask the relay for new mail.")
@account_options
def inbox(no_fetch, wallet_name, index, password_file, as_json):
    """Fetch new mail, then list conversations with unread counts (and submit the claims
    recipients without ETH sent you for your red packets)."""
    key = account_key(wallet_name, index, password_file)
    with messenger(wallet_name, index, password_file, key) as m:
        box = service.inbox(m, key, fetch=not no_fetch)
    emit(as_json, box.json(), lambda: _inbox(box))


def _inbox(box: service.Inbox) -> None:
    if box.failures:
        note(f"{box.failures} envelope(s) could not be opened and were discarded")
    for event in box.claims_submitted:
        note(markup(event["text"]))
    for line in box.session_resets:
        note(f"[yellow]{markup(line)}[/]")
    if not box.conversations:
        note('No conversations yet: [bold]hongbao chat send CONTACT "text"[/]')
        return

    def last(r: dict) -> str:
        if r["request"]:
            return (
                "group invitation: `hongbao group invitations`"
                if r["group"]
                else "message request: `hongbao chat requests`"
            )
        if r["last"] is None:
            return "(no messages)"
        return f"{r['last']['sender_name'] or r['last']['sender'][:10]}: {r['last']['preview']}"

    rows = [
        [r["name"] or r["conversation"], r["unread"], _when(r["last_activity_ms"]), last(r)] for r in box.conversations
    ]
    table(None, ["conversation", "unread", "last", ""], rows)


@chat.command()
@click.argument("conversation")
@click.option(
    "--limit", type=click.IntRange(min=1, max=10_000), default=50, show_default=True, help="Newest messages to show."
)
@click.option("--fetch/--no-fetch", default=True, help="Fetch new mail from the relay first (if it answers).")
@account_options
def show(conversation, limit, fetch, wallet_name, index, password_file, as_json):
    """Show a conversation (contact, address, group or group:<id>); marks it read and
    sends read receipts. New mail is fetched first; with the relay down, what is stored
    locally is shown."""
    with messenger(wallet_name, index, password_file) as m:
        page = service.conversation(m, conversation, limit=limit, fetch=fetch)
    if page.offline is not None:
        note(f"[yellow]showing stored messages only: {markup(page.offline)}[/]")
    emit(as_json, page.json(), lambda: _show(page))


def _show(page: service.Conversation) -> None:
    title = markup(page.name or page.conversation)
    note(f"{title}: {markup(page.protection)}")
    if not page.messages:
        note(f"No messages with {title} yet")
    for shown in page.messages:
        print_message(shown, page.names)
    if page.marked_read and not page.receipts_sent:
        note("read receipts could not be sent (relay unreachable)")


# -- consent: message requests, accept, block ---------------------------------------------


@chat.command()
@account_options
def requests(wallet_name, index, password_file, as_json):
    """List message requests: people who wrote to you whom you have not accepted or blocked.
    Nothing is sent to them (no read receipts, no delivery pass) until you accept."""
    with messenger(wallet_name, index, password_file) as m:
        rows = service.message_requests(m)

    def human() -> None:
        if not rows:
            note("No message requests")
            return
        table(
            None,
            ["from", "messages", "last"],
            [[r["address"], r["messages"], _when(r["last_ms"]) if r["last_ms"] else ""] for r in rows],
        )
        note(
            "read one with `hongbao chat show ADDRESS`; then `hongbao chat accept ADDRESS` or `hongbao chat block ADDRESS`"
        )

    emit(as_json, rows, human)


@chat.command()
@click.argument("address")
@account_options
def accept(address, wallet_name, index, password_file, as_json):
    """Accept (or unblock) ADDRESS: they get your delivery pass, so their mail reaches your
    mailbox's contact lane whatever strangers send."""
    with messenger(wallet_name, index, password_file) as m:
        data = service.accept(m, address)
    later = "" if data["pass_given"] else "; they get your delivery pass with your next message"
    emit(as_json, data, lambda: click.echo(f"accepted {address}{later}"))


@chat.command()
@click.argument("address")
@account_options
def block(address, wallet_name, index, password_file, as_json):
    """Block ADDRESS: their mail is dropped unread, and your delivery pass is replaced (the
    relay stops honouring theirs); the people you accept get the new one."""
    with messenger(wallet_name, index, password_file) as m:
        data = service.block(m, address)
    given = data["new_pass_given_to"]
    emit(as_json, data, lambda: click.echo(f"blocked {address}; new delivery pass given to {given} contact(s)"))


# -- watch ------------------------------------------------------------------------------------


class _Printer:
    """`chat watch`'s output: Rich lines, or one JSON object per line with --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def line(self, data: dict) -> None:
        sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False)) + "\n")
        sys.stdout.flush()

    def step(self, step, names: dict[str, str], follow) -> None:
        """The step's messages, each followed by what `trade autofollow` did about it, then its events."""
        for shown in step.messages:
            if self.as_json:
                self.line({"kind": "message", **message_json(shown, names)})
            else:
                print_message(shown, names)
            self.events(follow(shown.message))
        self.events(step.events)

    def events(self, events: list[dict]) -> None:
        from rich.text import Text

        for event in events:
            if self.as_json:
                self.line(event)
            else:
                style = {"claim": "bold", "alert": "bold red"}.get(event["kind"], "yellow")
                console().print(Text(inert(event["text"]), style=style))


@chat.command()
@click.option("--once", is_flag=True, help="Process what the relay holds now and check the chain once, then exit.")
@network_option
@account_options
def watch(once, network_name, wallet_name, index, password_file, as_json):
    """Live view of new messages, red packets and payments, claims of the packets you
    created and those about to expire (Ctrl-C to stop).

    With --json, one JSON object per line, each with a "kind": message, claim, expiring,
    expired or health (the Aave health factor fell below $HONGBAO_HF_MARGIN, default 1.2)."""
    import asyncio

    from .services.chat_watch import CHAIN_POLL_SECONDS, Watch
    from .services.following import Autofollow

    out = _Printer(as_json)
    key = account_key(wallet_name, index, password_file)
    autofollow = Autofollow(key, wallet_name, index, network_name)  # `trade autofollow`: within caps only
    with messenger(wallet_name, index, password_file, key) as m:
        watcher = Watch(m, key, network_name, warn=lambda text: note(f"[yellow]{markup(text)}[/]"))
        if once:
            step = watcher.fetch()
            out.step(step, watcher.names, autofollow)
            if step.failures and not as_json:
                note(f"{step.failures} envelope(s) could not be opened and were discarded")
            out.events(watcher.chain())
            return

        async def poll_chain() -> None:
            while True:
                out.events(await asyncio.to_thread(watcher.chain_on_new_block))
                await asyncio.sleep(CHAIN_POLL_SECONDS)

        async def run() -> None:
            if not as_json:
                note(f"watching {m.address} on {m.relay.base_url} (Ctrl-C to stop)")
            poller = asyncio.create_task(poll_chain())
            try:
                async for message, _counts in m.watch():
                    followed = await asyncio.to_thread(autofollow, message)
                    out.step(watcher.arrived(message), watcher.names, lambda _message, followed=followed: followed)
            finally:
                poller.cancel()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
