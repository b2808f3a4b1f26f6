"""DeFi from the terminal: token approvals and permits, the ERC-4626 vault, any contract.

    hongbao token approve TOKEN SPENDER AMOUNT|unlimited     hongbao vault deposit AMOUNT [--approve]
    hongbao token allowances [--spender S]...                hongbao vault withdraw AMOUNT|max
    hongbao token revoke TOKEN SPENDER                        hongbao vault position
    hongbao token permit TOKEN SPENDER AMOUNT [--submit]      hongbao contract call|send ADDRESS "fn(types)" ARGS...

Every transaction goes through the same pipeline as `hongbao send` (wallet/transfers.py):
chain id check, simulation with eth_call, gas estimate, a preview of the decoded call on
stderr, confirmation (or --yes), and only then the password and the signature. The
`token` subcommands attach themselves to the `token` group of cli/token_cmd.py when this
module is imported.
"""

from __future__ import annotations

from pathlib import Path

import click

from wallet.amounts import format_units
from wallet.errors import WalletError

from . import names
from .context import chain as connect
from .context import confirm, history, network, network_option, nonce_lock_path, sending_account
from .money_cmd import gas_option, max_fee_option, no_wait_option, speed_option, timeout_option, tip_option, yes_option
from .output import emit, json_option, table
from .token_cmd import token
from .wallet_cmd import index_option, open_wallet, password_file_option, wallet_option

VAULT_KEY = "vault"  # [networks.<name>.contracts] key written by `hongbao contracts deploy`
ARGS_SETTINGS = {"ignore_unknown_options": True}  # so negative numbers reach ARGS (`-5`)


def _say(message: str) -> None:
    """A line for people on stderr (plain: user data is never taken as markup)."""
    click.echo(message, err=True)


def tx_options(function):
    """The options of every state-changing command here (the same as `hongbao send`)."""
    for option in reversed(
        [
            wallet_option,
            index_option,
            network_option,
            speed_option,
            max_fee_option,
            tip_option,
            gas_option,
            no_wait_option,
            yes_option,
            timeout_option,
            password_file_option,
            json_option,
        ]
    ):
        function = option(function)
    return function


class Session:
    """One sending account on one network, and the pipeline every transaction goes through."""

    def __init__(self, opts: dict) -> None:
        self.opts = opts
        self.as_json = opts["as_json"]
        if self.as_json and not opts["yes"]:
            raise WalletError("--json needs --yes (a script cannot answer the confirmation)")
        self.wallet, self.account = sending_account(opts["wallet_name"], opts["index"])
        self.owner = self.account.address
        self.net = network(opts["network_name"])
        self.chain = connect(opts["network_name"])
        self.chain.verify()
        self._key: bytes | None = None

    def key(self) -> bytes:
        """Unlocks the wallet once, after a confirmation."""
        from .wallet_cmd import unlock_wallet

        if self._key is None:
            self._key = unlock_wallet(self.wallet, self.opts["password_file"]).private_key(self.opts["index"])
        return self._key

    def command_hint(self) -> str:
        """The options that pick this account and network, for a command we tell the user to run."""
        parts = []
        if self.opts["wallet_name"]:
            parts.append(f"--wallet {self.opts['wallet_name']}")
        if self.opts["index"]:
            parts.append(f"--index {self.opts['index']}")
        if self.opts["network_name"]:
            parts.append(f"--network {self.opts['network_name']}")
        return "".join(" " + p for p in parts)

    def run(
        self,
        to: str,
        data: bytes,
        *,
        value: int = 0,
        call: tuple[str, dict] | None = None,
        warnings: list[str] | None = None,
        summary: str | None = None,
        must_wait: bool = False,
        report: bool = True,
    ):
        """prepare (simulate, estimate) -> preview -> confirm -> unlock, sign, send -> receipt.

        `call` = (function, {label: shown value}) shows a call `erc20.decode_call` does not
        know; `must_wait` waits for the receipt even with --no-wait and stops on a revert
        (a step that the next one depends on). For people, the hash goes to stdout and the
        outcome to stderr as soon as it is known (unless `report` is False).
        """
        from wallet import erc20, transfers
        from wallet.rpc import to_int

        from .txview import show_preview, wait_with_progress

        opts = self.opts
        draft = transfers.Draft(self.owner, to, value, data, "call")
        max_fee, tip = _fee_overrides(opts["max_fee"], opts["tip"])
        prepared = transfers.prepare(self.chain, draft, speed=opts["speed"], max_fee=max_fee, tip=tip, gas=opts["gas"])
        if call is not None and prepared.decoded is None:
            prepared.decoded = erc20.DecodedCall(call[0], call[1])
        prepared.warnings.extend(warnings or [])
        if self.as_json:
            for warning in prepared.warnings:
                _say(f"WARNING: {warning}")
        else:
            if summary:
                _say(summary)
            show_preview(prepared, self.net.name)
        from .security import review

        review(self.chain, prepared, history(), yes=opts["yes"], quiet=self.as_json)
        confirm(opts["yes"])
        record = transfers.send(self.chain, prepared, self.key(), history(), lock_path=nonce_lock_path())
        receipt = None
        if must_wait or not opts["no_wait"]:
            receipt = wait_with_progress(self.chain, record.hash, history(), opts["timeout"], self.as_json)
        sent = Sent(prepared, record, receipt, self.net.explorer_link(record.hash))
        if report and not self.as_json:
            sent.report()
        if must_wait and receipt is not None and to_int(receipt.get("status")) != 1:  # (waited: never None)
            raise WalletError(f"{record.hash} was mined but reverted; nothing after it was sent")
        return sent


class Sent:
    def __init__(self, prepared, record, receipt, link) -> None:
        self.prepared, self.record, self.receipt, self.link = prepared, record, receipt, link

    def json(self) -> dict:
        from .txview import sent_json

        data = sent_json(self.record, self.receipt)
        data["warnings"] = list(self.prepared.warnings)
        decoded = self.prepared.decoded
        if decoded is not None:
            data["call"] = {"function": decoded.function, "args": {k: str(v) for k, v in decoded.args.items()}}
        return data

    def report(self) -> None:
        """For people: the hash on stdout, what became of it on stderr."""
        from .txview import report_sent

        report_sent(False, self.record, self.receipt, self.link)


def _grid(rows: list[list[str]]) -> None:
    """`name  value` lines on stderr, like the transaction preview."""
    from rich.table import Table
    from rich.text import Text

    from .output import console

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in rows:
        grid.add_row(name, Text(value))
    console(stderr=True).print(grid)


def _fee_overrides(max_fee, tip):
    from wallet.amounts import parse_gwei

    return (parse_gwei(max_fee) if max_fee else None, parse_gwei(tip) if tip else None)


def _finish(session: Session, data: dict) -> None:
    """The JSON result for scripts (people already saw each transaction as it went)."""
    if session.as_json:
        emit(True, data)


# -- resolving what the user typed ----------------------------------------------------------


def resolve_token(net, chain, text: str):
    """A configured token by symbol or address, or any ERC-20 by address (read from the chain)."""
    from wallet import erc20
    from wallet.config import ConfigError

    try:
        return net.token(text)
    except ConfigError:
        if text.strip().lower().startswith("0x"):
            return erc20.read_token(chain.rpc, text)
        raise


def resolve_spender(net, text: str) -> str:
    """An address, the name of a contract recorded on the network (`vault`, `red_packet`),
    or a contact's name."""
    wanted = text.strip().lower().replace("-", "_")
    for name, address in net.contracts.items():
        if name.lower() == wanted:
            return address
    from messaging.contact_book import UnknownName

    try:
        return names.address(text)
    except UnknownName:
        known = ", ".join(sorted(net.contracts)) or "none recorded"
        raise WalletError(
            f"{text!r} is neither an address nor a contract recorded on {net.name} (known: {known}), nor a saved contact"
        ) from None


def _contract_name(net, address: str) -> str | None:
    """A recorded contract's name, else a contact's name, for previews and tables."""
    return next((name for name, a in net.contracts.items() if a == address), None) or names.name_of(address)


# -- token approve | allowances | revoke | permit -----------------------------------------


def _approve(session: Session, tok, spender: str, units: int, *, must_wait: bool = False) -> Sent:
    from wallet import calls, erc20

    current = erc20.allowance(session.chain.rpc, tok.address, session.owner, spender)
    name = _contract_name(session.net, spender)
    who = f"{spender} ({name})" if name else spender
    now = calls.format_allowance(current, tok)
    amount = f"ANY amount of {tok.symbol}" if calls.is_unlimited(units) else calls.format_allowance(units, tok)
    summary = f"approve: {who} may spend {amount} from {session.owner} (allowance now {now})"
    if units == 0:
        summary = f"revoke: {who} may no longer spend {tok.symbol} from {session.owner} (allowance now {now})"
    return session.run(tok.address, calls.approve_data(spender, units), summary=summary, must_wait=must_wait)


def _approval_json(tok, spender: str, units: int, sent: Sent) -> dict:
    from wallet import calls

    return {
        "token": tok.symbol,
        "token_address": tok.address,
        "spender": spender,
        "allowance": str(units),
        "formatted": calls.format_allowance(units, tok),
        **sent.json(),
    }


@click.command("approve")
@click.argument("token_ref", metavar="TOKEN")
@click.argument("spender")
@click.argument("amount")
@tx_options
def approve(token_ref, spender, amount, **opts):
    """Let SPENDER (an address, or `vault`) spend AMOUNT of TOKEN from your account.

    AMOUNT is exact (`100`, `0.5 TKN`) or `unlimited`, which lets the spender take every
    token of this kind you hold, now or later: you are warned loudly. The approval is
    simulated and shown before you confirm.
    """
    from wallet import calls

    session = Session(opts)
    tok = resolve_token(session.net, session.chain, token_ref)
    who = resolve_spender(session.net, spender)
    units = calls.token_units(amount, tok, allow_unlimited=True)
    sent = _approve(session, tok, who, units)
    _finish(session, _approval_json(tok, who, units, sent))


@click.command("revoke")
@click.argument("token_ref", metavar="TOKEN")
@click.argument("spender")
@tx_options
def revoke(token_ref, spender, **opts):
    """Set SPENDER's allowance on TOKEN to 0 (approve 0)."""
    from wallet import erc20

    session = Session(opts)
    tok = resolve_token(session.net, session.chain, token_ref)
    who = resolve_spender(session.net, spender)
    if erc20.allowance(session.chain.rpc, tok.address, session.owner, who) == 0:
        data = {
            "token": tok.symbol,
            "token_address": tok.address,
            "spender": who,
            "allowance": "0",
            "formatted": f"0 {tok.symbol}",
            "hash": None,
            "status": "unchanged",
        }
        emit(
            session.as_json,
            data,
            lambda: _say(f"{who} has no {tok.symbol} allowance from {session.owner}: nothing to revoke"),
        )
        return
    sent = _approve(session, tok, who, 0)
    _finish(session, _approval_json(tok, who, 0, sent))


@click.command("allowances")
@click.argument("address", required=False)
@click.option(
    "--spender", "spenders", multiple=True, help="Also check this spender (address or contract name); repeatable."
)
@wallet_option
@index_option
@network_option
@json_option
def allowances(address, spenders, wallet_name, index, network_name, as_json):
    """What each known spender may take: the network's tokens x its contracts (vault,
    red_packet) and every --spender, for ADDRESS (default: the wallet's account --index)."""
    from wallet import abi, calls

    owner = names.address(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    who: dict[str, str | None] = {a: name for name, a in net.contracts.items()}
    for text in spenders:
        spender = resolve_spender(net, text)
        who.setdefault(spender, _contract_name(net, spender))
    tokens = list(net.tokens.values())
    rows: list[dict] = []
    if tokens and who:
        chain = connect(network_name)
        chain.verify()
        pairs = [(t, s) for t in tokens for s in who]
        results = chain.rpc.batch(
            [
                (
                    "eth_call",
                    [
                        {"to": t.address, "data": "0x" + abi.call_data("allowance(address,address)", owner, s).hex()},
                        "latest",
                    ],
                )
                for t, s in pairs
            ]
        )
        for (tok, spender), raw in zip(pairs, results, strict=True):
            units = int(raw, 16) if raw and raw != "0x" else 0
            rows.append(
                {
                    "token": tok.symbol,
                    "token_address": tok.address,
                    "spender": spender,
                    "spender_name": who[spender],
                    "allowance": str(units),
                    "formatted": calls.format_allowance(units, tok),
                    "unlimited": calls.is_unlimited(units),
                }
            )

    def human() -> None:
        if not rows:
            _say(
                f"nothing to check on {net.name}: "
                + (
                    "no tokens configured (`hongbao token add`)"
                    if not tokens
                    else "no known spenders (`hongbao contracts deploy`, or --spender)"
                )
            )
            return
        table(
            f"allowances of {owner} on {net.name}",
            ["token", "spender", "", "allowance"],
            [[r["token"], r["spender"], r["spender_name"] or "", r["formatted"]] for r in rows],
        )
        for r in rows:
            if r["unlimited"]:
                _say(
                    f"WARNING: {r['spender']} has an UNLIMITED {r['token']} approval: `hongbao token revoke {r['token']} {r['spender']}` withdraws it"
                )

    emit(as_json, {"owner": owner, "network": net.name, "allowances": rows}, human)


@click.command("permit")
@click.argument("token_ref", metavar="TOKEN")
@click.argument("spender")
@click.argument("amount")
@click.option(
    "--deadline",
    default="1h",
    show_default=True,
    help="How long the signature stays valid: 30m, 1h, 7d (from the latest block).",
)
@click.option(
    "--submit", is_flag=True, help="Also send the permit transaction from this account (simulated, shown, confirmed)."
)
@tx_options
def permit(token_ref, spender, amount, deadline, submit, **opts):
    """Sign an EIP-2612 permit: SPENDER may spend AMOUNT of TOKEN until the deadline.

    Prints the signature (v, r, s) and the deadline as JSON; whoever holds it can submit it
    (the spender usually does, paying the gas). A signed permit is as strong as an
    approval, so it is shown and confirmed before the wallet is unlocked.
    """
    from contracts import token as token_binding
    from wallet import calls, signing
    from wallet.rpc import RpcError, to_int

    session = Session(opts)
    rpc = session.chain.rpc
    tok = resolve_token(session.net, session.chain, token_ref)
    who = resolve_spender(session.net, spender)
    units = calls.token_units(amount, tok, allow_unlimited=True)
    seconds = calls.parse_duration(deadline)
    try:
        name, nonce = token_binding.name(rpc, tok.address), token_binding.nonces(rpc, tok.address, session.owner)
    except (RpcError, ValueError):
        raise WalletError(
            f"{tok.symbol} ({tok.address}) does not answer name() and nonces(owner): it does not support EIP-2612 permits"
        ) from None
    expires = to_int(rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"]) + seconds
    typed = token_binding.permit_typed_data(
        tok.address, session.chain.chain_id, name, session.owner, who, units, nonce, expires
    )
    warnings = (
        [f"UNLIMITED PERMIT: {who} could take every {tok.symbol} you hold, now or later"]
        if calls.is_unlimited(units)
        else []
    )
    if session.as_json:
        for warning in warnings:
            _say(f"WARNING: {warning}")
    else:
        _grid(
            [
                ["sign", f"EIP-2612 permit for {tok.symbol} ({tok.address})"],
                ["owner", session.owner],
                ["spender", who],
                ["value", calls.format_allowance(units, tok)],
                ["nonce", str(nonce)],
                ["deadline", f"{expires} ({_when(expires)})"],
                ["network", f"{session.net.name} (chain id {session.chain.chain_id})"],
            ]
        )
        for warning in warnings:
            _say(f"WARNING: {warning}")
    confirm(opts["yes"], "Sign this permit?")
    v, r, s = token_binding.split_signature(signing.sign_typed_data(session.key(), typed))
    data = token_binding.permit_data(session.owner, who, units, expires, v, r, s)
    try:  # would the token take it? (its EIP-712 domain could differ from (name, "1", chain id, token))
        rpc.call("eth_call", {"from": session.owner, "to": tok.address, "data": "0x" + data.hex()}, "latest")
    except RpcError as error:
        if not calls.is_revert(error):
            raise
        from wallet.abi import revert_reason

        raise WalletError(
            f"{tok.symbol} would refuse this permit ({revert_reason(calls.revert_data(error))}); the signature was discarded"
        ) from None
    result = {
        "token": tok.symbol,
        "token_address": tok.address,
        "owner": session.owner,
        "spender": who,
        "value": str(units),
        "nonce": nonce,
        "deadline": expires,
        "v": v,
        "r": "0x" + r.hex(),
        "s": "0x" + s.hex(),
        "signature": "0x" + (r + s + bytes([v])).hex(),
        "calldata": "0x" + data.hex(),
        "warnings": warnings,
    }
    if submit:
        call = (
            "permit",
            {"owner": session.owner, "spender": who, "value": calls.format_allowance(units, tok), "deadline": expires},
        )
        sent = session.run(tok.address, data, call=call, summary=f"submitting the permit for {who}", report=False)
        result["tx"] = sent.json()
        if not session.as_json and sent.receipt is not None:
            from .txview import describe_receipt

            _say(describe_receipt(sent.receipt))
    emit(session.as_json, result, None)


def _when(timestamp: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


TOKEN_COMMANDS = (approve, allowances, revoke, permit)
for _command in TOKEN_COMMANDS:  # attach to `hongbao token` (idempotent)
    token.add_command(_command)


# -- vault deposit | withdraw | position ---------------------------------------------------

vault_option = click.option(
    "--vault", "vault_ref", help="Vault address or contract name (default: the network's recorded `vault`)."
)


@click.group()
def vault() -> None:
    """The ERC-4626 vault (`hongbao contracts deploy`): deposit, withdraw, position."""


def _vault(net, chain, ref: str | None):
    """(vault address, its asset as a Token, its share token as a Token)."""
    from contracts import vault as vault_binding
    from wallet import erc20

    if ref is None:
        if VAULT_KEY not in net.contracts:
            raise WalletError(
                f"no vault recorded on {net.name}: run `hongbao contracts deploy` (local chain) or pass --vault ADDRESS"
            )
        where = net.contracts[VAULT_KEY]
    else:
        where = resolve_spender(net, ref)
    if not chain.code(where):
        raise WalletError(
            f"no contract at {where} on {net.name}: the vault is gone (a fresh chain?); run `hongbao contracts deploy`"
        )
    try:
        asset_address = vault_binding.asset(chain.rpc, where)
    except (WalletError, ValueError):
        raise WalletError(f"{where} does not answer asset(): it is not an ERC-4626 vault") from None
    asset = next((t for t in net.tokens.values() if t.address == asset_address), None) or erc20.read_token(
        chain.rpc, asset_address
    )
    return where, asset, erc20.read_token(chain.rpc, where)


@vault.command()
@click.argument("amount")
@vault_option
@click.option(
    "--approve",
    "with_approve",
    is_flag=True,
    help="If the vault's allowance is short, approve exactly AMOUNT first (its own preview and confirmation).",
)
@tx_options
def deposit(amount, vault_ref, with_approve, **opts):
    """Deposit AMOUNT of the vault's asset (`100`, `100 TKN`, `max`) for shares.

    The vault needs an allowance for it: without one this says which `hongbao token
    approve` to run, or --approve does it first (exactly AMOUNT, never unlimited).
    """
    from contracts import vault as vault_binding
    from wallet import calls, erc20
    from wallet.amounts import parse_amount
    from wallet.transfers import InsufficientFunds

    session = Session(opts)
    rpc = session.chain.rpc
    where, asset, shares_token = _vault(session.net, session.chain, vault_ref)
    held = erc20.balance_of(rpc, asset.address, session.owner)
    units = held if parse_amount(amount).is_max else calls.token_units(amount, asset)
    if units == 0:
        raise WalletError(
            f"nothing to deposit: the amount is 0 {asset.symbol}"
            + (f" (you hold no {asset.symbol})" if held == 0 else "")
        )
    if units > held:
        raise InsufficientFunds(
            f"insufficient {asset.symbol}: depositing {format_units(units, asset.decimals)}, have {format_units(held, asset.decimals)}"
        )
    allowed = erc20.allowance(rpc, asset.address, session.owner, where)
    approval = None
    if allowed < units:
        if not with_approve:
            ref = asset.symbol if asset.symbol in session.net.tokens else asset.address
            raise WalletError(
                f"the vault may not take your {asset.symbol} yet (allowance {format_units(allowed, asset.decimals)}, the deposit needs {format_units(units, asset.decimals)}): "
                f"run `hongbao token approve {ref} {where} {format_units(units, asset.decimals)}{session.command_hint()}` first, or add --approve"
            )
        approval = _approve(session, asset, where, units, must_wait=True)
    expected = vault_binding.preview_deposit(rpc, where, units)
    call = ("deposit", {"assets": f"{format_units(units, asset.decimals)} {asset.symbol}", "receiver": session.owner})
    summary = f"deposit: {format_units(units, asset.decimals)} {asset.symbol} into the vault {where} for ~{format_units(expected, shares_token.decimals)} {shares_token.symbol}"
    done = session.run(where, vault_binding.deposit_data(units, session.owner), call=call, summary=summary)
    data = {
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "assets": str(units),
        "expected_shares": str(expected),
        "approve": _approval_json(asset, where, units, approval) if approval else None,
        "deposit": done.json(),
    }
    _finish(session, data)


@vault.command()
@click.argument("amount")
@vault_option
@tx_options
def withdraw(amount, vault_ref, **opts):
    """Withdraw AMOUNT of the asset from the vault, or `max`: redeem every share."""
    from contracts import vault as vault_binding
    from wallet import calls
    from wallet.amounts import parse_amount

    session = Session(opts)
    rpc = session.chain.rpc
    where, asset, shares_token = _vault(session.net, session.chain, vault_ref)
    shares = vault_binding.balance_of(rpc, where, session.owner)
    if shares == 0:
        raise WalletError(f"{session.owner} holds no shares of the vault {where}: nothing to withdraw")
    if parse_amount(amount).is_max:
        units = vault_binding.convert_to_assets(rpc, where, shares)
        data = vault_binding.redeem_data(shares, session.owner, session.owner)
        call = (
            "redeem",
            {
                "shares": f"{format_units(shares, shares_token.decimals)} {shares_token.symbol} (all)",
                "receiver": session.owner,
                "owner": session.owner,
            },
        )
    else:
        units = calls.token_units(amount, asset)
        most = vault_binding.max_withdraw(rpc, where, session.owner)
        if units == 0:
            raise WalletError(f"nothing to withdraw: the amount is 0 {asset.symbol}")
        if units > most:
            raise WalletError(
                f"you can withdraw at most {format_units(most, asset.decimals)} {asset.symbol} from the vault (asked {format_units(units, asset.decimals)}); `max` takes it all"
            )
        data = vault_binding.withdraw_data(units, session.owner, session.owner)
        call = (
            "withdraw",
            {
                "assets": f"{format_units(units, asset.decimals)} {asset.symbol}",
                "receiver": session.owner,
                "owner": session.owner,
            },
        )
    summary = f"withdraw: ~{format_units(units, asset.decimals)} {asset.symbol} from the vault {where}"
    done = session.run(where, data, call=call, summary=summary)
    result = {
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "assets": str(units),
        "all": parse_amount(amount).is_max,
        **done.json(),
    }
    _finish(session, result)


@vault.command()
@click.argument("address", required=False)
@vault_option
@wallet_option
@index_option
@network_option
@json_option
def position(address, vault_ref, wallet_name, index, network_name, as_json):
    """Your shares in the vault, what they are worth in the asset, and the vault's total assets."""
    from contracts import vault as vault_binding

    owner = names.address(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    where, asset, shares_token = _vault(net, chain, vault_ref)
    shares = vault_binding.balance_of(chain.rpc, where, owner)
    worth = vault_binding.convert_to_assets(chain.rpc, where, shares) if shares else 0
    total = vault_binding.total_assets(chain.rpc, where)
    data = {
        "owner": owner,
        "network": net.name,
        "vault": where,
        "asset": asset.symbol,
        "asset_address": asset.address,
        "share_symbol": shares_token.symbol,
        "shares": str(shares),
        "shares_formatted": format_units(shares, shares_token.decimals),
        "value": str(worth),
        "value_formatted": format_units(worth, asset.decimals),
        "total_assets": str(total),
        "total_assets_formatted": format_units(total, asset.decimals),
    }
    emit(
        as_json,
        data,
        lambda: table(
            f"vault {where} on {net.name}",
            ["", ""],
            [
                ["owner", owner],
                ["shares", f"{data['shares_formatted']} {shares_token.symbol}"],
                ["worth", f"{data['value_formatted']} {asset.symbol}"],
                ["vault total", f"{data['total_assets_formatted']} {asset.symbol}"],
            ],
        ),
    )


# -- contract call | send --------------------------------------------------------------------

abi_option = click.option(
    "--abi",
    "abi_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON ABI (or an artifact with an "abi" list): FUNCTION is then a name.',
)


@click.group()
def contract() -> None:
    """Any contract: call a function (a read), send a transaction."""


def _function(function_text: str, abi_file: Path | None):
    from wallet import calls

    if abi_file is not None:
        return calls.function_from_abi(calls.load_abi(abi_file), function_text)
    if "(" not in function_text:
        raise WalletError(
            f'{function_text!r} is not a function signature: write it as name(types), e.g. "balanceOf(address)(uint256)", or give --abi FILE'
        )
    return calls.parse_signature(function_text)


def _contract_at(chain, net, text: str) -> str:
    where = resolve_spender(net, text)
    if not chain.code(where):
        raise WalletError(f"no contract at {where} on {net.name}: check the address and the network")
    return where


@contract.command("call", context_settings=ARGS_SETTINGS)
@click.argument("address")
@click.argument("function")
@click.argument("args", nargs=-1)
@abi_option
@click.option("--from", "sender", help="Caller address (msg.sender) for the call.")
@click.option("--block", default="latest", show_default=True, help="Block number (or latest, pending).")
@network_option
@json_option
def call_command(address, function, args, abi_file, sender, block, network_name, as_json):
    """Read: eth_call FUNCTION on ADDRESS, e.g. `contract call 0xTOKEN "balanceOf(address)(uint256)" 0xME`.

    The return types, in a second pair of parentheses (or from --abi), decode the result;
    without them the raw bytes are printed. Arguments: addresses (EIP-55 checked),
    integers (decimal or 0x), true/false, 0x hex bytes, strings, lists [a,b].
    """
    from wallet import calls
    from wallet.rpc import RpcError

    fn = _function(function, abi_file)
    values = calls.parse_args(fn, args)
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    where = _contract_at(chain, net, address)
    request = {"to": where, "data": "0x" + calls.calldata(fn, values).hex()}
    if sender:
        request["from"] = names.address(sender)
    tag = _block_tag(block)
    try:
        raw = bytes.fromhex((chain.rpc.call("eth_call", request, tag) or "0x")[2:])
    except RpcError as error:
        if not calls.is_revert(error):
            raise
        from wallet.abi import revert_reason

        raise WalletError(f"{fn.signature} on {where} reverted ({revert_reason(calls.revert_data(error))})") from None
    decoded = calls.decode_result(fn, raw)
    outputs = fn.outputs or ()
    data = {
        "to": where,
        "function": fn.signature,
        "returns": [p.type for p in outputs],
        "args": [calls.to_json(p.type, v) for p, v in zip(fn.inputs, values, strict=True)],
        "result": [calls.to_json(p.type, v) for p, v in zip(outputs, decoded, strict=True)],
        "raw": "0x" + raw.hex(),
    }

    def human() -> None:
        if not outputs:
            click.echo("0x" + raw.hex())
            return
        for p, v in zip(outputs, decoded, strict=True):
            click.echo(calls.to_text(p.type, v))

    emit(as_json, data, human)


@contract.command("send", context_settings=ARGS_SETTINGS)
@click.argument("address")
@click.argument("function")
@click.argument("args", nargs=-1)
@abi_option
@click.option("--value", "value_text", help="ETH to send with the call: 0.1, '0.1 ETH', '5 gwei', '100 wei'.")
@tx_options
def send_command(address, function, args, abi_file, value_text, **opts):
    """Write: a transaction calling FUNCTION on ADDRESS, e.g. `contract send 0xTOKEN "transfer(address,uint256)" 0xTO 1000`.

    Integers are base units (no decimals are applied). The call is simulated and shown
    (the signature as parsed and each argument) before you confirm.
    """
    from wallet import calls

    fn = _function(function, abi_file)
    values = calls.parse_args(fn, args)
    value = _wei(value_text) if value_text else 0
    session = Session(opts)
    where = _contract_at(session.chain, session.net, address)
    warnings = []
    if fn.mutability in ("view", "pure"):
        warnings.append(
            f"{fn.name} is a {fn.mutability} function: a transaction changes nothing; `hongbao contract call` reads it for free"
        )
    if value and fn.mutability == "nonpayable":
        warnings.append(f"{fn.name} is not payable: sending ETH with it should fail")
    shown = {label: calls.to_text(p.type, v) for label, p, v in zip(fn.labels(), fn.inputs, values, strict=True)}
    summary = f"function: {fn.signature} (selector 0x{fn.selector.hex()})"
    sent = session.run(
        where, calls.calldata(fn, values), value=value, call=(fn.name, shown), warnings=warnings, summary=summary
    )
    result = sent.json()
    result["function"] = {
        "signature": fn.signature,
        "selector": "0x" + fn.selector.hex(),
        "args": [calls.to_json(p.type, v) for p, v in zip(fn.inputs, values, strict=True)],
    }
    _finish(session, result)


def _block_tag(text: str) -> str:
    import re

    text = text.strip().lower()
    if text in ("latest", "pending", "earliest", "safe", "finalized"):
        return text
    if re.fullmatch(r"[0-9]+", text):
        return hex(int(text))
    if re.fullmatch(r"0x[0-9a-f]+", text):
        return hex(int(text, 16))
    raise WalletError(f"--block {text!r}: give a block number, or latest / pending")


def _wei(text: str) -> int:
    from wallet.amounts import AmountError, parse_amount, to_units

    amount = parse_amount(text, "ETH")
    scale = {"eth": 18, "gwei": 9, "wei": 0}.get((amount.unit or "ETH").lower())
    if amount.value is None or scale is None:
        raise AmountError(f"--value {text!r}: give an amount of ETH (0.1, '0.1 ETH', '5 gwei', '100 wei')")
    return to_units(amount.value, scale, amount.unit or "ETH")
