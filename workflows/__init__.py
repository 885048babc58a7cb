"""Temporal workflow code only: deterministic, no I/O, ids (never personal data) in histories.

Kept empty on purpose: the worker's sandbox imports this package for every new workflow
instance. Area modules are listed in :data:`leadflow.cli.wiring.WORKFLOW_MODULES`.
"""
