"""The second factor for large sends: daily limits and TOTP codes (RFC 6238).

`HONGBAO_HOME/security.json` (0600) holds the limits per chain id, the alert thresholds, the wallets whose
TOTP secret is sealed in their vault (UnlockedWallet.extra("totp")), the last accepted
time step per wallet (a code is never accepted twice) and the count of wrong codes. The
secret itself is never in this file.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import atomic
from .errors import WalletError
from .outflow import Limit

FILE = "security.json"
EXTRA = "totp"  # the name of the sealed secret in the vault
STEP = 30  # seconds per code (RFC 6238's default, every authenticator app's)
WINDOW = 1  # codes of the previous and next step are accepted too (clock drift)


@dataclass
class Settings:
    limits: dict[str, list[Limit]] = field(default_factory=dict)  # chain id -> limits
    totp_wallets: list[str] = field(default_factory=list)
    last_step: dict[str, int] = field(default_factory=dict)  # wallet -> last accepted step
    wrong_codes: int = 0
    last_wrong_at: int | None = None
    alerts: dict[str, int] = field(default_factory=dict)  # "incoming_above", "balance_below": wei

    def to_json(self) -> dict[str, Any]:
        return {
            "alerts": {k: str(v) for k, v in self.alerts.items()},
            "limits": {c: [limit.to_json() for limit in ls] for c, ls in self.limits.items()},
            "totp_wallets": self.totp_wallets,
            "last_step": self.last_step,
            "wrong_codes": self.wrong_codes,
            "last_wrong_at": self.last_wrong_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        return cls(
            {str(c): [Limit.from_json(d) for d in ls] for c, ls in dict(data.get("limits", {})).items()},
            [str(w) for w in data.get("totp_wallets", [])],
            {str(w): int(s) for w, s in dict(data.get("last_step", {})).items()},
            int(data.get("wrong_codes", 0)),
            data.get("last_wrong_at"),
            {str(k): int(v) for k, v in dict(data.get("alerts", {})).items()},
        )


def load(home: Path) -> Settings:
    path = Path(home) / FILE
    try:
        return Settings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        raise WalletError(f"{path} is damaged: fix or delete it (limits and the second factor are set there)") from None


def save(home: Path, settings: Settings) -> None:
    Path(home).mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_bytes(Path(home) / FILE, json.dumps(settings.to_json(), indent=2).encode() + b"\n")


def new_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name="Hongbao")


def code_at(secret: str, step: int) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(step * STEP)


def accept(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step `code` belongs to (within WINDOW of now and after `last_step`), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    current = int(now) // STEP
    for step in range(current - WINDOW, current + WINDOW + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None
