"""The few things only a front end can do for a workflow: confirm, unlock, report progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Preview:
    """What a person is asked to approve: a title, labelled rows, and warnings that need a second look."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Frontend(Protocol):
    def confirm(self, preview: Preview) -> None:
        """Show the preview and return if the person approves; raise WalletError("not confirmed ...") if not."""

    def password(self, label: str) -> str:
        """A secret from the person (prompt, environment or file, as the front end allows)."""

    def progress(self, text: str) -> None:
        """A step of a long wait, for the person to see."""
