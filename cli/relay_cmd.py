"""`hongbao relay ...`: which relay the chat commands use ([messaging] relay in config.toml)."""

from __future__ import annotations

import click

from wallet.errors import WalletError
from wallet.home import home

from .inert import inert, markup
from .output import emit, json_option, note
from .wallet_cmd import index_option, password_file_option, wallet_option


def _health(url: str) -> dict:
    from messaging.client import RelayClient

    with RelayClient(url, retries=1, timeout=5.0) as client:
        answer = client.health()
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        raise WalletError(f"the relay at {url} is not healthy (/healthz answered {answer!r:.100})")
    return answer


@click.group()
def relay() -> None:
    """The relay chats go through: use, status."""


@relay.command()
@click.argument("url")
@click.option("--no-publish", is_flag=True, help="Do not publish the account's identity bundle there now.")
@wallet_option
@index_option
@password_file_option
@json_option
def use(url, no_publish, wallet_name, index, password_file, as_json):
    """Use the relay at URL (checked first: /healthz must answer) and publish the
    account's identity bundle there, so others can write to it (needs the password)."""
    from messaging.chat import save_relay

    from .chat_cmd import messenger
    from .wallets import open_wallet, store

    url = url.rstrip("/")
    health = _health(url)
    save_relay(home(), url)
    published = None
    if not no_publish and store().names():
        try:
            open_wallet(wallet_name)
        except WalletError as error:
            if wallet_name is not None:
                raise
            note(f"identity not published ({markup(error)}): run `hongbao relay use {url} --wallet NAME`")
        else:
            with messenger(wallet_name, index, password_file) as m:
                status = m.publish()
                published = {
                    "address": m.address,
                    "fingerprint": m.fingerprint,
                    "status": status,
                    "one_time_prekeys": m.prekeys_at_relay,
                    "prekey_problem": m.prekey_problem,
                }

    def human() -> None:
        click.echo(f"chats now go through {url}")
        if published:
            click.echo(
                f"identity of {published['address']} published ({published['status']}); fingerprint {published['fingerprint']}"
            )
            if published["prekey_problem"] is None:
                click.echo(
                    f"prekeys for forward-secret sessions published ({published['one_time_prekeys']} one-time prekeys at the relay)"
                )
            else:
                note(
                    f"[yellow]prekeys not published ({markup(published['prekey_problem'])}): chats with you are signed but not forward-secret until they are[/]"
                )

    emit(as_json, {"relay": url, "health": health, "published": published}, human)


@relay.command()
@json_option
def status(as_json):
    """The configured relay and whether it answers (exit 1 if it does not)."""
    from messaging.chat import configured_relay

    url = configured_relay(home())
    if url is None:
        raise WalletError("no relay set: choose one with `hongbao relay use URL`")
    try:
        data = {"relay": url, "ok": True, "health": _health(url)}
    except WalletError as error:
        data = {"relay": url, "ok": False, "error": str(error)}
    emit(
        as_json,
        data,
        lambda: click.echo(f"{url}: " + ("ok" if data["ok"] else f"unreachable ({inert(data['error'])})")),
    )
    if not data["ok"]:
        raise click.exceptions.Exit(1)
