"""WS /v1/stream through a live relay (uvicorn in a thread): stored mail after the cursor,
then live pushes; resuming from a cursor skips and repeats nothing; on PostgreSQL, mail
posted to one relay is pushed by another sharing the database."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import threading
import time

import httpx
import pytest
import test_node_support as support
from test_node_support import (
    LiveRelay,
    ManualClock,
    Person,
    envelope_json,
    login_sync,
    post_sync,
    publish_sync,
    settings_for,
)
from websockets.sync.client import connect

# shared fixtures, from tests/test_node_support.py
live = support.live
pg_url = support.pg_url
sqlite_template = support.sqlite_template


BOB, CAROL = Person.make(1), Person.make(2)


def receive(ws, n: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(n)]


def nothing_more(ws) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.2)


def open_stream(relay: LiveRelay, token: str, after: int = 0):
    return connect(
        f"{relay.ws_url}/v1/stream?after={after}",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=5,
    )


def test_stored_then_pushed_then_resumed_without_gaps_or_duplicates(live):
    publish_sync(live.url, BOB)
    token = login_sync(live.url, BOB)
    sent = [envelope_json(BOB.address) for _ in range(3)]
    seqs = [a["seq"] for a in post_sync(live.url, *sent, envelope_json(CAROL.address))]
    with open_stream(live, token, after=seqs[0]) as ws:
        got = receive(ws, 2)
        assert [(m["seq"], m["id"], m["ct"]) for m in got] == [(seqs[i], sent[i]["id"], sent[i]["ct"]) for i in (1, 2)]
        assert set(got[0]) == {"seq", "v", "to", "id", "ttl", "ct"}
        nothing_more(ws)
        new = envelope_json(BOB.address)
        pushed = post_sync(live.url, new)[0]["seq"]
        assert receive(ws, 1)[0]["id"] == new["id"]
        post_sync(live.url, new)  # a duplicate is not pushed again
        nothing_more(ws)
    missed = [envelope_json(BOB.address) for _ in range(2)]
    post_sync(live.url, *missed)  # while disconnected
    with open_stream(live, token, after=pushed) as ws:
        assert [m["id"] for m in receive(ws, 2)] == [m["id"] for m in missed]
        later = envelope_json(BOB.address)
        post_sync(live.url, later)
        assert receive(ws, 1)[0]["id"] == later["id"]
        nothing_more(ws)
    metrics = httpx.get(f"{live.url}/metrics").text
    assert "hongbao_relay_envelopes_pushed_total 6.0" in metrics
    assert "hongbao_relay_push_latency_seconds_count 2.0" in metrics  # the two live pushes
    assert "hongbao_relay_ws_connections 0.0" in metrics


def test_a_long_backlog_streams_in_order(live):
    publish_sync(live.url, BOB)
    token = login_sync(live.url, BOB)
    given = secrets.token_bytes(16)  # a contact's backlog: more than the request lane keeps
    passes = httpx.put(
        f"{live.url}/v1/mailbox/passes",
        json={"passes": [hashlib.sha256(given).hexdigest()]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert passes.status_code == 200
    posted = []
    for _ in range(3):
        batch = [envelope_json(BOB.address, size=32, **{"pass": given.hex()}) for _ in range(400)]
        posted += [a["seq"] for a in post_sync(live.url, *batch)]
    with open_stream(live, token) as ws:
        assert [m["seq"] for m in receive(ws, 1200)] == posted
        nothing_more(ws)


def test_two_relays_on_postgres_push_each_others_mail(pg_url):
    clock = ManualClock()
    first, second = LiveRelay(settings_for(pg_url), clock), LiveRelay(settings_for(pg_url), clock)
    try:
        deadline = time.monotonic() + 10
        while not second.context.listener.listening:
            assert time.monotonic() < deadline, "the second relay never started listening"
            time.sleep(0.02)
        publish_sync(first.url, BOB)
        token = login_sync(first.url, BOB)  # a token from one relay works on the other (shared secret)
        with open_stream(second, token) as ws:
            nothing_more(ws)
            sent = envelope_json(BOB.address)
            seq = post_sync(first.url, sent)[0]["seq"]
            got = receive(ws, 1)[0]
            assert (got["seq"], got["id"]) == (seq, sent["id"])
            nothing_more(ws)
    finally:
        first.stop()
        second.stop()


def test_concurrent_posters_reach_a_stream_once_each_in_order(live):
    publish_sync(live.url, BOB)
    token = login_sync(live.url, BOB)
    posted: list[str] = []

    def poster() -> None:
        with httpx.Client(base_url=live.url) as client:
            for _ in range(25):
                sent = envelope_json(BOB.address, size=32)
                assert client.post("/v1/messages", json={"envelopes": [sent]}).status_code == 200
                posted.append(sent["id"])

    with open_stream(live, token) as ws:
        threads = [threading.Thread(target=poster) for _ in range(4)]
        for thread in threads:
            thread.start()
        got = receive(ws, 100)
        for thread in threads:
            thread.join()
        nothing_more(ws)
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs))
    assert sorted(m["id"] for m in got) == sorted(posted)


def test_deliveries_in_hand_never_skip_what_the_stream_has_not_seen():
    from messaging.envelope import Envelope
    from node.push import Hub
    from node.routes.stream import _in_hand
    from node.store import Delivery, StoredEnvelope

    def item(seq: int) -> StoredEnvelope:
        return StoredEnvelope(seq, Envelope(BOB.address, seq.to_bytes(16, "big"), b"x", 60))

    first, second = Delivery(BOB.address, 4, [item(7), item(9)]), Delivery(BOB.address, 9, [item(12)])
    assert _in_hand([first, second], 4, False) == ([item(7), item(9), item(12)], False)
    assert _in_hand([first, second], 7, False) == ([item(9), item(12)], False)  # already read 7
    assert _in_hand([first], 3, False) == ([], True)  # seq 4 unseen: read the database
    assert _in_hand([first, Delivery(BOB.address, 10, [item(12)])], 4, False) == ([item(7), item(9)], True)
    assert _in_hand([first], 4, True) == ([], True)

    async def scenario() -> None:
        hub = Hub()
        subscription = hub.subscribe(BOB.address)
        assert subscription.take()[0] is True  # a new stream reads first
        hub.deliver([first])
        hub.deliver([Delivery(CAROL.address, 0, [item(8)])])  # someone else's
        stale, deliveries, since = subscription.take()
        assert (stale, deliveries) == (False, [first]) and since is not None
        hub.deliver([second])
        hub.notify([BOB.address])  # news not in hand wins over deliveries
        assert subscription.take()[:2] == (True, [])
        assert await subscription.wait(0.01) is False
        hub.unsubscribe(subscription)
        assert len(hub) == 0

    asyncio.run(scenario())
