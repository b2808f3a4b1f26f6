"""`hongbao trade` subcommands (see cli/trade_cmd.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
