"""The relay's HTTP API in-process (httpx against the ASGI app): identities, posting,
reading, errors, limits, health and metrics."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import test_node_support as support
from test_node_support import NOW_MS, Person, envelope_json, error, make_api

from messaging.envelope import Envelope, open_envelope, seal
from messaging.payloads import Text
from node import sweeper

# shared fixtures, from tests/test_node_support.py
anyio_backend = support.anyio_backend
api = support.api
fresh_url = support.fresh_url
sqlite_template = support.sqlite_template


pytestmark = pytest.mark.anyio
ALICE, BOB, CAROL = (Person.make(i) for i in range(3))


# -- identities --------------------------------------------------------------------------------


async def test_publish_and_get_an_identity(api):
    created = await api.publish(BOB)
    assert created.status_code == 201 and created.json() == {"address": BOB.address, "version": 1, "result": "created"}
    assert (await api.publish(BOB)).json()["result"] == "unchanged"
    fetched = await api.get(f"/v1/identities/{BOB.address.lower()}")
    assert fetched.status_code == 200 and fetched.json() == BOB.bundle().to_json()
    updated = await api.publish(BOB, version=2)
    assert updated.status_code == 200 and updated.json()["result"] == "updated"
    error(await api.publish(BOB, version=1), 409, "stale_bundle")
    assert (await api.get(f"/v1/identities/{BOB.address}")).json()["version"] == 2
    error(await api.get(f"/v1/identities/{CAROL.address}"), 404, "not_found")
    error(await api.get("/v1/identities/0x1234"), 422)


async def test_refuses_bundles_that_do_not_verify_or_name_another_address(api):
    forged = BOB.bundle().to_json()
    forged["signature"] = CAROL.bundle().to_json()["signature"]  # signed by someone else
    error(await api.put(f"/v1/identities/{BOB.address}", json=forged), 422, "invalid")
    tampered = {**BOB.bundle().to_json(), "x25519": CAROL.bundle().to_json()["x25519"]}  # a usable key, not signed
    assert "signed by" in error(await api.put(f"/v1/identities/{BOB.address}", json=tampered), 422)
    error(await api.put(f"/v1/identities/{CAROL.address}", json=BOB.bundle().to_json()), 400, "bad_request")
    error(await api.put(f"/v1/identities/{BOB.address}", json={**BOB.bundle().to_json(), "ed25519": "abc"}), 422)
    error(await api.put(f"/v1/identities/{BOB.address}", json={"address": BOB.address}), 422)
    assert (await api.get(f"/v1/identities/{BOB.address}")).status_code == 404


# -- posting -----------------------------------------------------------------------------------


async def test_post_a_batch_is_idempotent_by_id(api):
    batch = [envelope_json(BOB.address) for _ in range(3)]
    first = await api.send(*batch)
    assert first.status_code == 200
    accepted = first.json()["accepted"]
    assert [a["id"] for a in accepted] == [e["id"] for e in batch] and not any(a["duplicate"] for a in accepted)
    retry = (await api.send(*batch)).json()["accepted"]  # the answer was lost: the client retries
    assert [(a["seq"], a["duplicate"]) for a in retry] == [(a["seq"], True) for a in accepted]
    await api.publish(BOB)
    stored = (await api.get("/v1/mailbox", headers=await api.login(BOB))).json()["envelopes"]
    assert [e["id"] for e in stored] == [e["id"] for e in batch]  # stored once


async def test_sealed_envelope_round_trip(api):
    await api.publish(BOB)
    sealed = seal(
        ALICE.address, ALICE.keys, BOB.bundle(), Text("hello Bob"), now_ms=NOW_MS, include_bundle=ALICE.bundle()
    )
    assert (await api.send(sealed.to_json())).status_code == 200
    body = (await api.get("/v1/mailbox", headers=await api.login(BOB))).json()
    item = body["envelopes"][0]
    assert body["next"] == item.pop("seq")
    assert item == sealed.to_json()
    opened = open_envelope(Envelope.from_json(item), BOB.address, BOB.keys, now_ms=NOW_MS, known_bundle=lambda _a: None)
    assert opened.sender == ALICE.address and opened.payload == Text("hello Bob")


async def test_413_for_an_oversize_ciphertext_a_big_batch_or_body(api):
    too_big = envelope_json(BOB.address, size=65536 + 1)
    assert "65536" in error(await api.send(envelope_json(BOB.address), too_big), 413, "too_large")
    assert (await api.send(envelope_json(BOB.address, size=65536))).status_code == 200
    error(await api.send(*[envelope_json(BOB.address, size=16) for _ in range(501)]), 413)
    huge = b'{"envelopes": []}' + b" " * api.context.settings.max_body
    error(await api.post("/v1/messages", content=huge, headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"ct": "not base64!"}, "base64"),
        ({"ct": ""}, "ct"),
        ({"to": "0x70997970c51812dc3a010c7d01b50e0d17dc79C8"}, "checksum"),
        ({"to": "0x1234"}, "to"),
        ({"id": "zz" * 16}, "id"),
        ({"ttl": 0}, "ttl"),
        ({"ttl": 30 * 24 * 3600 + 1}, "ttl"),
        ({"ttl": "soon"}, "ttl"),
        ({"v": 2}, "version"),
    ],
)
async def test_422_for_malformed_envelopes(api, change, fragment):
    message = error(await api.send(envelope_json(BOB.address), {**envelope_json(BOB.address), **change}), 422)
    assert fragment in message
    assert api.context.store.counts()["envelopes"] == 0  # nothing of the batch


async def test_422_for_malformed_bodies(api):
    error(await api.post("/v1/messages", content=b"{", headers={"content-type": "application/json"}), 422, "invalid")
    error(await api.post("/v1/messages", json={"envelopes": "all of them"}), 422)
    error(await api.post("/v1/messages", json={"envelopes": []}), 422)
    missing = envelope_json(BOB.address)
    del missing["ct"]
    assert "ct" in error(await api.send(missing), 422)


async def test_507_when_the_mailbox_is_full(fresh_url):
    """A contact lane's quota (posts with the mailbox's delivery pass): refused whole when full."""
    api = make_api(fresh_url, mailbox_quota_messages=3)
    async with api.client:
        await api.publish(BOB)
        contact = {"pass": await api.give_pass(BOB)}
        assert (await api.send(*[envelope_json(BOB.address, **contact) for _ in range(2)])).status_code == 200
        refused = await api.send(
            envelope_json(CAROL.address), envelope_json(BOB.address, **contact), envelope_json(BOB.address, **contact)
        )
        body = refused.json()["error"]
        assert (
            refused.status_code == 507
            and body["code"] == "quota_exceeded"
            and body["mailbox"] == BOB.address
            and BOB.address in body["message"]
        )
        assert api.context.store.fetch(CAROL.address, 0, 10, NOW_MS) == []
        assert (await api.send(envelope_json(BOB.address, **contact))).status_code == 200
    api.context.close()


async def test_429_with_retry_after(fresh_url):
    api = make_api(fresh_url, rate=1, rate_burst=2)
    async with api.client:
        assert (await api.get(f"/v1/identities/{BOB.address}")).status_code == 404
        assert (await api.send(envelope_json(BOB.address))).status_code == 200
        limited = await api.send(envelope_json(BOB.address))
        error(limited, 429, "rate_limited")
        assert limited.headers["Retry-After"] == "1"
        assert (await api.get("/healthz")).status_code == 200  # probes are never limited
        api.clock.advance(1)
        assert (await api.send(envelope_json(BOB.address))).status_code == 200
        other = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api.app, client=("198.51.100.1", 1)), base_url="http://relay"
        )
        async with other:
            assert (await other.get("/healthz")).status_code == 200
            assert (
                await other.post("/v1/messages", json={"envelopes": [envelope_json(BOB.address)]})
            ).status_code == 200  # per client
    api.context.close()


# -- reading -------------------------------------------------------------------------------------


async def test_fetch_after_a_cursor_with_a_limit(api):
    await api.publish(BOB)
    auth = await api.login(BOB)
    seqs = [
        a["seq"]
        for a in (await api.send(*[envelope_json(BOB.address) for _ in range(5)], envelope_json(CAROL.address))).json()[
            "accepted"
        ]
    ]
    page = (await api.get("/v1/mailbox", params={"limit": 2}, headers=auth)).json()
    assert [e["seq"] for e in page["envelopes"]] == seqs[:2] and page["next"] == seqs[1]
    rest = (await api.get("/v1/mailbox", params={"after": page["next"], "limit": 10}, headers=auth)).json()
    assert [e["seq"] for e in rest["envelopes"]] == seqs[2:5]
    empty = (await api.get("/v1/mailbox", params={"after": rest["next"]}, headers=auth)).json()
    assert empty == {"envelopes": [], "next": rest["next"]}
    error(await api.get("/v1/mailbox", params={"limit": 0}, headers=auth), 422)
    error(await api.get("/v1/mailbox", params={"limit": 1001}, headers=auth), 422)
    error(await api.get("/v1/mailbox", params={"after": -1}, headers=auth), 422)


async def test_expired_envelopes_are_not_returned_and_are_swept(api):
    await api.publish(BOB)
    await api.send(envelope_json(BOB.address, ttl=60), envelope_json(BOB.address, ttl=3600))
    api.clock.advance(61)
    auth = await api.login(BOB)
    assert len((await api.get("/v1/mailbox", headers=auth)).json()["envelopes"]) == 1
    assert api.context.store.counts()["envelopes"] == 2
    assert await sweeper.sweep_once(api.context) == 1
    assert api.context.store.counts()["envelopes"] == 1
    assert "hongbao_relay_envelopes_swept_total 1.0" in await api.metrics()


async def test_ack_deletes_only_its_own(api):
    for person in (BOB, CAROL):
        await api.publish(person)
    mine, theirs = envelope_json(BOB.address), envelope_json(CAROL.address)
    await api.send(mine, theirs)
    bob = await api.login(BOB)
    assert (await api.post("/v1/mailbox/ack", json={"ids": [theirs["id"]]}, headers=bob)).json() == {"deleted": 0}
    answer = await api.post("/v1/mailbox/ack", json={"ids": [mine["id"], theirs["id"]]}, headers=bob)
    assert answer.status_code == 200 and answer.json() == {"deleted": 1}
    carol = await api.login(CAROL)
    assert [e["id"] for e in (await api.get("/v1/mailbox", headers=carol)).json()["envelopes"]] == [theirs["id"]]
    error(await api.post("/v1/mailbox/ack", json={"ids": ["nothex"]}, headers=bob), 422)


# -- errors, health, metrics, OpenAPI, logs --------------------------------------------------------------


async def test_every_error_is_json(api):
    error(await api.get("/v1/nothing"), 404, "not_found")
    error(await api.delete("/v1/messages"), 405, "method_not_allowed")
    assert (await api.delete(f"/v1/identities/{BOB.address}")).headers["Allow"] == "GET, PUT"
    error(await api.get("/v1/mailbox"), 401, "unauthorized")


async def test_healthz_metrics_and_openapi(api):
    assert (await api.get("/healthz")).json() == {"ok": True, "db": "ok"}
    await api.send(envelope_json(BOB.address))
    first = envelope_json(BOB.address)
    await api.send(first)
    await api.send(first)
    metrics = await api.metrics()
    assert "hongbao_relay_envelopes_accepted_total 2.0" in metrics
    assert "hongbao_relay_envelopes_duplicate_total 1.0" in metrics
    assert 'hongbao_relay_requests_total{method="POST",route="/v1/messages",status="200"} 3.0' in metrics
    assert 'hongbao_relay_envelopes_lane_total{lane="request"} 2.0' in metrics
    assert "hongbao_relay_ws_connections 0.0" in metrics
    assert "hongbao_relay_push_latency_seconds_bucket" in metrics
    spec = (await api.get("/openapi.json")).json()
    assert {
        "/v1/identities/{address}",
        "/v1/messages",
        "/v1/mailbox",
        "/v1/mailbox/ack",
        "/v1/auth/challenge",
        "/v1/auth/token",
        "/healthz",
        "/metrics",
    } <= set(spec["paths"])
    post = spec["paths"]["/v1/messages"]["post"]["responses"]
    assert {"200", "413", "422", "429", "507"} <= set(post)
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MessagesOut")


async def test_logs_hold_no_ciphertexts_tokens_or_signatures(api, caplog):
    caplog.set_level(logging.DEBUG, logger="hongbao")
    await api.publish(BOB)
    nonce = (await api.post("/v1/auth/challenge", json={"address": BOB.address})).json()["nonce"]
    signature = BOB.sign(BOB.address, nonce)
    token = (
        await api.post("/v1/auth/token", json={"address": BOB.address, "nonce": nonce, "signature": signature})
    ).json()["token"]
    sent = envelope_json(BOB.address)
    await api.send(sent)
    await api.get(
        "/v1/mailbox", params={"token": token, "address": CAROL.address}, headers={"Authorization": f"Bearer {token}"}
    )
    await api.get("/v1/mailbox", headers={"Authorization": "Bearer " + token[:-2] + "AA"})
    await api.send({**envelope_json(BOB.address), "ct": "!!"})
    text = "\n".join(json.dumps(getattr(r, "fields", {})) + r.getMessage() for r in caplog.records)
    assert "request" in text and "/v1/mailbox" in text and "403" in text  # logged, by route template
    for secret in (sent["ct"], token, token[:40], signature, nonce, BOB.bundle().to_json()["signature"][2:]):
        assert secret not in text


async def test_a_database_that_is_gone_is_503_then_500_for_bugs(api, monkeypatch):
    import sqlite3

    def locked(*_args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(api.context.store, "post_batch", locked)
    answer = await api.send(envelope_json(BOB.address))
    error(answer, 503, "unavailable")
    assert answer.headers["Retry-After"] == "1"
    monkeypatch.setattr(api.context.store, "post_batch", lambda *_args: 1 / 0)
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://relay") as client:
        answer = await client.post("/v1/messages", json={"envelopes": [envelope_json(BOB.address)]})
    assert "division" not in error(answer, 500, "internal")
