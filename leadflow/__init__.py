"""Leadflow: durable nurture journeys, lead scoring and sales handoff on Temporal."""

__version__ = "0.1.0"
