"""`hongbao security ...`: daily limits and the second factor (TOTP) for large sends."""

from __future__ import annotations

import time

import click

from wallet import second_factor
from wallet.errors import WalletError
from wallet.home import home

from .context import history, network, network_option
from .output import emit, json_option, table
from .wallet_cmd import password_file_option, wallet_option
from .wallets import open_wallet, unlock_wallet


@click.group()
def security() -> None:
    """Daily limits and a second factor (TOTP) for large sends."""


def _guarded_change(wallet_name: str | None, password_file, why: str) -> None:
    """A change that weakens protection needs a code once the second factor is on."""
    from .second_factor import verify

    settings = second_factor.load(home())
    wallet = open_wallet(wallet_name)
    if wallet.name in settings.totp_wallets:
        verify(unlock_wallet(wallet, password_file), settings, why)


@security.command("limit")
@click.argument("limit", required=False, metavar="'AMOUNT UNIT/day'")
@click.option("--remove", "remove", metavar="UNIT", help="Remove the limit on this asset (ETH or a token symbol).")
@wallet_option
@network_option
@password_file_option
@json_option
def limit_(limit, remove, wallet_name, network_name, password_file, as_json):
    """Set a daily limit: `security limit "1 ETH/day"`, `security limit "500 TKN/day"`.

    A send, approval, red packet or DeFi action that would push the day's outflow (UTC) past
    a limit needs a code from the second factor (or is refused without one). Changing or
    removing a limit needs a code too once the second factor is on.
    """
    from wallet import outflow

    net = network(network_name)
    tokens = {s.upper(): (t.address, t.decimals) for s, t in net.tokens.items()}
    settings = second_factor.load(home())
    current = settings.limits.get(str(net.chain_id), [])
    if limit is None and remove is None:
        rows = [limit.shown for limit in current]
        emit(as_json, {"network": net.name, "limits": rows}, lambda: click.echo("\n".join(rows) or "no daily limit"))
        return
    if remove is not None:
        asset = outflow.ETH if remove.upper() == outflow.ETH else tokens.get(remove.upper(), (remove, 0))[0].lower()
        kept = [limit for limit in current if limit.asset != asset]
        if len(kept) == len(current):
            raise WalletError(f"no daily limit on {remove} on {net.name}")
        _guarded_change(wallet_name, password_file, f"Removing the daily limit on {remove}")
        new = None
    else:
        new = outflow.parse_limit(limit, tokens)
        old = next((limit for limit in current if limit.asset == new.asset), None)
        if old is not None and new.units > old.units:
            _guarded_change(wallet_name, password_file, f"Raising the daily limit to {new.shown}")
        kept = [limit for limit in current if limit.asset != new.asset] + [new]
    settings = second_factor.load(home())
    settings.limits[str(net.chain_id)] = kept
    second_factor.save(home(), settings)
    shown = [limit.shown for limit in kept]
    emit(
        as_json,
        {"network": net.name, "limits": shown},
        lambda: click.echo(f"daily limits on {net.name}: {', '.join(shown) or 'none'}"),
    )


@security.group()
def totp() -> None:
    """The second factor: a 6-digit code from an authenticator app (RFC 6238)."""


def _switch(unlocked, secret: str | None) -> None:
    """Seal the secret in the vault (None: remove it), then say so in security.json."""
    unlocked.set_sealed_extra(second_factor.EXTRA, secret)
    settings = second_factor.load(home())
    name = unlocked.wallet.name
    settings.totp_wallets = [w for w in settings.totp_wallets if w != name] + ([name] if secret else [])
    second_factor.save(home(), settings)


@totp.command("enable")
@wallet_option
@password_file_option
@json_option
def totp_enable(wallet_name, password_file, as_json):
    """Create the TOTP secret, seal it in the wallet, and show it once (QR code and text)."""
    from . import secrets
    from .second_factor import ask_code

    wallet = open_wallet(wallet_name)
    settings = second_factor.load(home())
    if wallet.name in settings.totp_wallets:
        raise WalletError(f"the second factor is already on for wallet {wallet.name!r}")
    unlocked = unlock_wallet(wallet, password_file)
    secret = second_factor.new_secret()
    uri = second_factor.provisioning_uri(
        secret, f"{wallet.name} ({wallet.accounts[0].address if wallet.accounts else ''})"
    )
    if as_json:
        emit(True, {"wallet": wallet.name, "secret": secret, "uri": uri})
    else:
        import segno

        click.echo("Scan this with your authenticator app (it is shown only now):", err=True)
        segno.make(uri, error="m").terminal(compact=True, border=2)
        click.echo(f"or type the secret: {secret}")
        if secrets.interactive():
            code = ask_code("Code shown by the app now (to check it is set up)")
            if second_factor.accept(secret, code, time.time(), None) is None:
                raise WalletError("that code does not match; nothing was changed: run the command again")
    _switch(unlocked, secret)
    if not as_json:
        click.echo(f"second factor on for wallet {wallet.name!r}: sends past a daily limit now need a code")


@totp.command("disable")
@wallet_option
@password_file_option
@json_option
def totp_disable(wallet_name, password_file, as_json):
    """Turn the second factor off (needs a code)."""
    wallet = open_wallet(wallet_name)
    settings = second_factor.load(home())
    if wallet.name not in settings.totp_wallets:
        raise WalletError(f"the second factor is not on for wallet {wallet.name!r}")
    from .second_factor import verify

    unlocked = unlock_wallet(wallet, password_file)
    verify(unlocked, settings, "Turning the second factor off")
    _switch(unlocked, None)
    emit(as_json, {"wallet": wallet.name, "totp": False}, lambda: click.echo("second factor off"))


@security.command("status")
@wallet_option
@click.option("--index", "-i", type=click.IntRange(min=0), default=0, show_default=True, help="Account number.")
@network_option
@json_option
def status(wallet_name, index, network_name, as_json):
    """Limits, today's outflow, the second factor, wrong codes."""
    from wallet import amounts

    from .services.security import spent_today

    net = network(network_name)
    settings = second_factor.load(home())
    wallet = open_wallet(wallet_name)
    me = wallet.account(index).address
    spent = spent_today(history(), net.chain_id, me, time.time())
    decimals = {t.address.lower(): (t.decimals, t.symbol) for t in net.tokens.values()}
    rows = []
    for limit in settings.limits.get(str(net.chain_id), []):
        places, _symbol = decimals.get(limit.asset, (18, limit.asset))
        rows.append({"limit": limit.shown, "spent_today": amounts.format_units(spent.get(limit.asset, 0), places)})
    data = {
        "wallet": wallet.name,
        "account": me,
        "network": net.name,
        "limits": rows,
        "totp": wallet.name in settings.totp_wallets,
        "wrong_codes": settings.wrong_codes,
    }

    def human() -> None:
        table(
            f"security of {wallet.name} on {net.name}",
            ["limit", "spent today"],
            [[r["limit"], r["spent_today"]] for r in rows],
        )
        click.echo(f"second factor: {'on' if data['totp'] else 'off'}; wrong codes so far: {settings.wrong_codes}")

    emit(as_json, data, human)


def _eth_amount(text: str) -> int:
    from wallet.amounts import parse_amount, to_units

    amount = parse_amount(text, "ETH")
    if amount.value is None or (amount.unit or "ETH").upper() != "ETH":
        raise WalletError(f"an alert threshold is an amount of ETH, like 0.5, not {text!r}")
    return to_units(amount.value, 18, "ETH")


@security.command("alerts")
@click.option("--incoming-above", metavar="ETH", help="Tell me about incoming ETH above this ('off' to stop).")
@click.option("--balance-below", metavar="ETH", help="Tell me when the balance falls below this ('off' to stop).")
@json_option
def alerts_(incoming_above, balance_below, as_json):
    """Alert thresholds for `chat watch` and `security check` (unsigned outgoing transactions
    and new approvals are always told)."""
    settings = second_factor.load(home())
    for key, text in (("incoming_above", incoming_above), ("balance_below", balance_below)):
        if text is None:
            continue
        if text.strip().lower() == "off":
            settings.alerts.pop(key, None)
        else:
            settings.alerts[key] = _eth_amount(text)
    second_factor.save(home(), settings)
    shown = {k: str(v) for k, v in settings.alerts.items()}
    emit(as_json, shown, lambda: click.echo(", ".join(f"{k}: {v} wei" for k, v in shown.items()) or "no thresholds"))


@security.command("check")
@wallet_option
@click.option("--index", "-i", type=click.IntRange(min=0), default=0, show_default=True, help="Account number.")
@click.option("--cursor", default="", hidden=True, help="Whose place in the chain (the unlock session keeps its own).")
@network_option
@json_option
def check(wallet_name, index, cursor, network_name, as_json):
    """Look once at the account's new blocks for alerts (what `chat watch` tells as it runs)."""
    import json

    from .alerts import ChainAlerts

    me = open_wallet(wallet_name).account(index).address
    found = ChainAlerts(me, network_name, cursor).poll()
    for alert in found:
        click.echo(json.dumps(alert) if as_json else alert["text"])
