"""Running the relay: `python -m node.server --home H [--host] [--port] [--db URL]`.

What `hongbao node start` runs (in the foreground, or detached by node.daemon): JSON logs
on stderr, migrations applied, then uvicorn with uvloop and httptools, one process. The
uvicorn access log stays off: it would print query strings, where a token may be.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from pathlib import Path

from . import db, logs
from .settings import Settings

log = logs.get("server")


def raise_open_files() -> tuple[int, int]:
    """Lift the soft limit on open files to the hard one (each stream holds a socket; the
    default soft 1,024 ran out under one client's streams). The (soft, hard) now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):  # else keep what we have; the stream caps still hold
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def serve(settings: Settings) -> None:
    import uvicorn

    from .app import create_app

    logs.configure(settings.log_level)
    soft, _hard = raise_open_files()
    logs.event(log, logging.INFO, "open files", limit=soft)
    logs.event(log, logging.INFO, "migrating", db=db.redact(settings.db_url))
    db.migrate(settings.db_url)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,  # clients are rate limited by their address: behind a proxy, set it up there
        ws_max_size=2 * 1024 * 1024,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()


def refuse_password_in_argv(url: str | None) -> None:
    """A database URL with a password is a secret: never on a command line (`ps` shows it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url:
        return
    try:
        password = make_url(url).password
    except ArgumentError:
        return  # not a URL: the engine says so later
    if password:
        raise ValueError(
            "the database URL holds a password: give it in HONGBAO_RELAY_DB_URL or [relay] db_url of config.toml, "
            "not on the command line"
        )


def settings_from_args(args: argparse.Namespace, environ=None) -> Settings:
    refuse_password_in_argv(args.db)
    settings = Settings.load(Path(args.home), os.environ if environ is None else environ)
    return settings.replace(host=args.host, port=args.port, db_url=args.db)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m node.server", description="The Hongbao relay, in the foreground.")
    parser.add_argument("--home", default=os.environ.get("HONGBAO_HOME"), required=not os.environ.get("HONGBAO_HOME"))
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--db", help="database URL without a password (else HONGBAO_RELAY_DB_URL)")
    try:
        settings = settings_from_args(parser.parse_args(argv))
    except ValueError as error:
        parser.error(str(error))
    serve(settings)


if __name__ == "__main__":
    main()
