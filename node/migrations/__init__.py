"""Alembic migrations of the relay database (a package, so that installs ship them)."""
