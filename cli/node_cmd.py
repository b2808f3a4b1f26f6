"""`hongbao node start|stop|status|migrate`: the relay daemon."""

from __future__ import annotations

import click

from wallet.errors import WalletError
from wallet.home import home

from .output import emit, json_option

host_option = click.option("--host", help="Address to listen on (default: [relay] host in config.toml, 127.0.0.1).")
port_option = click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default: [relay] port in config.toml, 8787)."
)
db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Database: sqlite:///PATH or postgresql+psycopg://... without a password (a URL with one goes in "
    "HONGBAO_RELAY_DB_URL or config.toml; default: HONGBAO_HOME/relay/relay.sqlite).",
)


class RelayCommandError(WalletError):
    pass


def _settings(host=None, port=None, db_url=None):
    from node.server import refuse_password_in_argv
    from node.settings import Settings, SettingsError

    try:
        refuse_password_in_argv(db_url)
        return Settings.load(home()).replace(host=host, port=port, db_url=db_url)
    except (SettingsError, ValueError) as error:
        raise RelayCommandError(str(error)) from None


def _daemon(settings):
    from node.daemon import RelayDaemon

    return RelayDaemon(home(), settings)


def _guard(action):
    from node.daemon import DaemonError

    try:
        return action()
    except DaemonError as error:
        raise RelayCommandError(str(error)) from None


def _status_json(status) -> dict:
    return {"running": status.running, "pid": status.pid, "url": status.url, "db": status.db}


@click.group()
def node() -> None:
    """The relay daemon: stores and forwards sealed envelopes."""


@node.command()
@host_option
@port_option
@db_option
@click.option("--detach", is_flag=True, help="Run in the background (pid and log in HONGBAO_HOME/relay).")
@json_option
def start(host, port, db_url, detach, as_json):
    """Start the relay (migrating its database first)."""
    settings = _settings(host, port, db_url)
    if not detach:
        from node.server import serve

        serve(settings)
        return
    daemon = _daemon(settings)
    status = _guard(daemon.start)
    emit(
        as_json,
        _status_json(status),
        lambda: click.echo(f"relay running at {status.url} (pid {status.pid}); log in {daemon.log_file}"),
    )


@node.command()
@json_option
def stop(as_json):
    """Stop the background relay."""
    stopped = _guard(_daemon(_settings()).stop)
    emit(as_json, {"stopped": stopped}, lambda: click.echo("relay stopped" if stopped else "relay was not running"))


@node.command()
@host_option
@port_option
@json_option
def status(host, port, as_json):
    """Whether the relay answers, and its database."""
    status = _guard(_daemon(_settings(host, port)).status)

    def human() -> None:
        if status.running:
            click.echo(
                f"running at {status.url}" + (f", pid {status.pid}" if status.pid else "") + f"; database {status.db}"
            )
        else:
            click.echo(f"not running ({status.url}); start it with `hongbao node start --detach`")

    emit(as_json, _status_json(status), human)


@node.command()
@db_option
@json_option
def migrate(db_url, as_json):
    """Create or upgrade the relay's database schema."""
    from node import db

    settings = _settings(db_url=db_url)
    try:
        db.migrate(settings.db_url)
        revision = db.current_revision(settings.db_url)
    except Exception as error:  # noqa: BLE001 (a driver's message may hold the URL's password: name the type only)
        raise RelayCommandError(f"migrating {db.redact(settings.db_url)} failed ({type(error).__name__})") from None
    emit(
        as_json,
        {"db": db.redact(settings.db_url), "revision": revision},
        lambda: click.echo(f"{db.redact(settings.db_url)} is at revision {revision}"),
    )
