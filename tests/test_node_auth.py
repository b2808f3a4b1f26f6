"""Mailbox authentication: challenges, tokens, and every way to try someone else's mailbox.

A token is bound to one mailbox and its current messaging key; the relay serves the
token's mailbox and nothing else (401 for a token that is not valid, 403 for a valid one
aimed at another mailbox), over HTTP and WebSocket alike."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
import test_node_support as support
from test_node_support import (
    NOW_MS,
    Person,
    envelope_json,
    error,
    login_sync,
    post_sync,
    publish_sync,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from node.auth import SECRET_NAME

# shared fixtures, from tests/test_node_support.py
anyio_backend = support.anyio_backend
api = support.api
live = support.live
sqlite_template = support.sqlite_template


ALICE, BOB, CAROL = (Person.make(i) for i in range(3))


@pytest.fixture
async def bob_and_carol(api):
    """Both published, each with mail, Bob logged in."""
    for person in (BOB, CAROL):
        assert (await api.publish(person)).status_code == 201
    await api.send(envelope_json(BOB.address), envelope_json(CAROL.address))
    return await api.login(BOB)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def forge(secret: bytes, mailbox: str, ed25519: bytes, expires_at: int) -> str:
    payload = bytes.fromhex(mailbox[2:]) + ed25519 + expires_at.to_bytes(8, "big")
    return base64.urlsafe_b64encode(payload + hmac.new(secret, payload, hashlib.sha256).digest()).rstrip(b"=").decode()


# -- challenge and token -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_format_and_own_mailbox(api, bob_and_carol):
    token = token_of(bob_and_carol)
    assert len(token) == 123 and set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    raw = base64.urlsafe_b64decode(token + "=")
    expires_at = int.from_bytes(raw[52:60], "big")
    assert (
        raw[:20].hex() == BOB.address[2:].lower()
        and raw[20:52] == BOB.keys.ed25519_public
        and expires_at == NOW_MS + 900_000
    )
    secret = api.context.store.secret(SECRET_NAME)
    assert raw[60:] == hmac.new(secret, raw[:60], hashlib.sha256).digest()
    mail = (await api.get("/v1/mailbox", headers=bob_and_carol)).json()["envelopes"]
    assert [m["to"] for m in mail] == [BOB.address]  # only Bob's
    assert (await api.get("/v1/mailbox", params={"token": token})).status_code == 401  # HTTP takes the header only


@pytest.mark.anyio
async def test_challenges_fail_closed(api):
    error(await api.post("/v1/auth/challenge", json={"address": BOB.address}), 404, "not_found")
    await api.publish(BOB)
    await api.publish(CAROL)

    async def challenge(person=BOB) -> str:
        return (await api.post("/v1/auth/challenge", json={"address": person.address})).json()["nonce"]

    async def exchange(address: str, nonce: str, signature: str):
        return await api.post("/v1/auth/token", json={"address": address, "nonce": nonce, "signature": signature})

    nonce = await challenge()
    error(await exchange(BOB.address, nonce, CAROL.sign(BOB.address, nonce)), 401)  # not Bob's key
    error(await exchange(BOB.address, nonce, BOB.sign(BOB.address, "00" * 32)), 401)  # signed another nonce
    error(await exchange(BOB.address, nonce, "zz"), 401)
    assert (await exchange(BOB.address, nonce, BOB.sign(BOB.address, nonce))).status_code == 200
    error(await exchange(BOB.address, nonce, BOB.sign(BOB.address, nonce)), 401)  # replayed challenge
    carols = await challenge(CAROL)
    error(await exchange(BOB.address, carols, BOB.sign(BOB.address, carols)), 401)  # another mailbox's nonce
    late = await challenge()
    api.clock.advance(121)
    assert "expired" in error(await exchange(BOB.address, late, BOB.sign(BOB.address, late)), 401)
    error(await exchange(BOB.address, "ab" * 32, BOB.sign(BOB.address, "ab" * 32)), 401)  # never issued


# -- someone else's mailbox ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_no_token_or_a_forged_one_is_401(api, bob_and_carol):
    answer = await api.get("/v1/mailbox")
    error(answer, 401, "unauthorized")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    token = token_of(bob_and_carol)
    carol_key = CAROL.keys.ed25519_public
    forgeries = [
        "x" * 123,
        token[:-1],
        token[:10] + ("A" if token[10] != "A" else "B") + token[11:],  # one bit off
        forge(b"\0" * 32, CAROL.address, carol_key, NOW_MS + 60_000),  # a guessed key
        forge(api.context.store.secret(SECRET_NAME)[::-1], CAROL.address, carol_key, NOW_MS + 60_000),
        base64.urlsafe_b64encode(bytes.fromhex(CAROL.address[2:]) + base64.urlsafe_b64decode(token + "=")[20:])
        .rstrip(b"=")
        .decode(),  # Bob's MAC on Carol's name
    ]
    for forged in forgeries:
        error(await api.get("/v1/mailbox", headers=bearer(forged)), 401)
        error(await api.post("/v1/mailbox/ack", json={"ids": ["00" * 16]}, headers=bearer(forged)), 401)
    assert api.context.store.counts()["envelopes"] == 2


@pytest.mark.anyio
async def test_a_valid_token_naming_another_mailbox_is_403(api, bob_and_carol):
    carol_mail = api.context.store.fetch(CAROL.address, 0, 10, NOW_MS)[0].envelope.id.hex()
    for attempt in ({"params": {"address": CAROL.address}}, {"headers": {"X-Hongbao-Mailbox": CAROL.address.lower()}}):
        headers = {**bob_and_carol, **attempt.get("headers", {})}
        error(await api.get("/v1/mailbox", params=attempt.get("params"), headers=headers), 403, "forbidden")
        error(
            await api.post(
                "/v1/mailbox/ack", params=attempt.get("params"), json={"ids": [carol_mail]}, headers=headers
            ),
            403,
        )
    assert (await api.get("/v1/mailbox", params={"address": BOB.address}, headers=bob_and_carol)).status_code == 200
    assert api.context.store.fetch(CAROL.address, 0, 10, NOW_MS)[0].envelope.id.hex() == carol_mail


@pytest.mark.anyio
async def test_an_expired_token_is_401(api, bob_and_carol):
    api.clock.advance(899)
    assert (await api.get("/v1/mailbox", headers=bob_and_carol)).status_code == 200
    api.clock.advance(1)
    assert "expired" in error(await api.get("/v1/mailbox", headers=bob_and_carol), 401)


@pytest.mark.anyio
async def test_a_rotated_messaging_key_revokes_older_tokens(api, bob_and_carol):
    await api.publish(BOB, version=2)  # the same keys, re-issued: tokens stay good
    assert (await api.get("/v1/mailbox", headers=bob_and_carol)).status_code == 200
    bob = Person(BOB.account_key, BOB.keys)
    bob.rotate()
    assert (await api.publish(bob, version=3)).json()["result"] == "updated"
    assert "revoked" in error(await api.get("/v1/mailbox", headers=bob_and_carol), 401)
    error(await api.post("/v1/mailbox/ack", json={"ids": ["00" * 16]}, headers=bob_and_carol), 401)
    fresh = await api.login(bob)
    assert (await api.get("/v1/mailbox", headers=fresh)).status_code == 200


# -- the stream, through a live relay ------------------------------------------------------------------------


def refused(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as caught:
        connect(url, additional_headers=headers or {}, open_timeout=5)
    response = caught.value.response
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code


def test_stream_refuses_other_mailboxes(live):
    publish_sync(live.url, BOB)
    publish_sync(live.url, CAROL)
    token = login_sync(live.url, BOB)
    stream = f"{live.ws_url}/v1/stream"
    assert refused(stream) == 401
    assert refused(f"{stream}?token={'A' * 123}") == 401
    assert (
        refused(
            stream,
            {"Authorization": f"Bearer {forge(bytes(32), CAROL.address, CAROL.keys.ed25519_public, NOW_MS + 60_000)}"},
        )
        == 401
    )
    assert refused(f"{stream}?token={token}&address={CAROL.address}") == 403
    assert refused(stream, {"Authorization": f"Bearer {token}", "X-Hongbao-Mailbox": CAROL.address}) == 403
    assert refused(f"{stream}?token={token}&after=x") == 422
    with connect(f"{stream}?token={token}", open_timeout=5) as ws:  # its own: fine
        post_sync(live.url, envelope_json(CAROL.address), envelope_json(BOB.address))
        assert ws.recv(timeout=5)
    live.context.clock.advance(900)
    assert refused(f"{stream}?token={token}") == 401  # expired


def test_the_stream_closes_when_the_token_expires_or_is_revoked(live):
    publish_sync(live.url, BOB)
    token = login_sync(live.url, BOB)
    with connect(
        f"{live.ws_url}/v1/stream", additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5
    ) as ws:
        bob = Person(BOB.account_key, BOB.keys)
        bob.rotate()
        publish_sync(live.url, bob, version=2)
        post_sync(live.url, envelope_json(BOB.address))  # wakes the stream, which re-checks its token
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4401
