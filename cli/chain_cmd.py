"""`hongbao chain up|down|status`: the local anvil chain."""

from __future__ import annotations

import click

from wallet.home import home

from .context import load_config
from .output import emit, json_option

port_option = click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default: [chain] port in config.toml, 8545)."
)


def _local(port: int | None):
    from wallet.localchain import LocalChain

    return LocalChain(home(), port or load_config().port)


def _status_json(status) -> dict:
    return {
        "running": status.running,
        "pid": status.pid,
        "url": status.url,
        "chain_id": status.chain_id,
        "block": status.block,
    }


@click.group()
def chain() -> None:
    """The local chain (anvil): start, stop, status."""


@chain.command()
@port_option
@json_option
def up(port, as_json):
    """Start anvil in the background; its state is kept in HONGBAO_HOME/chain."""
    local = _local(port)
    status = local.up()
    emit(
        as_json,
        _status_json(status),
        lambda: click.echo(
            f"local chain running at {status.url} (chain id {status.chain_id}, block {status.block}, pid {status.pid}); state in {local.state_file}"
        ),
    )


@chain.command()
@port_option
@json_option
def down(port, as_json):
    """Stop anvil (its state is saved first)."""
    stopped = _local(port).down()
    emit(
        as_json,
        {"stopped": stopped},
        lambda: click.echo("local chain stopped" if stopped else "local chain was not running"),
    )


@chain.command()
@port_option
@json_option
def status(port, as_json):
    """Whether the local chain answers, its chain id and block."""
    status = _local(port).status()

    def human() -> None:
        if status.running:
            click.echo(f"running at {status.url}: chain id {status.chain_id}, block {status.block}, pid {status.pid}")
        else:
            click.echo(f"not running ({status.url}); start it with `hongbao chain up`")

    emit(as_json, _status_json(status), human)
