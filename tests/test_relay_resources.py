"""Relay resources against one client (issue 13, finding 7): WebSocket streams capped per
mailbox and per client, upgrades rate limited like every route, the open-files limit
raised, /metrics from memory (never the database) and only for loopback or a token, and a
claim limiter that flooding other addresses cannot reset."""

from __future__ import annotations

import resource

import httpx
import pytest
import test_node_support as support
from test_node_stream import open_stream
from test_node_support import (
    METRICS_TOKEN,
    ManualClock,
    Person,
    login_sync,
    make_api,
    publish_sync,
    settings_for,
    sqlite_url,
)
from websockets.exceptions import InvalidStatus

from node.ratelimit import RateLimiter
from node.server import raise_open_files

anyio_backend = support.anyio_backend
sqlite_template = support.sqlite_template
fresh_url = support.fresh_url
BOB, CAROL = Person.make(1), Person.make(2)


@pytest.fixture
def capped(sqlite_template, tmp_path):
    relay = support.LiveRelay(
        settings_for(sqlite_url(sqlite_template, tmp_path / "db"), streams_per_mailbox=2, streams_per_client=3),
        ManualClock(),
    )
    yield relay
    relay.stop()


def refused(relay, token: str) -> int:
    with pytest.raises(InvalidStatus) as denied:
        open_stream(relay, token).__enter__()
    return denied.value.response.status_code


def test_streams_are_capped_per_mailbox_and_per_client(capped):
    """Before: one token opened ~1,000 streams and the relay ran out of file descriptors."""
    tokens = {}
    for person in (BOB, CAROL):
        publish_sync(capped.url, person)
        tokens[person.address] = login_sync(capped.url, person)
    with open_stream(capped, tokens[BOB.address]), open_stream(capped, tokens[BOB.address]):
        assert refused(capped, tokens[BOB.address]) == 429  # a third for one mailbox
        with open_stream(capped, tokens[CAROL.address]):
            assert refused(capped, tokens[CAROL.address]) == 429  # a fourth from this client
            assert httpx.get(f"{capped.url}/healthz").json()["ok"] is True
    with (
        open_stream(capped, tokens[BOB.address]),
        open_stream(capped, tokens[BOB.address]),
    ):  # closed ones are given back
        pass


def test_websocket_upgrades_are_rate_limited_like_every_route(capped):
    publish_sync(capped.url, BOB)
    token = login_sync(capped.url, BOB)
    capped.context.limiter = RateLimiter(0.001, 1, capped.context.clock)  # one request, then wait
    with open_stream(capped, token):
        assert refused(capped, token) == 429  # before: upgrades were never counted


def test_the_open_files_limit_is_raised_to_the_hard_limit():
    soft, hard = raise_open_files()
    assert soft == hard or hard == resource.RLIM_INFINITY
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft


@pytest.mark.anyio
async def test_metrics_never_read_the_database_and_need_loopback_or_a_token(fresh_url):
    api = make_api(fresh_url)
    async with api.client:

        def scan():
            raise AssertionError("/metrics read the database")

        api.context.store.counts = scan  # before: a table scan on every scrape
        api.context.store.ping = scan
        assert "hongbao_relay_requests_total" in await api.metrics()
        assert (await api.get("/metrics")).status_code == 403  # this client is not on loopback
        wrong = await api.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403 and METRICS_TOKEN not in wrong.text
    api.context.close()


def test_the_claim_limiter_cannot_be_reset_by_flooding_other_addresses():
    clock = ManualClock()
    limiter = RateLimiter(20 / 60.0, 20, clock, max_clients=100, forget=False)
    victim = BOB.address
    spent = sum(limiter.take(victim) == 0 for _ in range(25))
    assert spent == 20  # the burst; the rest get no one-time prekey
    for i in range(1000):  # before: 100,000 other addresses made the limiter forget the victim
        limiter.take(f"0x{i:040x}")
    assert limiter.take(victim) != 0
    clock.advance(60)  # a minute later: the victim's budget came back, as it should
    assert limiter.take(victim) == 0


@pytest.mark.anyio
async def test_a_client_whose_request_budget_is_spent_is_refused_before_its_body_is_read(fresh_url):
    from test_node_support import envelope_json

    api = make_api(fresh_url, request_rate=1, request_burst=3)
    async with api.client:
        batch = [envelope_json(BOB.address) for _ in range(3)]
        assert (await api.send(*batch)).status_code == 200  # three requests: the burst
        assert (await api.send(envelope_json(BOB.address))).status_code == 429
        junk = await api.post("/v1/messages", content=b"{not json", headers={"Content-Type": "application/json"})
        assert junk.status_code == 429  # not 422: nothing of it was parsed
    api.context.close()
