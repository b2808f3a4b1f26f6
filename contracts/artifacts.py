"""Compiled contract artifacts committed under ``contracts/artifacts/`` (built by ``contracts/build.mjs``).

Reading them needs no compiler::

    from contracts.artifacts import load
    token = load("TestToken")
    token.abi, token.bytecode, token.deployed_bytecode
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["Artifact", "UnknownArtifactError", "available", "load"]

_SUFFIX = ".json"


class UnknownArtifactError(LookupError):
    """No committed artifact has the requested contract name."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI, creation code and runtime code."""

    name: str
    abi: list[dict[str, Any]] = field(repr=False)
    bytecode: bytes = field(repr=False)
    """Creation code (what a deployment transaction carries, before constructor arguments)."""
    deployed_bytecode: bytes = field(repr=False)
    """Runtime code, as ``eth_getCode`` returns it after deployment (immutables aside)."""

    @property
    def constructor_inputs(self) -> list[dict[str, Any]]:
        """The constructor's ABI inputs; empty when the contract declares no constructor."""
        for entry in self.abi:
            if entry.get("type") == "constructor":
                return list(entry.get("inputs", []))
        return []


def _directory() -> Traversable:
    return files(__package__ or "contracts") / "artifacts"


def available() -> list[str]:
    """Names of all committed artifacts, sorted."""
    directory = _directory()
    if not directory.is_dir():
        return []
    return sorted(entry.name[: -len(_SUFFIX)] for entry in directory.iterdir() if entry.name.endswith(_SUFFIX))


def _hex(value: str, what: str) -> bytes:
    if not value.startswith("0x"):
        raise ValueError(f"{what} is not 0x-prefixed hex")
    return bytes.fromhex(value[2:])


def load(name: str) -> Artifact:
    """Load the committed artifact for contract ``name`` (e.g. ``"TestToken"``).

    Raises ``UnknownArtifactError`` (a ``LookupError``) naming the available artifacts when there
    is none by that name.
    """
    names = available()
    if name not in names:
        listing = ", ".join(names) if names else "none (run `node contracts/build.mjs`)"
        raise UnknownArtifactError(f"no contract artifact named {name!r}; available: {listing}")
    resource = _directory() / f"{name}{_SUFFIX}"
    data = json.loads(resource.read_text(encoding="utf-8"))
    if data.get("contractName") != name:
        raise ValueError(f"artifact {resource.name} is for contract {data.get('contractName')!r}, not {name!r}")
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=_hex(data["bytecode"], f"{name} bytecode"),
        deployed_bytecode=_hex(data["deployedBytecode"], f"{name} deployedBytecode"),
    )
