"""Deployment payloads for committed artifacts, independent of any provider or signer.

``deployment_tx(artifact, *args)`` returns the ``data`` of a contract-creation transaction (no
``to``): the creation code followed by the ABI-encoded constructor arguments. Any signer can send
it, e.g. ``eth_sendTransaction({"from": ..., "data": "0x" + data.hex()})`` on an unlocked dev node,
or a locally signed EIP-1559 transaction.
"""

from __future__ import annotations

from typing import Any

from eth_abi import encode

from contracts.artifacts import Artifact

__all__ = ["abi_type", "constructor_types", "deployment_tx"]


def abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of one ABI ``inputs`` entry, expanding tuples: ``(address,uint256)[]``."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(component) for component in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def constructor_types(artifact: Artifact) -> list[str]:
    """The constructor's argument types, in order (empty if it takes none)."""
    return [abi_type(param) for param in artifact.constructor_inputs]


def deployment_tx(artifact: Artifact, *constructor_args: Any) -> bytes:
    """Creation code of ``artifact`` plus its ABI-encoded constructor arguments.

    Arguments take eth-abi's Python forms: ``int`` for integers, ``str`` (checksummed or all lower-case) or
    20 ``bytes`` for addresses, ``str`` for strings, ``bytes`` for bytes, tuples/lists for
    tuples and arrays. A wrong argument count is a ``TypeError``; a value that does not fit its
    type raises eth-abi's encoding error.
    """
    if not artifact.bytecode:
        raise ValueError(f"{artifact.name} has no creation code (an interface or abstract contract cannot be deployed)")
    types = constructor_types(artifact)
    if len(constructor_args) != len(types):
        signature = ", ".join(f"{abi_type(p)} {p.get('name') or '_'}" for p in artifact.constructor_inputs)
        raise TypeError(
            f"{artifact.name} constructor({signature}) takes {len(types)} argument(s), got {len(constructor_args)}"
        )
    if not types:
        return artifact.bytecode
    return artifact.bytecode + encode(types, list(constructor_args))
