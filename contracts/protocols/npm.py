"""Compiled protocol contracts read from the npm packages in ``node_modules`` at deploy time.

Three layouts are read: waffle (``build/X.json``: ``evm.bytecode.object``, Uniswap v2), hardhat
(``artifacts/**/X.json``: ``bytecode`` and ``linkReferences``, Uniswap v3 and Aave v3) and
Synthetix's deployment file (``sources.X.{abi,bytecode}``). ``load`` returns a
``contracts.artifacts.Artifact``; libraries are linked in with ``link``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from contracts.artifacts import Artifact

__all__ = ["NODE_MODULES_ENV", "SOURCES", "MissingPackageError", "Source", "link", "load", "node_modules"]

NODE_MODULES_ENV = "HONGBAO_NODE_MODULES"
_PLACEHOLDER = re.compile(r"__\$[0-9a-fA-F]{34}\$__")


class MissingPackageError(LookupError):
    """The npm package holding a protocol's artifacts is not installed."""


@dataclass(frozen=True)
class Source:
    package: str
    path: str  # inside the package
    layout: str  # "waffle" | "hardhat" | "synthetix"


_AAVE = "@aave/core-v3"
_AAVE_ART = "artifacts/contracts"
_SEAPORT = "@opensea/seaport-js"
_SEAPORT_ART = "src/artifacts"
SOURCES: dict[str, Source] = {
    # Uniswap v2 (GPL-3.0-or-later)
    "WETH9": Source("@uniswap/v2-periphery", "build/WETH9.json", "waffle"),
    "UniswapV2Factory": Source("@uniswap/v2-core", "build/UniswapV2Factory.json", "waffle"),
    "UniswapV2Pair": Source("@uniswap/v2-core", "build/UniswapV2Pair.json", "waffle"),
    "UniswapV2Router02": Source("@uniswap/v2-periphery", "build/UniswapV2Router02.json", "waffle"),
    # Uniswap v3 (core BUSL-1.1 -> GPL-2.0-or-later since 2023-04-01; periphery GPL-2.0-or-later)
    "UniswapV3Factory": Source(
        "@uniswap/v3-core", "artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json", "hardhat"
    ),
    "NonfungiblePositionManager": Source(
        "@uniswap/v3-periphery",
        "artifacts/contracts/NonfungiblePositionManager.sol/NonfungiblePositionManager.json",
        "hardhat",
    ),
    "SwapRouter": Source("@uniswap/v3-periphery", "artifacts/contracts/SwapRouter.sol/SwapRouter.json", "hardhat"),
    "QuoterV2": Source("@uniswap/v3-periphery", "artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json", "hardhat"),
    # Aave v3 (BUSL-1.1 -> MIT after its change date)
    "PoolAddressesProvider": Source(
        _AAVE, f"{_AAVE_ART}/protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json", "hardhat"
    ),
    "ACLManager": Source(_AAVE, f"{_AAVE_ART}/protocol/configuration/ACLManager.sol/ACLManager.json", "hardhat"),
    "Pool": Source(_AAVE, f"{_AAVE_ART}/protocol/pool/Pool.sol/Pool.json", "hardhat"),
    "PoolConfigurator": Source(
        _AAVE, f"{_AAVE_ART}/protocol/pool/PoolConfigurator.sol/PoolConfigurator.json", "hardhat"
    ),
    "AaveOracle": Source(_AAVE, f"{_AAVE_ART}/misc/AaveOracle.sol/AaveOracle.json", "hardhat"),
    "AaveProtocolDataProvider": Source(
        _AAVE, f"{_AAVE_ART}/misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider.json", "hardhat"
    ),
    "AToken": Source(_AAVE, f"{_AAVE_ART}/protocol/tokenization/AToken.sol/AToken.json", "hardhat"),
    "StableDebtToken": Source(
        _AAVE, f"{_AAVE_ART}/protocol/tokenization/StableDebtToken.sol/StableDebtToken.json", "hardhat"
    ),
    "VariableDebtToken": Source(
        _AAVE, f"{_AAVE_ART}/protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json", "hardhat"
    ),
    "DefaultReserveInterestRateStrategy": Source(
        _AAVE,
        f"{_AAVE_ART}/protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json",
        "hardhat",
    ),
    "MockAggregator": Source(
        _AAVE, f"{_AAVE_ART}/mocks/oracle/CLAggregators/MockAggregator.sol/MockAggregator.json", "hardhat"
    ),
    # Seaport 1.6 (MIT), as compiled in @opensea/seaport-js; TestERC721 is its test collection
    "Seaport": Source(_SEAPORT, f"{_SEAPORT_ART}/seaport/contracts/Seaport.sol/Seaport.json", "hardhat"),
    "LocalConduitController": Source(
        _SEAPORT,
        f"{_SEAPORT_ART}/seaport/contracts/conduit/ConduitController.sol/LocalConduitController.json",
        "hardhat",
    ),
    "TestERC721": Source(_SEAPORT, f"{_SEAPORT_ART}/src/contracts/test/TestERC721.sol/TestERC721.json", "hardhat"),
    # Synthetix StakingRewards (MIT), solc 0.5.16 as deployed on mainnet
    "StakingRewards": Source("synthetix", "publish/deployed/mainnet/deployment.json", "synthetix"),
}
for _library in (
    "SupplyLogic",
    "BorrowLogic",
    "LiquidationLogic",
    "EModeLogic",
    "BridgeLogic",
    "FlashLoanLogic",
    "PoolLogic",
    "ConfiguratorLogic",
):
    SOURCES[_library] = Source(_AAVE, f"{_AAVE_ART}/protocol/libraries/logic/{_library}.sol/{_library}.json", "hardhat")


def node_modules() -> Path:
    """$HONGBAO_NODE_MODULES, or the checkout's ``node_modules`` (where `npm ci` puts them)."""
    explicit = os.environ.get(NODE_MODULES_ENV)
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2] / "node_modules"


def _hex(text: str) -> str:
    return text[2:] if text.startswith("0x") else text


@lru_cache(maxsize=64)
def _read(name: str) -> tuple[list[dict[str, Any]], str, str, tuple[tuple[str, tuple[int, ...]], ...]]:
    """(abi, creation code hex with placeholders, runtime code hex, ((library, byte offsets), ...))."""
    source = SOURCES.get(name)
    if source is None:
        raise MissingPackageError(f"no protocol artifact named {name!r}; known: {', '.join(sorted(SOURCES))}")
    path = node_modules() / source.package / source.path
    if not path.is_file():
        raise MissingPackageError(
            f"{source.package} is not installed ({path} is missing): run `npm ci` in the Hongbao checkout (`make setup`)"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if source.layout == "waffle":
        return data["abi"], _hex(data["evm"]["bytecode"]["object"]), _hex(data["evm"]["deployedBytecode"]["object"]), ()
    if source.layout == "synthetix":
        entry = data["sources"][name]
        return entry["abi"], _hex(entry["bytecode"]), "", ()
    links = tuple(
        (library, tuple(ref["start"] for ref in refs))
        for by_library in data.get("linkReferences", {}).values()
        for library, refs in by_library.items()
    )
    return data["abi"], _hex(data["bytecode"]), _hex(data["deployedBytecode"]), links


def libraries(name: str) -> list[str]:
    """The libraries ``name`` must be linked with before it can be deployed."""
    return [library for library, _ in _read(name)[3]]


def load(name: str, links: dict[str, str] | None = None) -> Artifact:
    """The artifact of protocol contract ``name``, its libraries linked at the given addresses."""
    abi, code, runtime, refs = _read(name)
    code = link(code, refs, links or {}, name)
    runtime = _PLACEHOLDER.sub("0" * 40, runtime)  # (its length is what matters: library addresses are 20 bytes)
    return Artifact(name=name, abi=abi, bytecode=bytes.fromhex(code), deployed_bytecode=bytes.fromhex(runtime))


def link(code: str, refs: tuple[tuple[str, tuple[int, ...]], ...], addresses: dict[str, str], name: str) -> str:
    """Creation code hex with each library placeholder replaced by its address."""
    chars = list(code)
    for library, offsets in refs:
        if library not in addresses:
            raise ValueError(f"{name} needs library {library} linked")
        target = _hex(addresses[library]).lower()
        for start in offsets:
            chars[2 * start : 2 * start + 40] = target
    return "".join(chars)
