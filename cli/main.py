"""Entry point of the `hongbao` command.

Subcommand groups load on first use, so `hongbao --help` and commands that never touch
a chain do not pay for importing web3 or eth-account.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# group name -> (module, attribute, one-line help)
GROUPS = {
    "wallet": ("cli.wallet_cmd", "wallet", "Keys: create, import, derive, sign, verify, export."),
    "chain": ("cli.chain_cmd", "chain", "The local chain (anvil): up, down, status."),
    "network": ("cli.network_cmd", "network", "Networks: add, list, use."),
    "token": ("cli.defi_cmd", "token", "ERC-20 tokens: add, list, approve, allowances, revoke, permit."),
    "vault": ("cli.defi_cmd", "vault", "The ERC-4626 vault: deposit, withdraw, position."),
    "contract": ("cli.defi_cmd", "contract", "Any contract: call (a read), send (a transaction)."),
    "balance": ("cli.money_cmd", "balance", "ETH and token balances."),
    "send": ("cli.money_cmd", "send", "Send ETH or a token (simulated and shown first)."),
    "faucet": ("cli.money_cmd", "faucet", "Fund an address on the local chain."),
    "request": ("cli.request_cmd", "request", "Payment requests and split bills: ask, list, status, decline."),
    "pay": ("cli.request_cmd", "pay", "Pay a payment request (as `send`, with a notice naming it)."),
    "tx": ("cli.tx_cmd", "tx", "Transactions: list, show, speed-up, cancel."),
    "sync": ("cli.history_cmd", "sync_command", "Find incoming ETH and token transfers."),
    "contracts": ("cli.contracts_cmd", "contracts", "Contracts: build, deploy (local chain)."),
    "node": ("cli.node_cmd", "node", "The relay daemon: start, stop, status, migrate."),
    "packet": ("cli.packet_cmd", "packet", "Red packets: create, list, claim, submit, info, refund, resend."),
    "chat": ("cli.chat_cmd", "chat", "Chat: send, inbox, show, watch."),
    "contacts": ("cli.contacts_cmd", "contacts", "Contacts: add, list, remove, verify."),
    "group": ("cli.group_cmd", "group", "Groups: create, add, remove, rename, list."),
    "relay": ("cli.relay_cmd", "relay", "The relay chats go through: use, status."),
    "defi": ("cli.defi_deploy_cmd", "defi", "Real DeFi protocols on the local chain: deploy."),
    "swap": ("cli.swap_cmd", "swap", "Swap on Uniswap v2/v3 at the best quote (previewed first)."),
    "lend": ("cli.lend_cmd", "lend", "Aave v3: supply, withdraw, borrow, repay, status."),
    "stake": ("cli.stake_cmd", "stake", "The staking farm: deposit, withdraw, claim, exit, status."),
    "positions": ("cli.positions_cmd", "positions", "Everything held in the DeFi protocols, valued."),
    "pool": ("cli.pool_cmd", "pool", "Uniswap liquidity: add, remove, list (v2 shares, v3 NFTs)."),
    "nft": ("cli.nft_cmd", "nft", "NFTs (ERC-721): list, show, send; a test collection on the local chain."),
    "trade": ("cli.trade_cmd", "trade", "Trade in chats: offers on Seaport, shared trades to follow."),
    "unlock": ("cli.agent_cmd", "unlock", "Start an unlock session: commands need no password for a while."),
    "lock": ("cli.agent_cmd", "lock", "End the unlock session."),
    "app": ("cli.app.command", "app", "The live chat wallet, full screen in a terminal or (--web) a browser."),
    "security": ("cli.security_cmd", "security", "Daily limits and a second factor (TOTP) for large sends."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *GROUPS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in GROUPS:
            module, attribute, _ = GROUPS[name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, GROUPS[name][2]) for name in sorted(GROUPS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hongbao", prog_name="hongbao")
def cli() -> None:
    """Hongbao: a self-custody Ethereum wallet that chats.

    Files live in HONGBAO_HOME (default: the platform's user data folder). Passwords come
    from a prompt, HONGBAO_PASSWORD or --password-file, never from the command line.
    """


def main(argv: list[str] | None = None) -> None:
    from wallet.errors import WalletError

    os.umask(0o077)  # whatever we (and our children: anvil, the relay) create is the user's alone

    try:
        code = cli.main(args=argv, prog_name="hongbao", standalone_mode=False)
    except WalletError as error:
        _fail(str(error))
    except click.exceptions.Abort:
        _fail("aborted", interrupted=True)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.NoArgsIsHelpError as shown:  # `hongbao`, `hongbao wallet`: help, not an error
        click.echo(shown.ctx.get_help())
        sys.exit(0)
    except click.ClickException as error:
        ctx = error.ctx if isinstance(error, click.UsageError) else None  # usage errors know their command
        where = (
            f"hongbao {ctx.command_path.split(' ', 1)[1]}" if ctx is not None and " " in ctx.command_path else "hongbao"
        )
        _fail(f"{error.format_message()} (see `{where} --help`)")
    except KeyboardInterrupt:
        _fail("interrupted", interrupted=True)
    except Exception as error:  # never print a library's message: it might hold a secret
        if os.environ.get("HONGBAO_DEBUG"):
            raise
        _fail(f"internal error ({type(error).__name__}); rerun with HONGBAO_DEBUG=1 for details and report it", code=70)
    sys.exit(code or 0)


def _fail(message: str, code: int = 1, *, interrupted: bool = False) -> None:
    from .inert import inert

    if interrupted and sys.stderr.isatty():  # ^C at a prompt or a spinner: the cursor is mid-line
        click.echo(err=True)
    click.echo(f"error: {inert(message)}", err=True)  # messages quote relays, names, addresses
    sys.exit(code)


if __name__ == "__main__":
    main()
