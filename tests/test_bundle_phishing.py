"""Nobody can get you to sign an identity bundle for their keys (issue 13, finding 6).

Before: `wallet sign-message` signed the bundle text naming another person's keys at
version 999999999; the relay took it, the other person read your mailbox, and your own
client was locked out for good. Now a bundle is EIP-712 typed data under the Hongbao
domain (no personal message is one), and both signing commands refuse the product's own
statements, in one line, before asking for the password."""

from __future__ import annotations

import json
import time

from conftest import quick_wallet

from messaging.identity import Bundle
from messaging.keys import MessagingKeys


def _phishing_bundle(victim: str) -> Bundle:
    other = MessagingKeys.from_account_key(b"\x07" * 32)  # the phisher's keys
    return Bundle(victim, other.x25519_public, other.ed25519_public, int(time.time()), 999_999_999)


def test_sign_message_refuses_an_identity_bundle_text(cli, hongbao_home):
    victim = quick_wallet(hongbao_home)
    bundle = _phishing_bundle(victim)
    for text in (bundle.text(), "Please sign to log in:\n" + bundle.text().upper()):
        result = cli("wallet", "sign-message", text, check=False)
        assert result.returncode == 1 and result.stdout == "", (result.stdout, result.stderr)
        assert result.stderr.startswith("error: refused: this message is a Hongbao messaging identity")
        assert len(result.stderr.strip().splitlines()) == 1
    assert cli("wallet", "sign-message", "an ordinary message").stdout.startswith("0x")


def test_sign_typed_data_refuses_hongbao_typed_data(cli, hongbao_home, tmp_path):
    victim = quick_wallet(hongbao_home)
    path = tmp_path / "typed.json"
    path.write_text(json.dumps(_phishing_bundle(victim).typed_data()))
    result = cli("wallet", "sign-typed-data", str(path), check=False)
    assert result.returncode == 1 and "refused: this is Hongbao typed data" in result.stderr, result.stderr
