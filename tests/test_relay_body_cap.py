"""A request body streamed without a Content-Length (Transfer-Encoding: chunked) is capped as
it arrives (node/middleware.py): past the limit the relay answers 413 at once, without
reading the rest, so a stranger cannot make it buffer an endless body.

One real relay process (uvicorn + httptools, as deployed) for the module, with a small
body limit: a batch of one envelope of 256 bytes."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from test_relay_e2e import Relay, client, person, raw_envelope, sqlite_url

from node.settings import Settings

pytestmark = pytest.mark.slow

LIMIT = Settings(db_url="", max_batch=1, max_envelope=256).max_body
CHUNK = 1024


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cap-relay")
    env = {"HONGBAO_RELAY_MAX_BATCH": "1", "HONGBAO_RELAY_MAX_ENVELOPE": "256"}
    with Relay(folder / "home", sqlite_url(folder), env=env) as running:
        yield running


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def post_chunked(relay: Relay, size: int, *, finish: bool) -> bytes:
    """POST `size` bytes of a chunked body (blanks), finished with its last chunk or not: the
    status line the relay answers with. Unfinished, b"" means the relay waited for the rest,
    as a relay reading the whole body must."""
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        while sent < size:
            piece = b" " * min(CHUNK, size - sent)
            sock.sendall(chunk(piece))
            sent += len(piece)
        if finish:
            sock.sendall(b"0\r\n\r\n")
        else:
            sock.settimeout(5)  # only a relay that waits for the whole body ever takes this long
        try:
            head = sock.recv(4096)
        except TimeoutError:
            return b""
        return head.split(b"\r\n", 1)[0]


def requests_answered(relay: Relay, status: int) -> float:
    text = httpx.get(f"{relay.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("hongbao_relay_requests_total{") and f'status="{status}"' in line
    )


def test_the_limit_is_small_here():
    assert 4096 < LIMIT < 8 * CHUNK


def test_an_unfinished_chunked_body_over_the_limit_is_answered_413_before_it_ends(relay):
    before = requests_answered(relay, 413)
    assert post_chunked(relay, 16 * LIMIT, finish=False) == b"HTTP/1.1 413 Request Entity Too Large"
    assert requests_answered(relay, 413) == before + 1


def test_a_whole_chunked_body_over_the_limit_is_413_not_422(relay):
    def body():  # an iterator: httpx streams it chunked, with no Content-Length
        yield b'{"envelopes": ['
        for _ in range(2 * LIMIT // CHUNK):
            yield b" " * CHUNK
        yield b"]}"

    response = httpx.post(
        f"{relay.url}/v1/messages", content=body(), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413, response.text[:200]
    assert response.json()["error"]["code"] == "too_large", response.text[:200]
    assert str(LIMIT) in response.text


def test_a_chunked_body_under_the_limit_is_read_as_usual(relay):
    bob = person("bob")
    with client(relay.url) as c:
        c.publish_bundle(bob.bundle)
    envelope = raw_envelope(bob.address, 256)
    payload = json.dumps({"envelopes": [envelope.to_json()]}).encode()
    assert len(payload) < LIMIT

    def body():
        for start in range(0, len(payload), 100):
            yield payload[start : start + 100]

    response = httpx.post(
        f"{relay.url}/v1/messages", content=body(), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200, response.text[:200]
    # the same blanks as above, under the limit: read whole, then refused for what they are
    assert post_chunked(relay, LIMIT - 100, finish=True) == b"HTTP/1.1 422 Unprocessable Entity"
