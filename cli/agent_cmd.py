"""`hongbao unlock` and `hongbao lock`: the unlock session (cli/agent.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import click

from wallet.errors import WalletError
from wallet.home import home

from . import agent_client, secrets
from .output import emit, json_option
from .wallet_cmd import password_file_option, wallet_option
from .wallets import open_wallet

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*\Z", re.IGNORECASE)
MAX_SESSION = 24 * 3600
STARTUP_TIMEOUT = 120


def parse_duration(text: str) -> int:
    """`15m`, `1h`, `1h30m`, `90s` -> seconds (at most a day)."""
    match = _DURATION.match(text)
    if match is None or not any(match.groups()):
        raise WalletError(f"a duration reads like 15m, 1h or 1h30m, not {text!r}")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if not 0 < total <= MAX_SESSION:
        raise WalletError("an unlock session lasts between 1 second and 24 hours")
    return total


def _token_table(network_name: str | None) -> dict[str, tuple[str, int]]:
    from .context import network

    try:
        net = network(network_name)
    except WalletError:
        return {}
    return {symbol.upper(): (t.address, t.decimals) for symbol, t in net.tokens.items()}


def status_of(home_path: Path) -> dict | None:
    conn = agent_client.connect(home_path)
    if conn is None:
        return None
    with conn:
        try:
            agent_client.request(conn, {"op": "status"})
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        except (OSError, ConnectionError):
            return None
    return json.loads(data) if data else None


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


@click.command()
@wallet_option
@click.option(
    "--for", "duration", default="15m", show_default=True, help="How long the session lasts (15m, 1h, 1h30m)."
)
@click.option(
    "--spend-limit",
    "spend_limits",
    multiple=True,
    metavar="'AMOUNT UNIT/day'",
    help="What the session may send per day, e.g. '0.5 ETH/day' (repeat for tokens).",
)
@click.option(
    "--alerts-every",
    default="1m",
    show_default=True,
    help="How often the session looks for alerts (see `security alerts`); 'off' never.",
)
@click.option("--network", "network_name", envvar="HONGBAO_NETWORK", help="Network whose tokens the limits name.")
@click.option("--status", "show_status", is_flag=True, help="Only say whether a session runs, and until when.")
@password_file_option
@json_option
def unlock(wallet_name, duration, spend_limits, alerts_every, network_name, show_status, password_file, as_json):
    """Unlock the wallet for a while: commands then need no password (an agent holds the keys).

    Like ssh-agent: a process of its own keeps the unlocked wallet in memory and runs the
    commands that sign or chat on your behalf (they still show the preview and ask for
    confirmation). It never hands out a key. `hongbao lock` ends it, and so does its clock.
    It also looks for alerts (`hongbao security alerts`); the next command you run shows
    what it found (and HONGBAO_HOME/agent/alerts.log keeps it).
    """
    from wallet import outflow

    if show_status:
        _show_status(as_json)
        return
    seconds = parse_duration(duration)
    every = 0 if alerts_every.strip().lower() == "off" else parse_duration(alerts_every)
    tokens = _token_table(network_name) if any("/" in s for s in spend_limits) else {}
    limits = [outflow.parse_limit(text, tokens) for text in spend_limits]
    here = home()
    running = status_of(here)
    if running is not None:
        raise WalletError(
            f"an unlock session is already running (wallet {running['wallet']!r}, until "
            f"{_clock(running['expires_at'])}): run `hongbao lock` first"
        )
    wallet = open_wallet(wallet_name)
    password = secrets.with_password(password_file, lambda p: (wallet.unlock(p), p)[1])
    expires_at = time.time() + seconds
    settings = {
        "wallet": wallet.name,
        "expires_at": expires_at,
        "limits": [limit.to_json() for limit in limits],
        "alerts_every": every,
    }
    pid = _start_agent(here, settings, password)
    del password
    data = {
        "wallet": wallet.name,
        "pid": pid,
        "expires_at": int(expires_at),
        "limits": [limit.shown for limit in limits],
        "socket": agent_client.socket_path(here),
    }
    limit_text = f"; spend limit {', '.join(limit.shown for limit in limits)}" if limits else ""
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"wallet {wallet.name!r} unlocked until {_clock(expires_at)}{limit_text} (agent pid {pid}); "
            "`hongbao lock` ends it"
        ),
    )


def _start_agent(here: Path, settings: dict, password: str) -> int:
    """Start `python -m cli.agent` in a session of its own, hand it the settings and the
    password on a pipe (never argv or the environment), wait for "ready"; its pid."""
    env = {k: v for k, v in os.environ.items() if k not in (secrets.PASSWORD_ENV,)}
    env["HONGBAO_HOME"] = str(here)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.agent"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd="/",
        start_new_session=True,
        text=True,
    )
    if process.stdin is None or process.stdout is None:
        raise WalletError("the unlock session could not be started")
    process.stdin.write(json.dumps(settings) + "\n" + password + "\n")
    process.stdin.close()
    answer = process.stdout.readline().strip()
    process.stdout.close()
    if not answer.startswith("ready"):
        process.wait(timeout=STARTUP_TIMEOUT)
        raise WalletError(answer.removeprefix("error: ") or "the unlock session did not start; try again")
    return process.pid


def _show_status(as_json: bool) -> None:
    running = status_of(home())
    if running is None:
        emit(as_json, {"running": False}, lambda: click.echo("no unlock session is running"))
        return
    limits = f"; spend limit {', '.join(running['limits'])}" if running["limits"] else ""
    emit(
        as_json,
        {"running": True, **running},
        lambda: click.echo(
            f"wallet {running['wallet']!r} unlocked until {_clock(running['expires_at'])}{limits} "
            f"(agent pid {running['pid']})"
        ),
    )


@click.command()
@json_option
def lock(as_json):
    """End the unlock session: the agent forgets the keys and exits."""
    here = home()
    conn = agent_client.connect(here)
    if conn is None:
        emit(as_json, {"locked": False}, lambda: click.echo("no unlock session was running"))
        return
    with conn:
        try:
            pid = agent_client.request(conn, {"op": "lock"})
            conn.recv(1)  # the agent closes the connection once it has stopped listening
        except (OSError, ConnectionError):
            pid = 0
    emit(as_json, {"locked": True, "pid": pid}, lambda: click.echo("locked: the unlock session has ended"))
