"""`hongbao chain up|down|status|time|mine`: the local anvil chain."""

from __future__ import annotations

import click

from wallet.home import home

from .context import load_config, network, network_option
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
        "owner": status.owner,
    }


def _record_port(port: int) -> None:
    """`chain up --port N`: every later command (and `chain status`) finds the chain on N."""
    from wallet import config as config_mod
    from wallet.config import LOCAL

    config = load_config()
    local = config.networks.get(LOCAL)
    url = f"http://127.0.0.1:{port}"
    if config.port == port and (local is None or local.rpc_url == url):
        return
    config.port = port
    if local is not None and local.rpc_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        local.rpc_url = url
    config_mod.save(home(), config)


@click.group()
def chain() -> None:
    """The local chain (anvil): start, stop, status, move its clock, mine blocks."""


@chain.command()
@port_option
@json_option
def up(port, as_json):
    """Start anvil in the background; its state is kept in HONGBAO_HOME/chain. `--port N`
    is recorded in config.toml, so every later command finds the chain there."""
    local = _local(port)
    status = local.up()
    if port is not None:
        _record_port(port)
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
        if status.running and status.owner:
            click.echo(
                f"not running from this home; {status.url} answers (chain id {status.chain_id}, block {status.block}): it is {status.owner}"
            )
        elif status.running:
            click.echo(f"running at {status.url}: chain id {status.chain_id}, block {status.block}, pid {status.pid}")
        else:
            click.echo(f"not running ({status.url}); start it with `hongbao chain up`")

    emit(as_json, _status_json(status), human)


def _local_rpc(network_name: str | None):
    """The RPC of the local network, refused for any other (these commands rewrite time)."""
    from wallet.errors import WalletError
    from wallet.rpc import Rpc

    net = network(network_name)
    if not net.is_local:
        raise WalletError(f"this works on the local chain only, not on {net.name!r}")
    return Rpc(net.rpc_url, timeout=10)


def _head(rpc) -> dict:
    from wallet.rpc import to_int

    block = rpc.call("eth_getBlockByNumber", "latest", False)
    return {"block": to_int(block["number"]), "timestamp": to_int(block["timestamp"])}


@chain.command("time")
@click.argument("shift", required=False, metavar="[+DURATION]")
@network_option
@json_option
def time_(shift, network_name, as_json):
    """Show the local chain's clock, or move it forward: `chain time +25h` (then a block
    is mined at the new time, so an expired red packet can be refunded at once)."""
    from datetime import UTC, datetime

    from wallet.calls import parse_duration
    from wallet.errors import WalletError

    with _local_rpc(network_name) as rpc:
        if shift is not None:
            if shift.startswith("-"):
                raise WalletError(f"{shift!r}: the chain's clock only moves forward; write e.g. +25h, +30m, +7d")
            seconds = parse_duration(shift.removeprefix("+"))
            rpc.call("evm_increaseTime", seconds)
            rpc.call("evm_mine")
        head = _head(rpc)
    data = {**head, "time": datetime.fromtimestamp(head["timestamp"], UTC).isoformat()}
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"chain time {datetime.fromtimestamp(head['timestamp'], UTC):%Y-%m-%d %H:%M:%S} UTC (block {head['block']})"
        ),
    )


@chain.command()
@click.argument("count", type=click.IntRange(1, 10_000), default=1, required=False)
@network_option
@json_option
def mine(count, network_name, as_json):
    """Mine COUNT empty blocks (default 1) on the local chain."""
    with _local_rpc(network_name) as rpc:
        rpc.call("anvil_mine", hex(count))
        head = _head(rpc)
    emit(as_json, {**head, "mined": count}, lambda: click.echo(f"mined {count} block(s); now at block {head['block']}"))
