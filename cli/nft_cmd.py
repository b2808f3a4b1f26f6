"""`hongbao nft`: ERC-721 tokens. Parsing, confirming and rendering only; the workflows are
in cli/services/nfts.py. Every string a collection returns is shown through cli/inert.py."""

from __future__ import annotations

import click

from wallet.errors import WalletError

from . import names
from .context import chain as connect
from .context import history, network_option, nonce_lock_path
from .output import emit, json_option


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
