"""`config.toml` under HONGBAO_HOME: networks, their contracts and tokens, local chain.

    network = "local"                     # the network commands use by default

    [chain]                               # `hongbao chain up` (anvil)
    port = 8545

    [networks.local]
    rpc_url = "http://127.0.0.1:8545"
    chain_id = 31337
    explorer = ""                         # e.g. "https://etherscan.io/tx/{tx}"
    [networks.local.contracts]            # name -> address
    [networks.local.tokens.TKN]           # symbol -> address, decimals
    address = "0x..."
    decimals = 18

A missing file means the defaults above. Writes are atomic (mode 0600).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import address as addr
from . import atomic
from .errors import WalletError

FILE = "config.toml"
LOCAL = "local"
DEFAULT_PORT = 8545
LOCAL_CHAIN_ID = 31337


class ConfigError(WalletError):
    pass


@dataclass(frozen=True, slots=True)
class Token:
    symbol: str
    address: str
    decimals: int

    def to_toml(self) -> dict[str, Any]:
        return {"address": self.address, "decimals": self.decimals}


@dataclass(slots=True)
class Network:
    name: str
    rpc_url: str
    chain_id: int
    explorer: str = ""
    contracts: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL

    def token(self, symbol_or_address: str) -> Token:
        """A configured token by symbol (case-insensitive) or address."""
        wanted = symbol_or_address.strip()
        for token in self.tokens.values():
            if token.symbol.lower() == wanted.lower() or token.address.lower() == wanted.lower():
                return token
        known = ", ".join(sorted(self.tokens)) or "none"
        raise ConfigError(
            f"unknown token {wanted!r} on {self.name} (known: {known}); add it with `hongbao token add ADDRESS`"
        )

    def explorer_link(self, tx_hash: str) -> str | None:
        return self.explorer.format(tx=tx_hash) if self.explorer else None

    def to_toml(self) -> dict[str, Any]:
        return {
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "explorer": self.explorer,
            "contracts": dict(self.contracts),
            "tokens": {s: t.to_toml() for s, t in self.tokens.items()},
        }


def local_network(port: int = DEFAULT_PORT) -> Network:
    return Network(LOCAL, f"http://127.0.0.1:{port}", LOCAL_CHAIN_ID)


@dataclass(slots=True)
class Config:
    network: str = LOCAL
    port: int = DEFAULT_PORT
    networks: dict[str, Network] = field(default_factory=lambda: {LOCAL: local_network()})
    extra: dict[str, Any] = field(default_factory=dict)  # sections other packages own (relay, ...)

    def current(self, name: str | None = None) -> Network:
        wanted = name or self.network
        try:
            return self.networks[wanted]
        except KeyError:
            known = ", ".join(sorted(self.networks))
            raise ConfigError(
                f"unknown network {wanted!r} (known: {known}); add it with `hongbao network add`"
            ) from None

    def to_toml(self) -> dict[str, Any]:
        return {
            **self.extra,
            "network": self.network,
            "chain": {"port": self.port},
            "networks": {n: net.to_toml() for n, net in self.networks.items()},
        }


def _network(name: str, data: dict[str, Any]) -> Network:
    tokens = {
        symbol: Token(symbol, addr.parse(t["address"]), int(t["decimals"]))
        for symbol, t in data.get("tokens", {}).items()
    }
    contracts = {k: addr.parse(v) for k, v in data.get("contracts", {}).items()}
    return Network(name, str(data["rpc_url"]), int(data["chain_id"]), str(data.get("explorer", "")), contracts, tokens)


def path(home: Path) -> Path:
    return Path(home) / FILE


def load(home: Path) -> Config:
    file = path(home)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file} is not valid TOML ({error}); fix or remove it") from None
    try:
        port = int(raw.get("chain", {}).get("port", DEFAULT_PORT))
        networks = {name: _network(name, data) for name, data in raw.get("networks", {}).items()}
        networks.setdefault(LOCAL, local_network(port))
        extra = {k: v for k, v in raw.items() if k not in ("network", "chain", "networks")}
        return Config(str(raw.get("network", LOCAL)), port, networks, extra)
    except (KeyError, TypeError, ValueError, WalletError) as error:
        raise ConfigError(f"{file} has a bad entry ({error}); fix it or run `hongbao network add` again") from None


def save(home: Path, config: Config) -> None:
    import tomli_w

    atomic.write_bytes(path(home), tomli_w.dumps(config.to_toml()).encode("utf-8"))
