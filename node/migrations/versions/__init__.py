"""Revision scripts, applied in order by node.db.migrate."""
