"""Alembic migrations of the Leadflow database; driven by :mod:`leadflow.migrate`."""
