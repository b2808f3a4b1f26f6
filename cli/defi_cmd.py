"""DeFi from the terminal: token approvals and permits, the ERC-4626 vault, any contract.

    hongbao token approve TOKEN SPENDER AMOUNT|unlimited     hongbao vault deposit AMOUNT [--approve]
    hongbao token allowances [--spender S]...                hongbao vault withdraw AMOUNT|max
    hongbao token revoke TOKEN SPENDER                        hongbao vault position
    hongbao token permit TOKEN SPENDER AMOUNT [--submit]      hongbao contract call|send ADDRESS "fn(types)" ARGS...

The commands parse and render; the workflows are in cli/services/ (tokens.py, vault.py,
contract_calls.py), and every transaction goes through the same pipeline as `hongbao send`
(cli/services/signing.py): chain id check, simulation with eth_call, gas estimate, a preview
of the decoded call on stderr, confirmation (or --yes), and only then the password and the
signature. The `token` subcommands attach themselves to the `token` group of
cli/token_cmd.py when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from wallet.errors import WalletError

from .context import network_option
from .money_cmd import gas_option, max_fee_option, no_wait_option, speed_option, timeout_option, tip_option, yes_option
from .output import emit, json_option, table
from .token_cmd import token
from .wallet_cmd import index_option, password_file_option, wallet_option

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


def tx_inputs(opts: dict, report: Literal["hash", "outcome"] = "hash", allow_risky: bool = False):
    """(ClickFrontend, TxOptions) of a state-changing command's options: for people each
    transaction is `report`ed once sent (cli/click_frontend.py); --json needs --yes."""
    from .click_frontend import ClickFrontend
    from .services.sender import TxOptions
    from .services.signing import Fees

    if opts["as_json"] and not opts["yes"]:
        raise WalletError("--json needs --yes (a script cannot answer the confirmation)")
    frontend = ClickFrontend(
        opts["password_file"], yes=opts["yes"], quiet=opts["as_json"], allow_risky=allow_risky, report=report
    )
    fees = Fees(opts["speed"], opts["max_fee"], opts["tip"], opts["timeout"])
    return frontend, TxOptions(
        opts["wallet_name"], opts["index"], opts["network_name"], fees, opts["gas"], not opts["no_wait"]
    )


def _finish(opts: dict, data: dict) -> None:
    """The JSON result for scripts (people already saw each transaction as it went)."""
    if opts["as_json"]:
        emit(True, data)


# -- token approve | allowances | revoke | permit -----------------------------------------


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
    from .services import tokens

    _finish(opts, tokens.approve(token_ref, spender, amount, *tx_inputs(opts)))


@click.command("revoke")
@click.argument("token_ref", metavar="TOKEN")
@click.argument("spender")
@tx_options
def revoke(token_ref, spender, **opts):
    """Set SPENDER's allowance on TOKEN to 0 (approve 0)."""
    from .services import tokens

    data, unchanged = tokens.revoke(token_ref, spender, *tx_inputs(opts))
    if unchanged is not None:
        emit(opts["as_json"], data, lambda: _say(unchanged))
    else:
        _finish(opts, data)


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
    from .services import tokens

    data, empty = tokens.allowances(address, spenders, wallet_name=wallet_name, index=index, network_name=network_name)
    rows = data["allowances"]

    def human() -> None:
        if empty is not None:
            return _say(empty)
        table(
            f"allowances of {data['owner']} on {data['network']}",
            ["token", "spender", "", "allowance"],
            [[r["token"], r["spender"], r["spender_name"] or "", r["formatted"]] for r in rows],
        )
        for r in (r for r in rows if r["unlimited"]):
            _say(
                f"WARNING: {r['spender']} has an UNLIMITED {r['token']} approval: `hongbao token revoke {r['token']} {r['spender']}` withdraws it"
            )

    emit(as_json, data, human)


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
    from .services import tokens

    frontend, tx = tx_inputs(opts, report="outcome")
    emit(opts["as_json"], tokens.permit(token_ref, spender, amount, deadline, submit, frontend, tx), None)


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
    from .services import vault as service

    _finish(opts, service.deposit(amount, vault_ref, with_approve, *tx_inputs(opts)))


@vault.command()
@click.argument("amount")
@vault_option
@tx_options
def withdraw(amount, vault_ref, **opts):
    """Withdraw AMOUNT of the asset from the vault, or `max`: redeem every share."""
    from .services import vault as service

    _finish(opts, service.withdraw(amount, vault_ref, *tx_inputs(opts)))


@vault.command()
@click.argument("address", required=False)
@vault_option
@wallet_option
@index_option
@network_option
@json_option
def position(address, vault_ref, wallet_name, index, network_name, as_json):
    """Your shares in the vault, what they are worth in the asset, and the vault's total assets."""
    from .services import vault as service

    data = service.position(address, vault_ref, wallet_name=wallet_name, index=index, network_name=network_name)
    emit(
        as_json,
        data,
        lambda: table(
            f"vault {data['vault']} on {data['network']}",
            ["", ""],
            [
                ["owner", data["owner"]],
                ["shares", f"{data['shares_formatted']} {data['share_symbol']}"],
                ["worth", f"{data['value_formatted']} {data['asset']}"],
                ["vault total", f"{data['total_assets_formatted']} {data['asset']}"],
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
    from .services import contract_calls

    data, lines = contract_calls.read(
        address, function, args, abi_file=abi_file, sender=sender, block=block, network_name=network_name
    )
    emit(as_json, data, lambda: click.echo("\n".join(lines)))


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
    from .services import contract_calls

    frontend, tx = tx_inputs(opts)
    _finish(opts, contract_calls.send(address, function, args, frontend, tx, abi_file=abi_file, value_text=value_text))
