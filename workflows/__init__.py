"""Temporal workflow code only: deterministic, no I/O, ids (never personal data) in histories.

Kept empty on purpose: the worker's sandbox imports this package for every new workflow
instance. The worker lists them in :func:`leadflow.cli.wiring.workflows`.
"""
