"""`hongbao app --web`: the same app in a browser through textual-serve (its bundled
xterm.js: no internet needed), on 127.0.0.1 only, under a random token in the URL path.

textual-serve starts one `hongbao app` process per browser tab, with this process's
environment (so the unlock session or HONGBAO_PASSWORD serve it; else the app asks).
Anyone else on this machine who can reach the port still needs the token: without it
every page and the WebSocket answer 404.
"""

from __future__ import annotations

import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


def command(wallet_name: str | None, index: int, password_file: Path | None, network_name: str | None) -> str:
    args = [sys.executable, "-m", "cli.main", "app", "--index", str(index)]
    for flag, value in (("--wallet", wallet_name), ("--password-file", password_file), ("--network", network_name)):
        if value is not None:
            args += [flag, str(value)]
    return shlex.join(args)


def make_server(cmd: str, port: int, token: str) -> Any:
    from aiohttp import web
    from textual_serve.server import Server

    class TokenServer(Server):
        """textual-serve with its page and WebSocket under /<token>/ (static files stay public)."""

        async def _make_app(self) -> web.Application:
            import aiohttp_jinja2
            import jinja2

            application = web.Application()
            aiohttp_jinja2.setup(application, loader=jinja2.FileSystemLoader(self.templates_path))
            application.add_routes(
                [
                    web.get(f"/{token}/", self.handle_index, name="index"),
                    web.get(f"/{token}/ws", self.handle_websocket, name="websocket"),
                    web.static("/static", self.statics_path, name="static"),
                ]
            )
            application.on_startup.append(self.on_startup)
            return application

        async def on_startup(self, _application: web.Application) -> None:
            self.console.print(f"hongbao app: open {self.public_url}/{token}/ (Ctrl+C stops)", highlight=False)

    return TokenServer(cmd, host=HOST, port=port, title="hongbao")


def serve(port: int, wallet_name: str | None, index: int, password_file: Path | None, network_name: str | None) -> None:
    from wallet import process

    token = secrets.token_urlsafe(18)
    server = make_server(command(wallet_name, index, password_file, network_name), port or process.free_port(), token)
    server.serve()
