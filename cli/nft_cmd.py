"""`hongbao nft`: ERC-721 tokens. Parsing, confirming and rendering only; the workflows are
in cli/services/nfts.py. Every string a collection returns is shown through cli/inert.py."""

from __future__ import annotations

import click

from wallet.errors import WalletError

from . import names
from .context import chain as connect
from .context import history, network_option, nonce_lock_path
from .inert import inert
from .money_cmd import timeout_option, yes_option
from .output import emit, json_option
from .txview import report_sent
from .wallet_cmd import index_option, password_file_option, wallet_option


@click.group()
def nft() -> None:
    """NFTs (ERC-721): list, show, send; a test collection on the local chain."""


@nft.command("deploy-test")
@click.option("--name", default="Hongbao Test Collection", show_default=True)
@click.option("--symbol", default="HBNFT", show_default=True)
@network_option
@json_option
def deploy_test(name, symbol, network_name, as_json):
    """Deploy the test ERC-721 collection (open mint) on the local chain from anvil's dev
    account, and remember it as `test` (`nft show test#1`)."""
    from wallet import localchain

    from .services import nfts

    chain = connect(network_name)
    chain.verify()
    address, tx_hash = nfts.deploy_test(
        chain, history(), localchain.DEV_ADDRESS, localchain.DEV_KEY, nonce_lock_path(), name, symbol
    )
    nfts.record_collection(chain, address)
    emit(
        as_json,
        {"network": chain.network.name, "collection": address, "hash": tx_hash},
        lambda: click.echo(f"deployed the test collection at {address} on {chain.network.name} (as `test`)"),
    )


@nft.command("mint-test")
@click.argument("to")
@click.option("--count", type=click.IntRange(1, 50), default=1, show_default=True)
@click.option("--uri", help="The tokens' tokenURI (any text; default: none).")
@click.option("--collection", help="Collection address (default: the one `nft deploy-test` made).")
@network_option
@json_option
def mint_test(to, count, uri, collection, network_name, as_json):
    """Mint test NFTs to TO (an address or a contact) on the local chain, like the faucet."""
    from wallet import localchain

    from .services import nfts

    who = names.address(to)
    chain = connect(network_name)
    chain.verify()
    contract = nfts.parse_ref(f"{collection or 'test'}#0", chain.network.contracts).contract
    ids = nfts.mint_test(chain, history(), contract, who, localchain.DEV_KEY, nonce_lock_path(), count=count, uri=uri)
    if not ids:
        raise WalletError(f"{contract} minted nothing it logged: is it the test collection?")
    emit(
        as_json,
        {"collection": contract, "to": who, "ids": ids},
        lambda: click.echo(f"minted {', '.join(f'#{i}' for i in ids)} of {contract} to {names.labelled(who)}"),
    )


def _held_json(h) -> dict:
    return {
        "collection": h.contract,
        "id": str(h.token_id),
        "owner": h.owner,
        "name": h.collection,
        "symbol": h.symbol,
        "erc165": h.erc165,
        "kind": h.kind,
        "detail": h.detail,
    }


@nft.command("list")
@click.option("--wallet", "wallet_name", envvar="HONGBAO_WALLET", help="Only this wallet's accounts (default: all).")
@network_option
@json_option
def list_(wallet_name, network_name, as_json):
    """ERC-721 tokens my accounts hold now: those `hongbao sync` saw arrive, and Uniswap v3
    positions, each checked with the collection's ownerOf."""
    from .output import note, table
    from .services import nfts
    from .wallets import addresses

    found = nfts.holdings(addresses(wallet_name), network_name)
    if not found.held and not as_json:
        note(f"no NFTs held by {len(found.owners)} account(s) on {found.network} (`hongbao sync` finds new ones)")
        return
    emit(
        as_json,
        [_held_json(h) for h in found.held],
        lambda: table(
            f"NFTs on {found.network} (run `hongbao sync` to find new ones)", nfts.NFT_COLUMNS, found.cells()
        ),
    )


@nft.command()
@click.argument("ref", metavar="COLLECTION#ID")
@network_option
@json_option
def show(ref, network_name, as_json):
    """One token as its collection reports it now: owner, tokenURI, name (`nft show test#1`,
    `nft show 0xCOLLECTION#7`, `nft show uniswap#3`)."""
    from rich.text import Text

    from .output import console
    from .services import nfts

    chain = connect(network_name)
    chain.verify()
    reads = nfts.show(chain, nfts.parse_ref(ref, chain.network.contracts))
    data = {
        "collection": reads.contract,
        "id": str(reads.token_id),
        "owner": reads.owner,
        "name": reads.name,
        "symbol": reads.symbol,
        "token_uri": reads.token_uri,
        "erc165": reads.is_erc721,
        "approved": reads.approved,
    }

    def human() -> None:
        out = console()
        rows = [
            ("token", f"{reads.contract}#{reads.token_id}"),
            ("collection", f"{reads.name or '?'} ({reads.symbol or '?'})"),
            ("owner", names.labelled(reads.owner) if reads.owner else "nobody (ownerOf reverts)"),
            ("tokenURI", reads.token_uri if reads.token_uri is not None else "(none)"),
            *([("approved", f"{names.labelled(reads.approved)} may move it too")] if reads.approved else []),
        ]
        for label, value in rows:
            out.print(Text.assemble((f"{label:11}", "bold"), inert(value)), soft_wrap=True)  # its strings, inert
        if not reads.is_erc721:
            out.print("[yellow]the contract does not declare ERC-721 (ERC-165): treat its answers with care[/]")

    emit(as_json, data, human)


@nft.command()
@click.argument("ref", metavar="COLLECTION#ID")
@click.argument("to")
@wallet_option
@index_option
@network_option
@yes_option
@timeout_option
@click.option("--allow-risky", is_flag=True, help="With --yes: send even to a lookalike address.")
@password_file_option
@json_option
def send(ref, to, wallet_name, index, network_name, yes, timeout, allow_risky, password_file, as_json):
    """Send one NFT to TO (an address or a contact): `nft send test#3 bob`. Uses
    safeTransferFrom (a contract recipient must accept it); simulated and shown before you
    confirm; afterwards the collection's ownerOf must name TO."""
    from .click_frontend import ClickFrontend
    from .services import nfts
    from .services.sender import TxOptions
    from .services.signing import Fees

    front = ClickFrontend(password_file, yes=yes, quiet=as_json, allow_risky=allow_risky)
    sent, ref = nfts.send(ref, to, front, TxOptions(wallet_name, index, network_name, Fees(timeout=timeout)))
    report_sent(as_json, sent.record, sent.receipt, sent.link, extra={"nft": str(ref)})
