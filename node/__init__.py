"""The relay daemon that stores and forwards sealed envelopes (see DESIGN.md, Relay node).

settings.py   Settings: defaults, config.toml [relay], HONGBAO_RELAY_* variables
clock.py      the clock type (unix ms, passed in) and the system clock
db.py         engines (SQLite WAL / PostgreSQL via psycopg 3) and Alembic migrate()
models.py     the tables (SQLAlchemy 2 typed ORM); migrations/ creates them
store.py      RelayStore: identities, envelopes, challenges, secrets (sync)
batch.py      the hot path of posting a batch, on the driver's cursor
lanes.py      a mailbox's contact lane (delivery passes) and request lane (strangers)
auth.py       challenge text, HMAC tokens bound to a mailbox and its messaging key
errors.py     RelayError and friends: status, code, message
schemas.py    request/response models for /openapi.json
ratelimit.py  per-client token buckets
metrics.py    Prometheus metrics (one registry per app)
logs.py       JSON log lines, never message contents
push.py       Hub (wakes streams) and the PostgreSQL LISTEN connection
context.py    RelayContext: what one app holds; the executor for database work
deps.py       FastAPI dependencies; authorize() for mailbox routes
middleware.py rate limit, body cap, request metrics and logs (pure ASGI)
sweeper.py    the background deletion of expired envelopes
app.py        create_app(settings, clock=...): routers, error handlers, lifespan
routes/       identities, messages, mailbox, passes, auth, stream, ops
server.py     python -m node.server: migrate, then uvicorn (uvloop, httptools)
daemon.py     start --detach / stop / status with a pid file, like wallet/localchain.py
"""
