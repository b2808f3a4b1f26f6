"""Property-based API tests: schemathesis (v4) generates requests from the relay's own
/openapi.json, served by a real relay process, and sends them over HTTP.

- every operation of the spec is in the document, and every operation in the document is
  fuzzed here;
- every operation, valid and invalid inputs (positive and negative generation), with and
  without a valid bearer token: never a 5xx;
- valid inputs with a valid token: the answers conform to the published document (status
  codes declared, JSON where JSON is declared, bodies matching the response models).

Each operation is driven by its own Hypothesis test over `operation.as_strategy()` (the
schemathesis pytest plugin's lazy `from_fixture` does not run under pytest 9). Bounded to
MAX_EXAMPLES per operation and mode (15: generating the cases is ~90% of the time; set
HONGBAO_TEST_API_EXAMPLES=500 for a deep run), to keep this file well under a minute.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_relay_e2e import Relay, raw_envelope, sqlite_url

from messaging.client import RelayClient
from messaging.identity import make_bundle
from messaging.keys import MessagingKeys

if importlib.util.find_spec("schemathesis") is None:
    pytest.skip("schemathesis is not installed (make setup)", allow_module_level=True)
# schemathesis itself is imported by the tests that run (one worker: see pytestmark), not
# when every worker collects this file; its pytest plugin is off (pyproject: -p no:schemathesis).

# One worker runs them all: the relay and the parsed document (~3 s) are set up once, not per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("schemathesis")]
MAX_EXAMPLES = int(os.environ.get("HONGBAO_TEST_API_EXAMPLES", "15"))
OPERATIONS = [  # the HTTP API of the spec (the WebSocket is not in OpenAPI)
    "PUT /v1/identities/{address}",
    "GET /v1/identities/{address}",
    "PUT /v1/prekeys/{address}",
    "GET /v1/prekeys/{address}",
    "POST /v1/prekeys/{address}/claim",
    "POST /v1/messages",
    "POST /v1/auth/challenge",
    "POST /v1/auth/token",
    "GET /v1/mailbox",
    "POST /v1/mailbox/ack",
    "PUT /v1/mailbox/passes",
    "GET /healthz",
    "GET /metrics",
]
bounded = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(relay, a valid bearer token for a mailbox holding a few envelopes)."""
    folder = tmp_path_factory.mktemp("schemathesis")
    with Relay(folder / "home", sqlite_url(folder)) as relay:
        key = secrets.token_bytes(32)
        keys = MessagingKeys.from_account_key(key)
        bundle = make_bundle(key, int(time.time()), 1, keys)
        with RelayClient(relay.url) as client:
            client.publish_bundle(bundle)
            client.send([raw_envelope(bundle.address) for _ in range(5)])
            token = client.authenticate(bundle.address, keys)
        yield relay, token


@pytest.fixture(scope="module")
def relay_schema(served):
    import schemathesis

    relay, _ = served
    schema = schemathesis.openapi.from_url(f"{relay.url}/openapi.json")
    schema.config.update(base_url=relay.url)
    return schema


def _operation(schema, label: str):
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the relay's /openapi.json"
    return operation


def test_the_document_has_exactly_the_spec_operations(relay_schema):
    served = sorted(result.ok().label for result in relay_schema.get_all_operations())
    assert served == sorted(OPERATIONS)


# No input of these can violate their schema (none taken, or a path segment typed as any
# string), so schemathesis has no negative case to generate for them.
NO_INVALID_INPUT = {"GET /healthz", "GET /metrics", "GET /v1/identities/{address}"}


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, "positive") for label in OPERATIONS]
    + [(label, "negative") for label in OPERATIONS if label not in NO_INVALID_INPUT],
    ids=lambda value: str(value),
)
def test_no_input_makes_the_relay_fail(relay_schema, served, label, mode):
    """Any generated input, with or without a valid token: an answer, never a 5xx."""
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    _, token = served
    operation = _operation(relay_schema, label)

    @bounded
    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)), with_token=st.booleans())
    def run(case, with_token):
        has_auth = "authorization" in {k.lower() for k in (case.headers or {})}
        headers = {"Authorization": f"Bearer {token}"} if with_token and not has_auth else None
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()


@pytest.mark.parametrize("label", OPERATIONS)
def test_answers_conform_to_the_published_document(relay_schema, served, label):
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    _, token = served
    operation = _operation(relay_schema, label)

    @bounded
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case):
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
        )

    run()
