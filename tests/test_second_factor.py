"""The second factor for large sends: RFC 6238 codes, daily limits, and the CLI that asks
for a code once a send would pass the day's limit."""

from __future__ import annotations

import base64

import pytest
from test_transfers import ALICE, funded, one_line_error  # noqa: F401

from wallet import second_factor
from wallet.second_factor import accept, code_at

# RFC 6238 appendix B (SHA-1, the 20-byte ASCII seed), last six digits of its 8-digit codes.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "287082"),
    (1111111109, "081804"),
    (1111111111, "050471"),
    (1234567890, "005924"),
    (2000000000, "279037"),
    (20000000000, "353130"),
]
W = ("--wallet", "me", "--yes")


@pytest.mark.parametrize(("unix", "code"), RFC_VECTORS)
def test_rfc_6238_vectors(unix, code):
    assert code_at(RFC_SECRET, unix // second_factor.STEP) == code
    assert accept(RFC_SECRET, code, unix, None) == unix // 30


def test_codes_are_accepted_once_near_now_and_only_as_six_digits():
    now = 1234567890
    step = now // 30
    assert accept(RFC_SECRET, code_at(RFC_SECRET, step - 1), now, None) == step - 1  # clock drift
    assert accept(RFC_SECRET, code_at(RFC_SECRET, step - 3), now, None) is None  # too old
    assert accept(RFC_SECRET, "005 924", now, None) == step
    assert accept(RFC_SECRET, "005924", now, step) is None  # the same code again
    for bad in ("", "12345", "1234567", "abcdef"):
        assert accept(RFC_SECRET, bad, now, None) is None


@pytest.mark.slow
def test_a_send_past_the_daily_limit_needs_a_right_code(cli, funded, hongbao_home):  # noqa: F811
    import pyotp

    cli("security", "limit", "1 ETH/day")
    cli("send", ALICE, "0.6", *W)
    refused = cli("send", ALICE, "0.6", *W, check=False)
    one_line_error(refused, "daily limit (1 ETH/day)", "security totp enable", after_preview=True)

    enabled = cli.json("security", "totp", "enable", "--wallet", "me")
    secret = enabled["secret"]
    assert enabled["uri"].startswith("otpauth://totp/") and secret not in (hongbao_home / "security.json").read_text()

    wrong = cli("send", ALICE, "0.6", *W, env={"HONGBAO_TOTP_CODE": "000000"}, check=False)
    one_line_error(wrong, "wrong code", "1 wrong codes", after_preview=True)
    assert cli.json("security", "status", "--wallet", "me")["wrong_codes"] == 1

    code = pyotp.TOTP(secret).now()
    cli("send", ALICE, "0.6", *W, env={"HONGBAO_TOTP_CODE": code})
    replay = cli("send", ALICE, "0.6", *W, env={"HONGBAO_TOTP_CODE": code}, check=False)
    one_line_error(replay, "wrong code", after_preview=True)
    status = cli.json("security", "status", "--wallet", "me")
    assert status["totp"] and status["limits"] == [{"limit": "1 ETH/day", "spent_today": "1.2"}]
