"""The relay's settings: defaults, then `[relay]` of config.toml, then HONGBAO_RELAY_* variables.

    [relay]
    db_url = "postgresql+psycopg://relay@db.example/relay"
    port = 8787
    rate = 200            # requests/s per client (token bucket), with `rate_burst` in reserve

Every field below can be set either way; the environment wins (HONGBAO_RELAY_PORT=9000).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.toml"
SECTION = "relay"
ENV_PREFIX = "HONGBAO_RELAY_"
FOLDER = "relay"  # under HONGBAO_HOME: the SQLite file, pid file and log
DAY_S = 24 * 3600


class SettingsError(ValueError):
    pass


def default_db_url(home: Path) -> str:
    return f"sqlite:///{Path(home) / FOLDER / 'relay.sqlite'}"


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str
    host: str = "127.0.0.1"
    port: int = 8787
    max_envelope: int = 65536  # ciphertext bytes (messaging.padding.MAX_BUCKET)
    max_batch: int = 500
    max_ttl: int = 30 * DAY_S  # seconds (messaging.envelope.MAX_TTL)
    rate: float = 200.0  # requests/s per client
    rate_burst: int = 400
    one_time_claims_per_minute: float = 20.0  # per address; beyond, bundles come without a one-time prekey
    mailbox_quota_messages: int = 10_000
    mailbox_quota_bytes: int = 256 * 1024 * 1024
    # the request lane: envelopes without a valid delivery pass (strangers' first contact)
    request_quota_messages: int = 500  # per mailbox; beyond, the oldest requests are evicted
    request_quota_bytes: int = 16 * 1024 * 1024  # per mailbox, likewise
    request_max_ttl: int = 7 * DAY_S  # seconds; longer TTLs are shortened to this
    request_rate: float = 200.0  # cost units/s per client address (an envelope costs 1 per started 4 KiB)
    request_burst: int = 2000
    request_mailbox_rate: float = 50.0  # cost units/s into one mailbox's request lane, from everyone together
    request_mailbox_burst: int = 500
    request_disk_cap: int = 1024 * 1024 * 1024  # bytes of requests over all mailboxes; beyond, 507
    max_passes: int = 4  # delivery passes a mailbox may register at once
    streams_per_mailbox: int = 8  # open WebSocket streams per mailbox (token)
    streams_per_client: int = 64  # open WebSocket streams per client address
    metrics_token: str = ""  # /metrics answers loopback clients, or anyone presenting this bearer token
    token_ttl: int = 900  # seconds
    challenge_ttl: int = 120  # seconds
    sweep_interval: float = 60.0  # seconds; 0 turns the sweeper off
    fetch_limit: int = 1000  # most envelopes one GET /v1/mailbox returns
    log_level: str = "info"

    @property
    def max_body(self) -> int:
        """The largest request body worth reading: a full batch of the largest envelopes,
        base64-encoded, with room for the JSON around them."""
        return self.max_batch * (self.max_envelope * 4 // 3 + 512) + 4096

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def load(cls, home: Path, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {"db_url": default_db_url(home)}
        values.update(_from_config(Path(home) / CONFIG_FILE))
        for field in fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = raw
        return cls(**{name: _coerce(name, value) for name, value in values.items()})


_TYPES = {f.name: f.type for f in fields(Settings)}


def _from_config(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} is not valid TOML ({error}); fix or remove it") from None
    section = raw.get(SECTION, {})
    if not isinstance(section, dict):
        raise SettingsError(f"[{SECTION}] in {path} must be a table")
    unknown = sorted(set(section) - set(_TYPES))
    if unknown:
        raise SettingsError(f"unknown setting(s) in [{SECTION}] of {path}: {', '.join(unknown)}")
    return dict(section)


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES[name]
    number: int | float
    try:
        if kind == "int":
            number = int(value)
        elif kind == "float":
            number = float(value)
        else:
            return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"relay setting {name} must be a number, not {value!r}") from None
    if number < 0 or (number == 0 and name not in ("sweep_interval",)):
        raise SettingsError(f"relay setting {name} must be positive, not {value!r}")
    return number
