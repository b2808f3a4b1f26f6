"""Solidity sources, compiled artifacts and thin Python bindings (see DESIGN.md, Contracts)."""
